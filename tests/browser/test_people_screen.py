"""The People screen in a real browser at 1,280 px: the Tags filter used from the keyboard, the
Advanced filter folding after Apply, hidden columns, and a long unbroken name wrapping."""

from __future__ import annotations

import json

from django.core.cache import cache

from audience import services
from tags import services as tag_services
from tests.browser.conftest import shot
from tests.browser.test_accessibility import violations

LONG = "Maximilianaugustusbartholomewvonundzuhohenzollernsigmaringenwolfensteinhausen"


def _people(account):
    ana = services.profile_create(
        account=account,
        fields={
            "first_name": "Ana",
            "last_name": "Horvat",
            "city": "Zagreb",
            "country": "Croatia",
            "address": "Ilica 1",
        },
        emails=["ana.horvat.with.a.long.address@marketing.example.com"],
        phones=["+385 91 234 5678"],
    )
    services.profile_create(
        account=account,
        fields={"first_name": LONG, "last_name": "Smith", "city": "London", "country": "United Kingdom"},
        emails=[f"{LONG.lower()}@example.com"],
    )
    vip = tag_services.tag_create(account=account, name="VIP")
    for name in ["Newsletter", "Fair 2026", "Webinar", "Churn risk"]:
        tag_services.tag_create(account=account, name=name)
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[ana.pk])
    cache.clear()


def _fits(page) -> bool:
    return page.evaluate(
        "() => { const t = document.querySelector('.table-people').closest('.table-responsive');"
        " return t.scrollWidth <= t.clientWidth + 1 && document.documentElement.scrollWidth <= 1280; }"
    )


def test_the_people_table_fits_1280_and_filters_by_tag_from_the_keyboard(page, marketer):
    account, _ = marketer
    _people(account)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto("/people/")
    page.wait_for_selector("[data-count='2']")
    assert _fits(page), "the People table scrolls sideways at 1,280 px"
    # The long name wraps inside its cell.
    name_cell = page.locator(f"td:has(a:text('{LONG} Smith'))")
    assert name_cell.bounding_box()["width"] < 500 and name_cell.bounding_box()["height"] > 40
    shot(page, "01b-people-1280")
    assert name_cell.bounding_box()["x"] + name_cell.bounding_box()["width"] <= 1280

    # Tags: open the list with the keyboard, search, tick with Space.
    page.locator("[data-tag-summary]").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    page.keyboard.type("vi")
    assert page.locator("[data-tag-option]:visible").count() == 1
    page.keyboard.press("Tab")
    page.keyboard.press("Space")
    page.wait_for_selector("[data-count='1']")
    assert page.locator("[data-tag-summary]").inner_text() == "VIP"
    shot(page, "02b-people-tag-filter")
    assert violations(page) == []  # the open tag list
    page.keyboard.press("Escape")
    assert page.evaluate("document.activeElement.matches('[data-tag-summary]')")
    assert page.locator("table tbody tr").count() == 1


def test_columns_can_be_hidden_and_stay_hidden(page, marketer):
    account, _ = marketer
    _people(account)
    page.goto("/people/")
    page.wait_for_selector("[data-count='2']")
    page.locator("#columns-picker summary").focus()
    page.keyboard.press("Enter")
    page.locator("#show-city").focus()
    page.keyboard.press("Space")
    page.wait_for_function("() => !document.querySelector('.table-people').innerText.includes('Zagreb')")
    assert page.evaluate("document.activeElement.id") == "show-city"  # the menu came back open
    page.keyboard.press("Tab")  # Country
    page.keyboard.press("Tab")  # Created
    page.keyboard.press("Tab")  # Company
    page.keyboard.press("Space")
    page.wait_for_function(
        "() => ![...document.querySelectorAll('.table-people th')].some(th => th.innerText.trim() === 'Company')"
    )
    assert violations(page) == []  # the open columns menu
    page.reload()
    page.wait_for_selector("[data-count='2']")
    headers = [h.strip() for h in page.locator(".table-people thead th").all_inner_texts()]
    assert "City" not in headers and "Company" not in headers and "Country" in headers


def test_the_advanced_filter_folds_to_a_summary_after_apply(page, marketer):
    account, _ = marketer
    _people(account)
    rule = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "city", "operator": "is", "value": "Zagreb"}],
        },
    }
    page.goto("/people/?rule=" + json.dumps(rule))
    summary = page.locator("[data-testid=advanced-summary]")
    summary.wait_for()
    assert summary.inner_text() == "City is Zagreb"
    assert not page.locator("#people-advanced-filter details").evaluate("d => d.open")
    shot(page, "02c-people-advanced-folded")
    assert violations(page) == []
    page.locator("#adv-title").click()
    assert page.locator("#people-advanced-filter details").evaluate("d => d.open")
