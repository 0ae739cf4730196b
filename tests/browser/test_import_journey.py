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


def test_it_imports_a_txt_without_header_and_lets_the_header_be_declared(page, marketer, tmp_path):
    """One number a line: the first is data (detected), shown in the preview and imported; the
    "First row" select reads the file again in place (htmx) when the person says otherwise."""
    from dnc.models import DncEntryAccount

    account, _ = marketer
    path = tmp_path / "numbers.txt"
    path.write_text("+385912345678\n+385912345679\n+385912345680\n", encoding="utf-8")
    page.goto("/imports/new/?kind=dnc")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url("**/map/")
    page.get_by_text("the file has no header row").wait_for()
    assert page.locator("tbody").get_by_text("+385912345678").count() == 1
    assert page.get_by_label("Field for column Column 1").input_value() == "contact"
    shot(page, "10b-import-map-no-header")
    page.get_by_label("First row").select_option("header")
    page.get_by_role("button", name="Read again").click()
    page.get_by_text("The first rows after the header").wait_for()  # swapped in place
    assert page.locator("thead th").first.inner_text() == "+385912345678"
    page.get_by_label("First row").select_option("data")
    page.get_by_role("button", name="Read again").click()
    page.get_by_text("the file has no header row").wait_for()
    page.get_by_role("button", name="Analyze").click()
    page.get_by_role("button", name="Import 3 valid rows").click()
    page.locator("#job").get_by_text("Imported").first.wait_for()
    assert DncEntryAccount.objects.filter(account=account).count() == 3


def test_it_goes_back_to_the_mapping_step_when_the_encoding_breaks_late(page, marketer, tmp_path):
    """UTF-8 for the first 64 KB, Windows-1250 further down: the analysis fails saying so, and
    the job's page leads back to the mapping step, where the encoding is chosen and the file
    analyzed again."""
    account, _ = marketer
    rows = "".join(f"n{i}@example.com,Zagreb\n" for i in range(4000)).encode()
    path = tmp_path / "late.csv"
    path.write_bytes(b"Email,City\n" + rows + "late@example.com,Čakovec\n".encode("cp1250"))
    page.goto("/imports/new/?kind=people")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url("**/map/")
    page.get_by_role("button", name="Analyze").click()
    page.get_by_text("go back to the mapping step and choose its encoding").first.wait_for()
    shot(page, "11b-import-encoding-failed")
    page.get_by_role("link", name="Back to the mapping step").click()
    page.wait_for_url("**/map/")
    page.get_by_label("Encoding").select_option("cp1250")
    page.get_by_role("button", name="Read again").click()
    page.get_by_label("Encoding").and_(page.locator("[name=encoding]")).wait_for()
    page.wait_for_function("!document.querySelector('.alert-warning')")  # the swap is in
    page.get_by_role("button", name="Analyze").click()
    page.get_by_role("button", name="Import 4,001 valid rows").click()
    page.locator("#job").get_by_text("Imported").first.wait_for()
    assert Profile.objects.filter(account=account).count() == 4001


def test_it_refuses_a_file_over_the_limit_with_a_message(page, marketer, tmp_path, settings):
    settings.UPLOAD_MAX_BYTES = 200_000
    path = tmp_path / "big.csv"
    path.write_bytes(b"Email\n" + b"someone@example.com\n" * 200_000)  # 4 MB
    page.goto("/imports/new/?kind=people")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.get_by_text("the limit is 195.3").wait_for()
    shot(page, "10a-import-too-big")
