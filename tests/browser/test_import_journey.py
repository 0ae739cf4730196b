from __future__ import annotations

from audience.models import Profile
from tests.browser.conftest import shot

CSV = (
    "First name;Last name;Phone;Email;City\n"
    "Ana;Horvat;+385 91 234 5678;ana@example.com;Zagreb\n"
    "Ben;Smith;00447911123456;ben@example.com;London\n"
    "Cleo;Dubois;01234 567890;cleo@example.com;Paris\n"
)


def test_it_imports_a_csv_through_mapping_analysis_and_import(page, marketer, tmp_path):
    account, _ = marketer
    path = tmp_path / "contacts.csv"
    path.write_text(CSV, encoding="utf-8-sig")  # with a BOM, as Excel writes it
    page.goto("/imports/new/?kind=people")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url("**/map/")
    page.get_by_text("Horvat").first.wait_for()  # the preview shows the rows; the semicolons were detected
    shot(page, "10-import-map")
    page.get_by_role("button", name="Analyze").click()
    page.get_by_text("Analyzed, not imported").wait_for()
    shot(page, "11-import-analysis")
    page.get_by_role("button", name="Import 2 valid rows").click()
    page.locator("#job").get_by_text("Imported").first.wait_for()
    assert page.locator("#job-progress").get_attribute("value") == "100"  # the bar ends full
    shot(page, "12-import-report")
    assert set(Profile.objects.filter(account=account).values_list("last_name", flat=True)) == {
        "Horvat",
        "Smith",
    }
    report = page.locator("#report-title").locator("..").inner_text()
    assert "2" in report and "created" in report
