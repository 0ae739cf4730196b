"""The People list's filters and columns through the real URLs: the Tags filter is a searchable
list of labelled checkboxes, the Advanced filter folds to one line once applied, and a person's
hidden columns stay hidden (in their session)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from audience import services
from tags import services as tag_services

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(account):
    ana = services.profile_create(account=account, fields={"first_name": "Ana", "city": "London"})
    ben = services.profile_create(account=account, fields={"first_name": "Ben", "city": "Paris"})
    vip = tag_services.tag_create(account=account, name="VIP")
    tag_services.tag_create(account=account, name="Newsletter")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[ana.pk])
    return ana, ben


def test_the_tags_filter_is_a_searchable_checkbox_list(owner_client, people):
    html = owner_client.get(reverse("audience:people"), {"tag": ["VIP"]}).content.decode()
    assert '<label class="visually-hidden" for="tag-search">Search tags</label>' in html
    boxes = re.findall(
        r'<input class="form-check-input" type="checkbox" name="tag" value="([^"]+)"[^>]*?( checked)?>', html
    )
    assert boxes == [("Newsletter", ""), ("VIP", " checked")]
    assert re.search(r'for="tag-option-\d+">VIP</label>', html)
    assert "<select" not in html.split("data-tag-picker")[1].split("</fieldset>")[0]
    assert ">VIP</summary>" in html  # the folded list names what is chosen
    assert "Ana" in html and "Ben" not in html


def test_the_advanced_filter_folds_to_one_line_once_applied(owner_client, people):
    rule = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "city", "operator": "is", "value": "London"}],
        },
        "events": [
            {
                "event": "App Launch",
                "performed": False,
                "occurrence": {"operator": "gte", "count": 1},
                "time": {"operator": "within_last", "amount": 30, "unit": "days"},
            }
        ],
    }
    html = owner_client.get(
        reverse("segments:people_advanced_filter"), {"rule": json.dumps(rule)}
    ).content.decode()
    assert "<details >" in html or "<details>" in html  # folded, not open
    summary = re.search(r'data-testid="advanced-summary">([^<]+)<', html).group(1)
    assert summary == "City is London; did not open the app in the last 30 days"
    assert ">Edit<" in html
    fresh = owner_client.get(reverse("segments:people_advanced_filter")).content.decode()
    assert "advanced-summary" not in fresh


def test_hidden_columns_stay_hidden_for_that_person(owner_client, teammate_client, people):
    response = owner_client.post(
        reverse("audience:people_columns"),
        {"show": ["contacts", "type", "created", "tags"], "query": "q=Ana"},
    )
    assert response.status_code == 302 and response["Location"] == reverse("audience:people") + "?q=Ana"
    html = owner_client.get(reverse("audience:people")).content.decode()
    headers = re.findall(r'<th scope="col"[^>]*>\s*(?:<a[^>]*>)?\s*([A-Z][a-z]+)', html)
    assert headers == ["Name", "Contacts", "Type", "Created", "Tags"]
    assert '<input class="form-check-input" type="checkbox" name="show" value="city" id="show-city">' in html
    assert "London" not in html  # the City column is hidden
    # another person's list is their own
    other = teammate_client.get(reverse("audience:people")).content.decode()
    assert "London" in other and ">Company</th>" in other
