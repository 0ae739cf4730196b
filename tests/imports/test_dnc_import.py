from __future__ import annotations

import pytest

from dnc.models import DncEntryAccount
from tests.imports.conftest import job_from, run

pytestmark = pytest.mark.django_db

DNC = (
    "Contact;Sender;Channel\n"
    "+385 91 234 5678;;SMS\n"
    "ana@example.com;;\n"
    "00385912345678;;SMS\n"
    "0912345678;;SMS\n"
    "+385 98 765 4321;InfoSMS;\n"
)


def test_it_imports_do_not_contact_entries(account, owner):
    job = job_from(account, owner, "dnc.csv", DNC.encode(), kind="dnc")
    assert job.delimiter == ";" and job.mapping == ["contact", "sender", "channel"]
    job = run(job, user=owner, options={"accounts": [account.pk]})
    assert job.analysis["reasons"] == {"Duplicate inside the file": 1, "Invalid contact": 1}
    assert (job.created, job.updated, job.unchanged, job.rejected) == (3, 0, 0, 2)
    assert set(DncEntryAccount.objects.filter(account=account).values_list("value", "channel")) == {
        ("+385912345678", "SMS"),
        ("ana@example.com", "EMAIL"),
        ("+385987654321", ""),
    }


def test_it_adds_entries_to_several_accounts_and_reruns_unchanged(account, other_account, owner):
    from audience import services as audience_services

    audience_services.membership_set(account=other_account, user=owner, role="marketer")
    run(
        job_from(account, owner, "dnc.csv", DNC.encode(), kind="dnc"),
        user=owner,
        options={"accounts": [account.pk]},
    )
    job = run(
        job_from(account, owner, "dnc.csv", DNC.encode(), kind="dnc"),
        user=owner,
        options={"accounts": [account.pk, other_account.pk]},
    )
    assert job.analysis["existing"] == 3
    assert (job.created, job.updated, job.unchanged, job.rejected) == (0, 3, 0, 2)
    again = run(
        job_from(account, owner, "dnc.csv", DNC.encode(), kind="dnc"),
        user=owner,
        options={"accounts": [account.pk, other_account.pk]},
    )
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 3, 2)
    assert DncEntryAccount.objects.filter(account=other_account).count() == 3


def test_it_refuses_accounts_the_user_cannot_change(account, other_account, owner):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError, match="accounts you can change"):
        run(
            job_from(account, owner, "dnc.csv", DNC.encode(), kind="dnc"),
            user=owner,
            options={"accounts": [other_account.pk]},
        )


def test_a_mixed_import_counts_merges_and_audits_every_account_added(account, other_account, owner):
    """New entries, an entry already on one of the accounts (a merge for the other) and one on
    both (unchanged): the counts add up to the rows read and every added account is audited, on
    PostgreSQL's staged merge as on the generic path."""
    from audience import services as audience_services
    from dnc import services as dnc_services
    from dnc.models import DncAudit, DncEntry

    audience_services.membership_set(account=other_account, user=owner, role="marketer")
    dnc_services.dnc_entry_add(accounts=[account], contact="+385 91 234 5678", channel="SMS")
    dnc_services.dnc_entry_add(accounts=[account, other_account], contact="ana@example.com")
    before = set(DncAudit.objects.values_list("pk", flat=True))
    job = run(
        job_from(account, owner, "dnc.csv", DNC.encode(), kind="dnc"),
        user=owner,
        options={"accounts": [account.pk, other_account.pk]},
    )
    assert (job.created, job.updated, job.unchanged, job.rejected) == (1, 1, 1, 2)
    assert job.created + job.updated + job.unchanged + job.rejected == job.rows_read == 5
    added = DncAudit.objects.exclude(pk__in=before)
    new_entry = DncEntry.objects.get(value="+385987654321")
    assert sorted(
        added.values_list("value", "account_id", "entry_id_copy", "action", "how", "source", "username")
    ) == sorted(
        [
            (
                "+385912345678",
                other_account.pk,
                DncEntry.objects.get(value="+385912345678").pk,
                "add",
                "import",
                "IMPORT",
                "alice",
            ),
            ("+385987654321", account.pk, new_entry.pk, "add", "import", "IMPORT", "alice"),
            ("+385987654321", other_account.pk, new_entry.pk, "add", "import", "IMPORT", "alice"),
        ]
    )
    assert set(added.values_list("account_name", flat=True)) == {"Acme", "Globex"}
    assert DncEntryAccount.objects.filter(account=other_account).count() == 3
    assert DncEntryAccount.objects.get(account=other_account, value="+385987654321").added_by == owner


def test_it_keeps_senders_with_backslashes_and_tabs_as_they_are(account, owner):
    """The analysis keeps valid rows as COPY text: a backslash or a tab in a sender (or a quoted
    email) is escaped there and arrives in the list unchanged, on every path."""
    data = (
        'Contact,Sender\n+385 91 234 5678,"Shop\\\\1"\n+385 91 234 5679,"A\tB"\n"""a\\\\b""@example.com",\n'
    )
    job = run(job_from(account, owner, "dnc.csv", data.encode(), kind="dnc"), user=owner, options={})
    assert (job.created, job.rejected) == (3, 0), job.analysis
    assert set(DncEntryAccount.objects.filter(account=account).values_list("value", "sender")) == {
        ("+385912345678", "Shop\\\\1"),
        ("+385912345679", "A\tB"),
        ('"a\\\\b"@example.com', ""),
    }


def test_the_copy_text_reads_back_as_the_keys():
    from imports.targets.dnc import _copy_keys, _copy_text

    keys = [("phone", "+385912345678", "a\\tb\\\\n", ""), ("email", "x\ty@e.com", "S\nT\r", "EMAIL")]
    assert _copy_keys(_copy_text(keys)) == keys
    assert _copy_keys(_copy_text(keys[:1])) == keys[:1] and _copy_keys(_copy_text([])) == []


def test_it_imports_a_chunk_kept_by_an_earlier_version(account, owner):
    from imports.targets.dnc import DncTarget

    target = DncTarget(account=account, mapping=["contact"], options={"accounts": [account.pk]}, user=owner)
    counts, _ = target.import_chunk(target.load_chunk([[2, "phone", "+385912345678", "", "SMS"]]))
    assert counts == {"created": 1, "updated": 0, "unchanged": 0}
    assert DncEntryAccount.objects.get(account=account).value == "+385912345678"


def test_a_chunk_the_merge_cannot_account_for_goes_the_generic_way(account, owner):
    """A key neither inserted nor found by the one-statement merge (on PostgreSQL: another
    transaction's entry; here a repeat, which the analysis never lets through) rolls the merge
    back and the chunk goes through dnc_entries_add_normalized: counts still add up."""
    from dnc.models import DncAudit
    from imports.targets.dnc import DncTarget, _copy_text

    target = DncTarget(account=account, mapping=["contact"], options={"accounts": [account.pk]}, user=owner)
    key = ("phone", "+385912345678", "", "SMS")
    counts, _ = target.import_chunk(_copy_text([key, key, ("phone", "+385912345679", "", "")]))
    assert counts == {"created": 2, "updated": 0, "unchanged": 1}
    assert DncEntryAccount.objects.filter(account=account).count() == 2
    assert DncAudit.objects.filter(account_id=account.pk).count() == 2
