from __future__ import annotations

from audience import services
from segments.models import Segment
from tests.browser.conftest import shot


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
