"""Every screen the navigation reaches, and the main dialogs, have no WCAG 2.1 A/AA violation.

axe-core (shipped inside axe-playwright-python, so no network) scans each page as a person sees it,
after htmx has filled its fragments. A failure prints each violation with the elements it found, so
the fix can start from the message.
"""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.core.cache import cache

from audience import services
from segments import services as segment_services
from tags import services as tag_services

WCAG = {
    "runOnly": {"type": "tag", "values": ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]},
    "resultTypes": ["violations"],
}
AXE = Axe()


def violations(page) -> list[str]:
    results = AXE.run(page, options=WCAG)
    found = []
    for violation in results.response["violations"]:
        for node in violation["nodes"]:
            found.append(
                f"{page.url} {violation['id']} ({violation['impact']}): {node['target']} {node.get('failureSummary', '')}"
            )
    return found


@pytest.fixture
def seeded(marketer):
    account, _ = marketer
    ana = services.profile_create(
        account=account,
        fields={"first_name": "Ana", "last_name": "Horvat", "city": "Zagreb", "country": "Croatia"},
        phones=["+385 91 234 5678"],
        emails=["ana@example.com"],
    )
    tag = tag_services.tag_create(account=account, name="Spring promo")
    tag_services.tags_add(account=account, tags=[tag], profile_ids=[ana.pk])
    segment = segment_services.segment_create(
        account=account,
        name="Zagreb",
        rule={
            "version": 1,
            "attributes": {
                "match": "all",
                "conditions": [{"attribute": "city", "operator": "is", "value": "Zagreb"}],
            },
        },
    )
    company = services.company_create(account=account, fields={"name": "Acme d.o.o."})
    services.notification_create(
        account=account, user=marketer[1], message="Import finished", url="/imports/"
    )
    cache.clear()
    return {"profile": ana, "segment": segment, "company": company}


PAGES = [
    "/people/",
    "/people/{profile}/",
    "/people/new/",
    "/people/{profile}/edit/",
    "/companies/",
    "/companies/new/",
    "/companies/{company}/",
    "/segments/",
    "/segments/new/",
    "/segments/{segment}/",
    "/segments/{segment}/edit/",
    "/tags/",
    "/tags/stats/",
    "/communications/",
    "/imports/",
    "/imports/new/",
    "/imports/exports/",
    "/configuration/do-not-contact/",
    "/configuration/do-not-contact/audit/",
    "/configuration/",
    "/configuration/attributes/",
    "/configuration/events/",
    "/configuration/account/",
    "/configuration/api-keys/",
    "/notifications/",
]


def test_it_finds_no_wcag_violation_on_any_screen(page, seeded):
    ids = {name: obj.pk for name, obj in seeded.items()}
    found: list[str] = []
    for path in PAGES:
        response = page.goto(path.format(**ids))
        assert response.ok, f"{path} answered {response.status}"
        page.wait_for_load_state("networkidle")
        found += violations(page)
    print("\n".join(found))
    assert found == []


def test_it_finds_no_wcag_violation_in_the_confirmation_dialog(page, seeded):
    page.goto(f"/people/{seeded['profile'].pk}/")
    page.get_by_role("button", name="Delete").click()
    page.locator("#confirm-modal.show").wait_for()
    page.wait_for_timeout(400)  # the fade-in ends: axe reads colours as shown
    found = violations(page)
    print("\n".join(found))
    assert found == []


