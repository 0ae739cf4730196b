from __future__ import annotations

import csv
import io

import pytest
from django.urls import reverse

from audience.models import Contact, Profile
from dnc import services
from dnc.models import AuditAction, DncAudit, DncEntry, DncEntryAccount, Source

LIST = reverse("dnc:list")
ADD = reverse("dnc:add")
REMOVE = reverse("dnc:remove")
EXPORT = reverse("dnc:export")
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def entries(account, other_account):
    services.dnc_entries_add(
        accounts=[account],
        entries=[
            {"contact": "+385912345678", "channel": "SMS"},
            {"contact": "=cmd@example.com"},
            {"contact": "example.org"},
        ],
        source=Source.IMPORT,
    )
    services.dnc_entries_add(
        accounts=[other_account], entries=[{"contact": "+447911123456"}], source=Source.API
    )
    return {e.value: e for e in DncEntry.objects.all()}


def entry_ids(account):
    return set(DncEntryAccount.objects.filter(account=account).values_list("value", flat=True))


# --- the list --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_lists_the_entries_of_the_account(request, who, entries):
    response = request.getfixturevalue(who).get(LIST)
    assert response.status_code == 200
    body = response.content.decode()
    assert "+385912345678" in body and "example.org" in body
    assert "+447911123456" not in body


def test_it_shows_an_outsider_only_their_own_account(outsider_client, entries):
    body = outsider_client.get(LIST).content.decode()
    assert "+447911123456" in body
    assert "+385912345678" not in body and "Acme" not in body


def test_it_shows_only_the_readers_accounts_in_the_account_column(
    owner_client, account, other_account, entries
):
    services.dnc_entries_add(
        accounts=[other_account], entries=[{"contact": "+385912345678", "channel": "SMS"}], source=Source.API
    )
    body = owner_client.get(LIST).content.decode()
    assert "Globex" not in body


def test_it_hides_editing_from_a_viewer(viewer_client, entries):
    body = viewer_client.get(LIST).content.decode()
    assert "Add new" not in body and "Remove selected" not in body


def test_it_shows_an_empty_state(owner_client):
    body = owner_client.get(LIST).content.decode()
    assert 'data-testid="dnc-empty"' in body and "is empty" in body


def test_it_answers_htmx_with_the_results_only(owner_client, entries):
    response = owner_client.get(LIST, {"sort": "contact"}, **HTMX)
    body = response.content.decode()
    assert "<html" not in body and 'id="dnc-results"' in body
    assert "HX-Request" in response["Vary"]


def shown(response) -> set[str]:
    return {row.value for row in response.context["page"].rows}


def test_it_filters_by_several_values_and_filters(owner_client, entries):
    both = owner_client.get(LIST, {"contact": ["3859", "example.org"], "channel": ["SMS", "-"]})
    assert shown(both) == {"+385912345678"}  # example.org's channel is Email
    assert shown(owner_client.get(LIST, {"contact": ["3859", "EXAMPLE.org"]})) == {
        "+385912345678",
        "example.org",
    }
    assert shown(owner_client.get(LIST, {"channel": ["EMAIL"], "contact": ["cmd"]})) == {"=cmd@example.com"}


def test_it_filters_by_sender(owner_client, account, entries):
    services.dnc_entries_add(
        accounts=[account], entries=[{"contact": "+385912345678", "sender": "InfoSMS"}], source=Source.MO
    )
    assert shown(owner_client.get(LIST, {"sender": ["infosms"]})) == {"+385912345678"}
    assert len(shown(owner_client.get(LIST, {"sender": ["-"]}))) == 3


def test_it_filters_by_source_and_dates(owner_client, entries):
    assert shown(owner_client.get(LIST, {"source": "MO"})) == set()
    assert len(shown(owner_client.get(LIST, {"source": ["IMPORT", "MO"]}))) == 3
    assert shown(owner_client.get(LIST, {"added_until": "2000-01-01"})) == set()
    assert len(shown(owner_client.get(LIST, {"added_from": "2000-01-01"}))) == 3


def test_it_filters_by_another_account_of_the_user(owner_client, owner, account, other_account, entries):
    from audience import services as audience_services

    services.dnc_entries_add(
        accounts=[other_account], entries=[{"contact": "example.org"}], source=Source.API
    )
    assert shown(owner_client.get(LIST, {"account": other_account.pk})) == set()  # not one of hers
    audience_services.membership_set(account=other_account, user=owner, role="viewer")
    response = owner_client.get(LIST, {"account": other_account.pk})
    assert shown(response) == {"example.org"}
    assert "Globex" in response.content.decode()


def test_it_refuses_an_account_filter_for_an_account_one_is_not_in(owner_client, other_account, entries):
    response = owner_client.get(LIST, {"account": other_account.pk})
    assert response.status_code == 200
    assert shown(response) == set()


