from __future__ import annotations

from django.core.cache import cache

from audience import services
from communications.models import Broadcast
from dnc import services as dnc_services
from tests.browser.conftest import shot


def test_it_sends_a_broadcast_to_a_selection_dropping_do_not_contact(page, marketer):
    account, user = marketer
    services.profile_create(
        account=account, fields={"first_name": "Ana", "last_name": "Horvat"}, phones=["+385912345678"]
    )
    services.profile_create(
        account=account, fields={"first_name": "Ben", "last_name": "Smith"}, phones=["+447911123456"]
    )
    services.profile_create(
        account=account, fields={"first_name": "Cleo", "last_name": "Dubois"}, emails=["c@example.com"]
    )
    dnc_services.dnc_entry_add(accounts=[account], contact="00385 91 234 5678", channel="SMS", added_by=user)
    cache.clear()
    page.goto("/people/")
    page.wait_for_selector("[data-count='3']")
    page.get_by_label("Select all 3 matching the filter").check()
    page.get_by_role("button", name="Add to communication").click()
    page.select_option("#choose-channel", "SMS")
    page.get_by_role("button", name="Create broadcast").click()
    page.get_by_label("Broadcast name").fill("Spring sale")
    page.get_by_label("Message").fill("20% off this weekend")
    shot(page, "13-broadcast-form")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Send now").click()
    page.locator("#confirm-modal-ok").click()  # the confirmation dialog
    counters = page.get_by_test_id("broadcast-counters")
    counters.wait_for()
    page.wait_for_function(
        "document.querySelector('[data-testid=broadcast-counters]').innerText.includes('Blocked')"
    )
    shot(page, "14-broadcast-sent")
    broadcast = Broadcast.objects.get(account=account, name="Spring sale")
    assert (broadcast.sent, broadcast.blocked_dnc, broadcast.no_destination) == (1, 1, 1)
