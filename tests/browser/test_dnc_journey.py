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


def test_it_removes_a_wrong_import_from_the_screen(page, marketer):
    from dnc import services
    from dnc.models import Source

    account, _ = marketer
    services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": f"+3859123456{n:02d}"} for n in range(12)],
        source=Source.IMPORT,
    )
    services.dnc_entries_add(accounts=[account], entries=[{"contact": "+385919999999"}], source=Source.MO)
    page.goto("/configuration/do-not-contact/?source=IMPORT")
    page.wait_for_load_state("networkidle")
    assert "12 entries match the filters" in page.get_by_test_id("dnc-total").inner_text()
    shot(page, "07b-dnc-filtered-total")
    page.get_by_test_id("dnc-remove-all").click()
    page.locator("#confirm-modal-ok").click()
    page.get_by_test_id("job-status").filter(has_text="Done").wait_for()
    shot(page, "07c-dnc-removed-all")
    assert list(DncEntryAccount.objects.filter(account=account).values_list("value", flat=True)) == [
        "+385919999999"
    ]


def test_it_asks_for_channel_and_sender_before_people_go_on_the_list(page, marketer):
    from audience.models import Contact, Profile

    account, _ = marketer
    person = Profile.objects.create(account=account, first_name="Ana")
    Contact.objects.create(account=account, profile=person, kind="phone", value="+385912345678")
    Contact.objects.create(account=account, profile=person, kind="email", value="ana@example.org")
    page.goto("/people/")
    page.wait_for_load_state("networkidle")
    page.get_by_label("Select Ana").check()
    page.get_by_role("button", name="Add to Do Not Contact").click()
    form = page.get_by_test_id("dnc-bulk-add")
    form.wait_for()
    assert "1 person" in form.inner_text() and not DncEntryAccount.objects.exists()
    form.get_by_label("Channel").select_option("SMS")
    shot(page, "07d-dnc-bulk-add-asks")
    form.get_by_role("button", name="Add to Do Not Contact").click()
    page.wait_for_url("**/people/**")
    assert list(DncEntryAccount.objects.values_list("value", "channel")) == [("+385912345678", "SMS")]
