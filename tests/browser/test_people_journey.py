from __future__ import annotations

from django.core.cache import cache

from audience import services
from tests.browser.conftest import shot


def test_it_filters_people_and_opens_a_profile(page, marketer):
    account, _ = marketer
    services.profile_create(
        account=account,
        fields={"first_name": "Ana", "last_name": "Horvat", "city": "Zagreb", "country": "Croatia"},
        phones=["+385 91 234 5678"],
    )
    services.profile_create(
        account=account,
        fields={"first_name": "Ben", "last_name": "Smith", "city": "London", "country": "United Kingdom"},
        emails=["ben@example.com"],
    )
    cache.clear()  # the sign-in landed on People and cached its count before these profiles existed
    page.goto("/people/")
    page.wait_for_selector("[data-count='2']")
    shot(page, "01-people")
    page.fill("#id_q", "Hor")
    page.wait_for_selector("[data-count='1']")
    assert page.locator("table tbody tr").count() == 1
    shot(page, "02-people-filtered")
    page.click("text=Ana Horvat")
    page.wait_for_url("**/people/*/")
    assert page.locator("text=+385912345678").count() >= 1
    shot(page, "03-profile")


def test_it_applies_the_city_filter_while_typing(page, marketer):
    account, _ = marketer
    services.profile_create(
        account=account, fields={"first_name": "Ana", "last_name": "Horvat", "city": "Zagreb"}
    )
    services.profile_create(
        account=account, fields={"first_name": "Ben", "last_name": "Smith", "city": "London"}
    )
    cache.clear()
    page.goto("/people/")
    page.wait_for_selector("[data-count='2']")
    # Typed, never left: the field keeps focus, and the list follows after a short pause.
    page.locator("#id_city").press_sequentially("Zagreb")
    page.wait_for_selector("[data-count='1']")
    assert page.evaluate("document.activeElement.id") == "id_city"
    assert page.locator("table tbody tr").count() == 1
