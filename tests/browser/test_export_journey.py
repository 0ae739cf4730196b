from __future__ import annotations

import csv
import io
from pathlib import Path

from django.core.cache import cache

from audience import services
from tests.browser.conftest import shot


def test_it_exports_the_selected_people_to_csv_and_downloads_it(page, marketer):
    account, _ = marketer
    services.profile_create(account=account, fields={"first_name": "Ana", "last_name": "=HYPERLINK(1)"})
    services.profile_create(account=account, fields={"first_name": "Ben", "last_name": "Smith"})
    cache.clear()
    page.goto("/people/")
    page.wait_for_selector("[data-count='2']")
    page.get_by_label("Select all 2 matching the filter").check()
    page.get_by_role("button", name="Export").click()
    link = page.get_by_role("link", name="Download")
    link.wait_for()
    shot(page, "15-export-ready")
    with page.expect_download() as download_info:
        link.click()
    text = Path(download_info.value.path()).read_text(encoding="utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    names = {cell for row in rows for cell in row}
    assert "Smith" in names
    assert "'=HYPERLINK(1)" in names  # a spreadsheet won't run it
