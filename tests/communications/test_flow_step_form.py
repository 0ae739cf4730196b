"""The "Add a step" form through the real URLs: only the chosen kind's fields (htmx swaps them on
a change of kind, the page's `?kind=` does without JavaScript), and a refused step comes back with
its values and the error next to its field (the partial for htmx, the whole page otherwise)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audience.selection import Selection
from communications import flows, services
from communications.models import StepKind
from tests.communications.conftest import make_profile


@pytest.fixture
def flow(account):
    ana = make_profile(account, "Ana")
    return services.flow_create(
        account=account,
        user=None,
        name="Welcome",
        audience=services.AudienceSpec(selections=[Selection(ids=[ana.pk])]),
    )


def fields_url(flow):
    return reverse("communications:flow_step_fields", args=[flow.pk])


def names(html: str) -> set[str]:
    import re

    return set(re.findall(r'name="([a-z_]+)"', html)) - {"csrfmiddlewaretoken"}


def test_each_kind_shows_only_its_fields(owner_client, flow):
    expected = {
        "send": {
            "kind",
            "channel",
            "sender",
            "subject",
            "text",
            "html",
            "wa_template",
            "wa_language",
            "wa_placeholders",
        },
        "wait_reply": {"kind", "amount", "unit"},
        "branch": {"kind", "reply_contains", "rule", "then", "else"},
        "add_tag": {"kind", "tag"},
        "add_dnc": {"kind", "channel", "sender"},
        "exit": {"kind"},
    }
    for kind, fields in expected.items():
        response = owner_client.get(fields_url(flow), {"kind": kind}, HTTP_HX_REQUEST="true")
        assert response.status_code == 200
        assert "<html" not in response.text  # the partial only
        assert names(response.text) == fields, kind
    wait = {
        "duration": {"kind", "mode", "amount", "unit"},
        "time_of_day": {"kind", "mode", "time"},
        "date_attribute": {"kind", "mode", "attribute", "offset_days", "time"},
    }
    for mode, fields in wait.items():
        response = owner_client.get(fields_url(flow), {"kind": "wait", "mode": mode}, HTTP_HX_REQUEST="true")
        assert names(response.text) == fields, mode


def test_without_javascript_the_page_takes_the_kind_from_the_query(owner_client, flow):
    page = owner_client.get(flow.get_absolute_url(), {"kind": "wait", "mode": "time_of_day"})
    assert page.status_code == 200
    add = page.text[page.text.index('id="step-add"') :]
    assert 'name="time"' in add and 'name="amount"' not in add and 'name="channel"' not in add
    assert "Show its fields" in add  # the <noscript> button that reloads with the choice
    assert 'value="wait" selected' in add or '<option value="wait" selected>' in add


def test_a_refused_step_comes_back_with_the_error_at_its_field(owner_client, flow):
    url = reverse("communications:flow_step_add", args=[flow.pk])
    data = {"kind": "wait", "mode": "duration", "amount": "soon", "unit": "days"}
    partial = owner_client.post(url, data, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200 and "<html" not in partial.text
    assert 'class="form-control form-control-sm is-invalid" id="new-amount"' in partial.text
    assert 'id="new-amount-error">Give the wait as a whole number.<' in partial.text
    assert 'value="soon"' in partial.text
    page = owner_client.post(url, {"kind": "send", "channel": "SMS", "text": ""})
    assert page.status_code == 400 and "<html" in page.text
    assert 'id="new-text-error">Write the message.<' in page.text
    assert '<option value="SMS" selected>' in page.text
    assert not flow.steps.exists()


def test_an_added_step_redirects_htmx_to_the_page(owner_client, flow):
    url = reverse("communications:flow_step_add", args=[flow.pk])
    response = owner_client.post(url, {"kind": "exit"}, HTTP_HX_REQUEST="true")
    step = flow.steps.get()
    assert step.kind == StepKind.EXIT and response.status_code == 204
    assert response["HX-Redirect"] == f"{flow.get_absolute_url()}?at={step.pk}#step-{step.pk}"


def test_a_refused_edit_shows_the_error_in_that_steps_form(owner_client, flow):
    step = flows.flow_step_add(flow=flow, kind=StepKind.WAIT_REPLY, config={"amount": 2, "unit": "days"})
    url = reverse("communications:flow_step_edit", args=[flow.pk, step.pk])
    partial = owner_client.post(url, {"amount": "0", "unit": "days"}, HTTP_HX_REQUEST="true")
    assert partial.status_code == 200
    assert f'id="{step.pk}-amount-error">A wait lasts at least 1 day.<' in partial.text
    assert '<details class="mt-2" open>' in partial.text
    step.refresh_from_db()
    assert step.config == {"amount": 2, "unit": "days"}
    page = owner_client.get(flow.get_absolute_url())
    assert f'id="{step.pk}-amount" name="amount" inputmode="numeric" required value="2"' in page.text
