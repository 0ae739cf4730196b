"""A flow built in the browser: steps added one kind at a time (only that kind's fields show), a
refused step shows its error at the field, a wait step's mode is changed by keyboard, the flow is
activated, and the page shows per step how many people wait there and have passed once the
scheduler ran; no WCAG 2.1 A/AA violation on the way (axe-core, as test_accessibility.py)."""

from __future__ import annotations

from audience import services
from communications import flows
from communications import services as sending
from communications.models import FlowRun, FlowStatus, RunState
from tags import services as tag_services
from tests.browser.conftest import shot
from tests.browser.test_accessibility import violations


def test_it_builds_a_flow_activates_it_and_shows_the_counts(page, marketer):
    account, user = marketer
    vip = tag_services.tag_get_or_create(account=account, name="VIP")
    tag_services.tag_get_or_create(account=account, name="Welcomed")
    people = [
        services.profile_create(account=account, fields={"first_name": name}, phones=[phone])
        for name, phone in (("Ana", "+385912345678"), ("Ben", "+447911123456"))
    ]
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[p.pk for p in people])
    flow = sending.flow_create(
        account=account, user=user, name="VIP welcome", audience=sending.AudienceSpec(tag_ids=[vip.pk])
    )
    page.goto(flow.get_absolute_url())
    add = page.locator("#step-add")

    # Send: its fields only.
    add.get_by_label("Kind of step").select_option("send")
    page.wait_for_load_state("networkidle")  # the kind's fields are swapped in before they are filled
    add.get_by_label("Channel", exact=True).select_option("SMS")
    add.get_by_label("Message", exact=True).fill("Welcome, {{ first_name }}! Reply YES for our VIP news.")
    assert add.get_by_label("Wait for", exact=True).count() == 0
    add.get_by_role("button", name="Add step").click()
    page.get_by_text("Step “Send a message” added.").wait_for()

    # Wait: the kind's swap brings the mode, then a wrong amount is refused at its field.
    add.get_by_label("Kind of step").select_option("wait")
    page.wait_for_load_state("networkidle")  # the kind's fields are swapped in before they are filled
    add.get_by_label("Wait", exact=True).wait_for()
    assert add.get_by_label("Channel", exact=True).count() == 0
    add.get_by_label("Wait for", exact=True).fill("soon")
    add.get_by_label("Unit", exact=True).select_option("days")
    add.get_by_role("button", name="Add step").click()
    page.locator("#new-amount-error").wait_for()
    assert page.locator("#new-amount-error").inner_text() == "Give the wait as a whole number."
    shot(page, "21-flow-step-refused")
    assert violations(page) == []  # the error is tied to its field, the labels to theirs
    add.get_by_label("Wait for", exact=True).fill("2")
    add.get_by_role("button", name="Add step").click()
    page.get_by_text("Step “Wait” added.").wait_for()

    add.get_by_label("Kind of step").select_option("add_tag")
    page.wait_for_load_state("networkidle")  # the kind's fields are swapped in before they are filled
    add.get_by_label("Tag", exact=True).select_option(label="Welcomed")
    shot(page, "22-flow-steps")
    add.get_by_role("button", name="Add step").click()
    page.get_by_text("Step “Add tag” added.").wait_for()

    # The wait changes how it waits, by keyboard alone: the mode's fields are swapped in.
    wait = flow.steps.get(kind="wait")
    page.locator(f"#step-{wait.pk} summary").focus()
    page.keyboard.press("Enter")  # opens "Edit step 2"
    mode = page.locator(f"[id='{wait.pk}-mode']")  # (an id that starts with a digit)
    mode.focus()
    page.keyboard.press("ArrowDown")  # "Until a time of day": the change swaps its fields in
    page.locator(f"[id='{wait.pk}-time']").wait_for()
    assert page.locator(f"[id='{wait.pk}-amount']").count() == 0
    assert page.evaluate("document.activeElement.id") == f"{wait.pk}-mode"  # focus stays on the choice
    page.keyboard.press("Tab")
    page.keyboard.type("09:30")
    page.keyboard.press("Enter")
    page.get_by_text("Step 2 saved.").wait_for()
    assert "until 09:30" in page.locator(f"#step-{wait.pk}").inner_text()
    assert violations(page) == []

    page.get_by_role("button", name="Activate").click()
    page.get_by_text("“VIP welcome” is now active.").wait_for()
    flow.refresh_from_db()
    assert flow.status == FlowStatus.ACTIVE
    assert FlowRun.objects.filter(flow=flow, state=RunState.WAITING).count() == 2
    flows.flow_runs_due()  # the beat task's pass: both are sent the message and wait two days
    page.reload()
    steps = page.locator("#steps li")
    assert steps.nth(0).inner_text().count("2 passed") == 1
    assert "2 waiting" in steps.nth(1).inner_text()
    assert "0 waiting" in steps.nth(2).inner_text()
    page.locator("#steps").scroll_into_view_if_needed()
    shot(page, "23-flow-active")
    assert violations(page) == []
