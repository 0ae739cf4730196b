from __future__ import annotations

from dnc.models import DncEntryAccount
from tests.browser.conftest import shot


def test_it_adds_a_do_not_contact_entry_refusing_a_national_number_first(page, marketer):
    account, _ = marketer
    page.goto("/configuration/do-not-contact/")
    page.wait_for_load_state("networkidle")  # htmx is loaded (deferred) before the click
    page.get_by_test_id("dnc-add-new").click()
    row = page.get_by_test_id("dnc-new-row")
    row.locator("input[name=new-contact]").fill("01234 567890")
    row.get_by_role("button", name="Save").click()
    error = page.locator("#dnc-contact-error")
    error.wait_for()
    assert "international format" in error.inner_text()
    assert "+44 7911 123456" in error.inner_text()
    shot(page, "06-dnc-refused")
    assert not DncEntryAccount.objects.exists()
    page.get_by_test_id("dnc-new-row").locator("input[name=new-contact]").fill("+385 91 234 5678")
    page.get_by_test_id("dnc-new-row").get_by_role("button", name="Save").click()
    page.get_by_role("cell", name="+385912345678", exact=True).wait_for()
    shot(page, "07-dnc-added")
    assert DncEntryAccount.objects.get(account=account).value == "+385912345678"