def test_it_finds_no_wcag_violation_on_forms_with_errors_and_on_a_job_page(page, seeded, marketer):
    """The shared pieces: the field template showing errors (every `aria-describedby` names an
    element of the page) and the one job page, with its result and, running, its Stop button."""
    from audience.jobs import JobStatus
    from tags.models import BulkAction, Tag, TagBulkJob

    account, user = marketer
    found: list[str] = []
    for path, fill, button in (
        ("/configuration/attributes/", {}, "Create attribute"),
        ("/communications/senders/", {"Address, name or number": "+1"}, "Add sender"),
        ("/people/new/", {"Emails": "not an email"}, "Create person"),
    ):
        page.goto(path)
        for label, value in fill.items():
            page.get_by_label(label).fill(value)
        page.get_by_role("button", name=button).click()
        page.locator(".is-invalid").first.wait_for()
        described = page.eval_on_selector_all(
            "[aria-describedby]",
            "els => els.flatMap(el => el.getAttribute('aria-describedby').split(' '))"
            ".filter(id => !document.getElementById(id))",
        )
        assert described == [], f"{path}: aria-describedby names no element: {described}"
        assert page.locator("[aria-invalid=true].is-invalid").count() >= 1
        found += violations(page)
    tag = Tag.objects.get(account=account, name="Spring promo")
    for status in (JobStatus.RUNNING, JobStatus.DONE):
        job = TagBulkJob.objects.create(
            account=account,
            created_by=user,
            status=status,
            total=40,
            processed=40 if status == JobStatus.DONE else 10,
            action=BulkAction.ADD,
            add_tag_ids=[tag.pk],
            added=40 if status == JobStatus.DONE else 0,
        )
        page.goto(job.get_absolute_url())
        page.get_by_test_id("job-status").wait_for()
        found += violations(page)
    print("\n".join(found))
    assert found == []


def test_it_finds_no_wcag_violation_on_a_sent_broadcasts_lists(page, marketer):
    """A sent broadcast's page with who was blocked by Do Not Contact and who had no destination,
    the latter long enough for its Next, Previous and First page links."""
    from communications import selectors
    from tests.communications.conftest import block, broadcast_for, make_profile, send

    account, _ = marketer
    blocked = make_profile(account, "Ben", phones=["+385912345679"])
    block([account], "+385912345679")
    missing = [make_profile(account, f"Person {i:02}") for i in range(selectors.SKIPPED_PAGE + 2)]
    broadcast = send(broadcast_for(account, [blocked, *missing]))
    assert (broadcast.blocked_dnc, broadcast.no_destination) == (1, len(missing))
    found: list[str] = []
    page.goto(broadcast.get_absolute_url())
    page.locator("#skipped-missing").wait_for()
    found += violations(page)
    page.locator("#skipped-missing").get_by_role("link", name="Next page").click()
    page.locator("#skipped-missing").get_by_role("link", name="Previous page").wait_for()
    found += violations(page)
    page.locator("#skipped-missing").get_by_role("link", name="Previous page").click()
    page.locator("#skipped-missing").get_by_role("link", name="Next page").wait_for()
    assert page.locator("#skipped-missing").get_by_role("link", name="Previous page").count() == 0
    assert page.locator("#skipped-missing").get_by_role("link", name="Person 00").count() == 1
    found += violations(page)
    print("\n".join(found))
    assert found == []


def test_paging_one_skipped_list_leaves_the_other_in_place(page, marketer):
    """htmx swaps only the list paged: the other list's element is the very same one (a mark put
    on it survives), and it stays on its own page."""
    from communications import selectors
    from tests.communications.conftest import block, broadcast_for, make_profile, send

    account, _ = marketer
    size = selectors.SKIPPED_PAGE + 2
    blocked = [make_profile(account, f"Blocked {i:02}", phones=[f"+3859123451{i:02}"]) for i in range(size)]
    for i in range(size):
        block([account], f"+3859123451{i:02}")
    missing = [make_profile(account, f"Person {i:02}") for i in range(size)]
    broadcast = send(broadcast_for(account, [*blocked, *missing]))
    page.goto(broadcast.get_absolute_url())
    blocked_list, missing_list = page.locator("#skipped-blocked"), page.locator("#skipped-missing")
    blocked_list.get_by_role("link", name="Next page").click()
    blocked_list.get_by_role("link", name="Previous page").wait_for()
    page.eval_on_selector("#skipped-blocked", "el => { el.dataset.mark = 'kept'; }")
    missing_list.get_by_role("link", name="Next page").click()
    missing_list.get_by_role("link", name="Previous page").wait_for()
    assert missing_list.get_by_role("link", name=f"Person {size - 1:02}").count() == 1
    assert page.eval_on_selector("#skipped-blocked", "el => el.dataset.mark") == "kept"
    assert blocked_list.get_by_role("link", name=f"Blocked {size - 1:02}").count() == 1  # its page 2
    assert blocked_list.get_by_role("link", name="Blocked 00").count() == 0
