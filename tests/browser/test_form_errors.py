"""htmx forms show their validation errors: htmx 2 swaps no 4xx answer, so a refusal answered
with 400 left the screen as it was, as if nothing had happened."""

from __future__ import annotations

from audience import services
from tags.models import Tag


def _refuse_a_blank_tag(page, panel_id: str) -> None:
    panel = page.locator(f"#{panel_id}")
    panel.get_by_label("Add a tag").fill("   ")
    panel.get_by_role("button", name="Add").click()
    error = page.locator(f"#{panel_id}-errors")
    error.wait_for()
    assert "Enter a tag name" in error.inner_text()
    assert "is-invalid" in (page.locator(f"#{panel_id}-name").get_attribute("class") or "")


def test_it_shows_the_tag_panels_refusal_on_a_profile_and_a_company(page, marketer):
    account, _ = marketer
    company = services.company_create(account=account, fields={"name": "Acme Ltd"})
    ana = services.profile_create(account=account, fields={"first_name": "Ana", "company": company})
    page.goto(f"/people/{ana.pk}/")
    _refuse_a_blank_tag(page, "tags-profile-panel")
    page.goto(f"/companies/{company.pk}/")
    _refuse_a_blank_tag(page, "tags-company-panel")
    # The panel still works after the refusal.
    page.locator("#tags-company-panel").get_by_label("Add a tag").fill("Partner")
    page.locator("#tags-company-panel").get_by_role("button", name="Add").click()
    page.locator("#tags-company-panel").get_by_text("Partner").wait_for()
    assert Tag.objects.filter(account=account, name="Partner").exists()
    assert not Tag.objects.filter(account=account, name="").exists()


def test_it_shows_the_import_reading_forms_refusal(page, marketer, tmp_path):
    path = tmp_path / "contacts.csv"
    path.write_text("First name;Phone\nAna;+385 91 234 5678\n", encoding="utf-8")
    page.goto("/imports/new/?kind=people")
    page.set_input_files("input[type=file]", str(path))
    page.get_by_role("button", name="Upload and preview").click()
    page.wait_for_url("**/map/")
    page.get_by_label("Skip rows").fill("20000")
    page.get_by_role("button", name="Read again").click()
    page.locator("#mapping .invalid-feedback").wait_for()
    assert "10000" in page.locator("#mapping .invalid-feedback").inner_text()
    assert "is-invalid" in (page.get_by_label("Skip rows").get_attribute("class") or "")