@pytest.mark.parametrize(
    "sort",
    [
        "contact",
        "-contact",
        "sender",
        "-sender",
        "source",
        "-source",
        "channel",
        "-channel",
        "added",
        "-added",
    ],
)
def test_it_sorts_by_each_column_and_pages_by_keyset(owner_client, account, sort):
    services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": f"+3859123456{n:02d}", "sender": str(n % 3)} for n in range(60)],
        source=Source.IMPORT,
    )
    seen = []
    response = owner_client.get(LIST, {"sort": sort})
    while True:
        page = response.context["page"]
        seen += [row.pk for row in page.rows]
        if not page.next_cursor:
            break
        response = owner_client.get(LIST, {"sort": sort, "after": page.next_cursor})
    assert len(seen) == len(set(seen)) == 60


# --- adding ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_adds_an_entry_with_htmx(request, who, account):
    response = request.getfixturevalue(who).post(
        ADD, {"new-contact": "00385 91 234 5678", "new-channel": "SMS", "new-accounts": [account.pk]}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "+385912345678" in body and 'id="dnc-new-row"' in body and "<html" not in body
    row = DncEntryAccount.objects.get(account=account)
    assert (row.value, row.channel, row.source) == ("+385912345678", "SMS", Source.CUSTOM)


def test_it_shows_the_new_line_for_htmx(owner_client):
    body = owner_client.get(ADD, **HTMX).content.decode()
    assert 'id="dnc-new-row"' in body and 'name="new-contact"' in body
    assert owner_client.get(ADD).status_code == 302


def test_it_refuses_a_national_number_inline(owner_client, account):
    response = owner_client.post(ADD, {"new-contact": "01234 567890", "new-accounts": [account.pk]}, **HTMX)
    body = response.content.decode()
    assert "is-invalid" in body and "+44 7911 123456" in body
    assert not DncEntry.objects.exists()


def test_it_refuses_an_email_for_another_channel_inline(owner_client, account):
    body = owner_client.post(
        ADD, {"new-contact": "a@example.com", "new-channel": "SMS", "new-accounts": [account.pk]}, **HTMX
    ).content.decode()
    assert "only be blocked for the Email channel" in body


def test_it_adds_without_javascript_and_says_so(owner_client, account):
    response = owner_client.post(
        ADD, {"new-contact": "+385912345678", "new-accounts": [account.pk]}, follow=True
    )
    assert "is on the Do Not Contact list" in response.content.decode()
    bad = owner_client.post(ADD, {"new-contact": "0123", "new-accounts": [account.pk]})
    assert bad.status_code == 422 and "international format" in bad.content.decode()


def test_it_adds_for_several_accounts_of_the_user(owner_client, account, other_account, owner):
    from audience import services as audience_services

    audience_services.membership_set(account=other_account, user=owner, role="marketer")
    owner_client.post(
        ADD, {"new-contact": "+385912345678", "new-accounts": [account.pk, other_account.pk]}, **HTMX
    )
    assert set(DncEntry.objects.get().accounts.all()) == {account, other_account}


def test_it_refuses_to_add_for_an_account_one_is_not_in(owner_client, account, other_account):
    body = owner_client.post(
        ADD, {"new-contact": "+385912345678", "new-accounts": [other_account.pk]}, **HTMX
    ).content.decode()
    assert "is-invalid" in body or "not one of the available choices" in body
    assert not DncEntry.objects.exists()


def test_it_forbids_a_viewer_to_add(viewer_client, account):
    response = viewer_client.post(ADD, {"new-contact": "+385912345678", "new-accounts": [account.pk]})
    assert response.status_code == 403
    assert not DncEntry.objects.exists()


def test_it_adds_an_outsider_entry_only_to_their_account(outsider_client, account, other_account):
    outsider_client.post(ADD, {"new-contact": "+385912345678", "new-accounts": [account.pk]}, **HTMX)
    assert not DncEntryAccount.objects.filter(account=account).exists()


# --- removing --------------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_removes_selected_entries(request, who, account, entries):
    ids = [entries["+385912345678"].pk, entries["example.org"].pk]
    response = request.getfixturevalue(who).post(REMOVE, {"ids": ids, "query": "sort=contact"})
    assert response.status_code == 302 and response["Location"].endswith("?sort=contact")
    assert entry_ids(account) == {"=cmd@example.com"}
    assert DncAudit.objects.filter(action=AuditAction.REMOVE).count() == 2


def test_it_forbids_a_viewer_to_remove(viewer_client, account, entries):
    assert viewer_client.post(REMOVE, {"ids": [entries["+385912345678"].pk]}).status_code == 403
    assert len(entry_ids(account)) == 3


def test_it_never_removes_another_accounts_entry(
    outsider_client, owner_client, account, other_account, entries
):
    outsider_client.post(REMOVE, {"ids": [entries["+385912345678"].pk]})
    assert len(entry_ids(account)) == 3
    owner_client.post(REMOVE, {"ids": [entries["+447911123456"].pk]})
    assert entry_ids(other_account) == {"+447911123456"}


def test_it_asks_for_a_selection(owner_client):
    response = owner_client.post(REMOVE, {}, follow=True)
    assert "Select at least one entry" in response.content.decode()


# --- export ----------------------------------------------------------------------------------------


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_exports_the_filtered_entries(request, who, entries):
    response = request.getfixturevalue(who).get(EXPORT, {"channel": "EMAIL"})
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = read_csv(response)
    assert rows[0][0] == "Contact information"
    assert sorted(r[0] for r in rows[1:]) == ["'=cmd@example.com", "example.org"]


def test_it_exports_the_selected_entries_neutralising_formulas(owner_client, entries):
    rows = read_csv(owner_client.post(EXPORT, {"ids": [entries["+385912345678"].pk], "query": ""}))
    assert [r[0] for r in rows[1:]] == ["'+385912345678"]
    assert rows[1][5] == "Acme"


def test_it_exports_to_an_outsider_only_their_entries(outsider_client, entries):
    rows = read_csv(outsider_client.get(EXPORT))
    assert [r[0] for r in rows[1:]] == ["'+447911123456"]
    rows = read_csv(outsider_client.post(EXPORT, {"ids": [entries["+385912345678"].pk]}))
    assert rows[1:] == []


# --- profile panel ---------------------------------------------------------------------------------


@pytest.fixture
def profile(account):
    person = Profile.objects.create(account=account, first_name="Ana")
    Contact.objects.create(account=account, profile=person, kind="phone", value="+385912345678")
    Contact.objects.create(account=account, profile=person, kind="email", value="ana@example.org")
    Contact.objects.create(account=account, profile=person, kind="email", value="ana@free.net")
    return person


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_shows_where_the_contacts_of_a_profile_are_blocked(request, who, profile, entries):
    response = request.getfixturevalue(who).get(reverse("dnc:profile_panel", args=[profile.pk]), **HTMX)
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count("Blocked") == 2 and "Not blocked" in body
    assert "the whole domain example.org" in body and "SMS" in body


def test_it_hides_another_accounts_profile(outsider_client, profile):
    assert outsider_client.get(reverse("dnc:profile_panel", args=[profile.pk])).status_code == 404


# --- bulk add from People ---------------------------------------------------------------------------


def test_it_adds_the_contacts_of_a_people_selection(teammate_client, account, profile):
    response = teammate_client.post(
        reverse("dnc:bulk_add"), {"ids": [profile.pk], "channel": "EMAIL", "confirm": "1"}
    )
    assert response.status_code == 302
    assert entry_ids(account) == {"ana@example.org", "ana@free.net"}


def test_it_forbids_a_viewer_to_bulk_add(viewer_client, profile):
    assert viewer_client.post(reverse("dnc:bulk_add"), {"ids": [profile.pk]}).status_code == 403


def test_it_never_bulk_adds_another_accounts_profiles(outsider_client, profile):
    outsider_client.post(reverse("dnc:bulk_add"), {"ids": [profile.pk], "confirm": "1"})
    assert not DncEntryAccount.objects.exists()
    asked = outsider_client.post(reverse("dnc:bulk_add"), {"ids": [profile.pk]})
    assert "Ana" not in asked.content.decode() and "0 people" in asked.content.decode()


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_asks_for_the_channel_and_sender_before_bulk_adding(request, who, account, profile):
    client = request.getfixturevalue(who)
    asked = client.post(reverse("dnc:bulk_add"), {"ids": [profile.pk], "query": "city=Zagreb"})
    assert asked.status_code == 200
    body = asked.content.decode()
    assert "1 person" in body and 'name="channel"' in body and 'name="sender"' in body
    assert f'name="ids" value="{profile.pk}"' in body and 'name="confirm" value="1"' in body
    assert not DncEntryAccount.objects.exists()  # nothing until confirmed
    done = client.post(
        reverse("dnc:bulk_add"),
        {
            "ids": [profile.pk],
            "query": "city=Zagreb",
            "confirm": "1",
            "channel": "SMS",
            "sender": "00385 91 999 8888",
        },
    )
    assert done.status_code == 302 and done["Location"].endswith("?city=Zagreb")
    rows = DncEntryAccount.objects.filter(account=account)
    assert [(r.value, r.channel, r.sender) for r in rows] == [("+385912345678", "SMS", "+385919998888")]


def test_it_asks_again_for_a_channel_that_does_not_exist(owner_client, profile):
    response = owner_client.post(
        reverse("dnc:bulk_add"), {"ids": [profile.pk], "confirm": "1", "channel": "FAX"}
    )
    assert (
        response.status_code == 422 and "FAX is not one of the available choices" in response.content.decode()
    )
    assert not DncEntryAccount.objects.exists()


# --- audit trail -----------------------------------------------------------------------------------


def test_it_shows_the_audit_trail_to_admins(owner_client, owner, account, entries):
    services.dnc_entry_remove(entry=entries["example.org"], account=account, removed_by=owner, how="ui")
    body = owner_client.get(reverse("dnc:audit")).content.decode()
    assert "Removed" in body and "example.org" in body and "+447911123456" not in body


@pytest.mark.parametrize("who", ["teammate_client", "viewer_client"])
def test_it_keeps_the_audit_trail_from_non_admins(request, who):
    assert request.getfixturevalue(who).get(reverse("dnc:audit")).status_code == 403


def test_it_shows_an_outsider_only_their_audit(outsider_client, entries):
    body = outsider_client.get(reverse("dnc:audit")).content.decode()
    assert "+447911123456" in body and "+385912345678" not in body


# --- issue #17 / #19: the screen ------------------------------------------------------------------


def test_it_adds_for_another_account_only_and_says_where(owner_client, owner, account, other_account):
    from audience import services as audience_services

    audience_services.membership_set(account=other_account, user=owner, role="marketer")
    response = owner_client.post(
        ADD, {"new-contact": "+385912345678", "new-accounts": [other_account.pk]}, **HTMX
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert "+385912345678" in body and "Globex" in body and 'id="dnc-new-row"' in body
    assert list(DncEntry.objects.get().accounts.all()) == [other_account]
    assert not DncEntryAccount.objects.filter(account=account).exists()


def test_it_renders_the_account_filter_as_checkboxes(owner_client, owner, other_account, entries):
    from audience import services as audience_services

    audience_services.membership_set(account=other_account, user=owner, role="viewer")
    body = owner_client.get(LIST).content.decode()
    assert f'type="checkbox" name="account" value="{other_account.pk}"' in body


def test_it_shows_the_total_of_the_list_and_of_the_filter(owner_client, outsider_client, entries):
    assert owner_client.get(LIST).context["total"] == 3
    assert "3 entries" in owner_client.get(LIST).content.decode()
    assert owner_client.get(LIST, {"channel": "EMAIL"}).context["total"] == 2
    filtered = owner_client.get(LIST, {"channel": "EMAIL"}, **HTMX)
    assert "2 entries match the filters" in filtered.content.decode()
    assert outsider_client.get(LIST).context["total"] == 1


def test_it_filters_by_campaign(owner_client, outsider_client, account, other_account, entries):
    services.dnc_entries_add(
        accounts=[account, other_account],
        entries=[{"contact": "+385917777777"}],
        source=Source.CAMPAIGN,
        campaign="Spring sale",
    )
    assert shown(owner_client.get(LIST, {"campaign": "spring"})) == {"+385917777777"}
    assert shown(owner_client.get(LIST, {"campaign": "autumn"})) == set()
    assert shown(owner_client.get(LIST, {"campaign": "spring", "source": "CAMPAIGN"})) == {"+385917777777"}
    assert shown(owner_client.get(LIST, {"campaign": "spring", "source": "IMPORT"})) == set()
    body = owner_client.get(LIST).content.decode()
    assert 'name="campaign"' in body
    assert shown(outsider_client.get(LIST, {"campaign": "spring"})) == {"+385917777777"}


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_offers_the_xlsx_export_of_the_filtered_list(request, who, entries):
    from imports.models import ExportJob

    client = request.getfixturevalue(who)
    body = client.get(LIST, {"channel": "EMAIL"}).content.decode()
    assert reverse("imports:export_dnc") in body and 'value="xlsx"' in body
    response = client.post(reverse("imports:export_dnc"), {"query": "channel=EMAIL", "format": "xlsx"})
    assert response.status_code == 302
    job = ExportJob.objects.get()
    assert (job.kind, job.format) == ("dnc", "xlsx")


def test_it_hides_the_xlsx_export_from_a_viewer(viewer_client, entries):
    assert reverse("imports:export_dnc") not in viewer_client.get(LIST).content.decode()


@pytest.mark.parametrize(
    ("contact", "reason"),
    [
        ("+3859112", "not a valid number for Croatia (+385): too short"),
        ("+385 91 123 4567 890", "not a valid number for Croatia (+385): too long"),
        ("+38591123456", "not a valid number for Croatia (+385): no number of that length"),
    ],
)
def test_it_says_why_an_international_number_is_refused(owner_client, account, contact, reason):
    body = owner_client.post(
        ADD, {"new-contact": contact, "new-accounts": [account.pk]}, **HTMX
    ).content.decode()
    assert reason in body and "use international format" not in body
    assert not DncEntry.objects.exists()
