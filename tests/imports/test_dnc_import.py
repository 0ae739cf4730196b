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
