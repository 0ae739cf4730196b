from __future__ import annotations

import json
import tempfile
from pathlib import Path
from urllib.parse import urlencode

from audience import services
from segments import selectors
from segments import services as segment_services
from segments.models import Segment
from tests.browser.conftest import shot

# Screens looked at while fixing, not the docs' screenshots.
SHOTS_TMP = Path(tempfile.gettempdir())


def test_it_builds_a_segment_watching_the_live_count_and_saves_it(page, marketer):
    account, _ = marketer
    for first, city in [("Ana", "London"), ("Ben", "London"), ("Cleo", "Paris")]:
        services.profile_create(account=account, fields={"first_name": first, "city": city})
    page.goto("/segments/new/")
    count = page.locator("#rule-count")
    count.get_by_text("3 people match").wait_for()
    page.get_by_role("button", name="+ Condition").first.click()
    page.get_by_label("Value").first.fill("London")
    count.get_by_text("2 people match").wait_for()
    shot(page, "04-segment-editor")
    page.get_by_label("Value").first.fill("Paris")
    count.get_by_text("1 person matches").wait_for()
    page.fill("#segment-name", "Parisians")
    page.get_by_role("button", name="Create segment").click()
    page.wait_for_url("**/segments/*/")
    segment = Segment.objects.get(account=account, name="Parisians")
    assert segment.rule["attributes"]["conditions"][0] == {
        "attribute": "city",
        "operator": "is",
        "value": "Paris",
    }
    shot(page, "05-segment-saved")


def test_it_saves_as_segment_the_people_the_summary_card_counted(page, marketer):
    """The quick filters change in place (htmx); "Apply filter" and "Save as segment" in the
    advanced filter must carry the ones on screen, and the segment must hold them."""
    account, _ = marketer
    for first, gender, city, type_ in [
        ("Ann", "female", "London", "customer"),
        ("Bea", "female", "London", "lead"),
        ("Cid", "male", "London", "customer"),
        ("Dee", "female", "Paris", "customer"),
        ("Eva", "female", "Berlin", "customer"),
        ("Fil", "male", "Paris", "lead"),
    ]:
        services.profile_create(
            account=account, fields={"first_name": first, "gender": gender, "city": city, "type": type_}
        )
    page.goto("/people/")
    page.wait_for_selector("[data-count='6']")
    page.get_by_label("Gender").select_option("female")
    page.wait_for_selector("[data-count='4']")
    page.get_by_text("Advanced filter").click()
    page.get_by_label("People who match").first.select_option("any")
    page.get_by_role("button", name="+ Condition").first.click()
    page.get_by_label("Value").nth(0).fill("London")
    page.get_by_role("button", name="+ Condition").first.click()
    page.get_by_label("Value").nth(1).fill("Paris")
    page.get_by_role("button", name="Apply filter", exact=True).click()
    page.wait_for_url("**/people/?*gender=female*")
    page.wait_for_selector("[data-count='3']")  # female AND (London OR Paris)
    page.get_by_role("search", name="Filter people").get_by_label("Type").select_option("customer")
    page.wait_for_selector("[data-count='2']")
    counted = page.locator("[data-count]").get_attribute("data-count")
    page.locator("#adv-title").click()  # applied, the advanced filter is folded to its summary
    page.get_by_role("button", name="Save as segment").click()
    page.wait_for_url("**/segments/new/**")
    page.locator("#rule-count").get_by_text(f"{counted} people match").wait_for()
    page.fill("#segment-name", "London or Paris women customers")
    page.get_by_role("button", name="Create segment").click()
    page.wait_for_url("**/segments/*/")
    page.get_by_text(f"{counted} people match").wait_for()
    segment = Segment.objects.get(account=account, name="London or Paris women customers")
    names = set(selectors.segment_profiles(segment=segment).values_list("first_name", flat=True))
    assert names == {"Ann", "Dee"}


def test_it_wraps_a_long_unbroken_segment_name(page, marketer):
    account, user = marketer
    name = "Customers" + "X" * 91
    segment_services.segment_create(account=account, user=user, name=name, rule={"version": 1})

    def overflows(selector: str) -> bool:
        return page.eval_on_selector(selector, "e => e.scrollWidth > e.clientWidth + 1")

    page.goto("/segments/")
    page.get_by_role("link", name=name).wait_for()
    assert not overflows("#segment-results .table-responsive")
    assert not overflows("html")
    page.get_by_role("link", name=name).click()
    page.wait_for_url("**/segments/*/")
    assert not overflows("html") and not overflows("h1")


def test_it_shows_a_new_conditions_error_only_after_the_person_typed(page, marketer):
    account, _ = marketer
    services.profile_create(account=account, fields={"first_name": "Ana", "city": "London"})
    page.goto("/segments/new/")
    count = page.locator("#rule-count")
    count.get_by_text("1 person matches").wait_for()
    page.get_by_role("button", name="+ Condition").first.click()
    count.get_by_text("Fill in the new condition to see the count.").wait_for()
    assert page.locator(".rule-error").count() == 0
    assert not count.locator("[data-rule-errors]").is_visible()
    assert "expected" not in page.content()
    value = page.get_by_label("Value").first
    value.fill("x")
    value.fill("")
    error = page.locator(".rule-error", has_text="Enter a city, or choose “is empty”.")
    error.wait_for()
    count.get_by_text("Condition 1: Enter a city, or choose “is empty”.").wait_for()
    page.screenshot(path=str(SHOTS_TMP / "segment-editor-error.png"))
    value.fill("London")
    count.get_by_text("1 person matches").wait_for()
    assert page.locator(".rule-error").count() == 0


def test_it_disables_adding_a_condition_at_the_limit(page, marketer):
    conditions = [{"attribute": "city", "operator": "is_not", "value": f"C{i}"} for i in range(25)]
    rule = {"version": 1, "attributes": {"match": "all", "conditions": conditions}}
    page.goto("/segments/new/?" + urlencode({"rule": json.dumps(rule)}))
    add = page.get_by_role("button", name="+ Condition").first
    page.get_by_text("A segment holds at most 25 conditions. Remove one to add another.").wait_for()
    assert add.is_disabled()
    assert page.get_by_role("button", name="+ Group").first.is_disabled()
    page.get_by_role("button", name="Remove").first.click()
    assert add.is_enabled()
    add.click()
    assert page.get_by_role("button", name="+ Condition").first.is_disabled()
