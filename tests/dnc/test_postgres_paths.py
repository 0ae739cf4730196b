"""Do Not Contact's PostgreSQL fast paths (`dnc.postgres`) give what the generic paths of
`dnc.services` give: the same blocked destinations, the same rows, audit and report of an add."""

from __future__ import annotations

import pytest
from django.db import connection

from dnc import blocking, postgres, services
from dnc.models import DncAudit, DncEntry, DncEntryAccount, How, Source

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="the fast paths are PostgreSQL's")

ENTRIES = [
    {"contact": "+385912345678"},
    {"contact": "+385912345679", "channel": "SMS"},
    {"contact": "+385912345680", "sender": "Shop", "channel": "SMS"},
    {"contact": "ann@example.com"},
    {"contact": "@blocked.example"},
    {"contact": "+385912345681", "sender": "Other"},
]


def _keys(entries):
    return [services.dnc_entry_parse(**entry) for entry in entries]


def _stored() -> tuple[list, list]:
    rows = sorted(
        DncEntryAccount.objects.values_list(
            "account__name", "kind", "value", "sender", "channel", "source", "campaign", "added_by__username"
        )
    )
    audits = sorted(
        DncAudit.objects.values_list(
            "action",
            "account_name",
            "kind",
            "value",
            "sender",
            "channel",
            "source",
            "campaign",
            "how",
            "username",
        )
    )
    return rows, audits


def _scenario(add, account, other_account, owner) -> list:
    """Add some entries to one account, then more (some the same) to both: each batch's report
    and what is stored after."""
    seen = []
    for keys, accounts in (
        (_keys(ENTRIES[:3]), [account]),
        (_keys(ENTRIES), [account, other_account]),
        (_keys(ENTRIES[1:2]), [account, other_account]),
    ):
        report = services.DncAddReport()
        add(keys, services.DncAdd(accounts, Source.CUSTOM, owner, "spring", How.UI), report)
        seen.append((report.created, report.merged, report.unchanged))
    return [seen, _stored()]


def test_the_one_statement_add_writes_what_the_generic_add_writes(account, other_account, owner):
    generic = _scenario(services._add_batch_generic, account, other_account, owner)
    DncAudit.objects.all().delete()
    DncEntryAccount.objects.all().delete()
    DncEntry.objects.all().delete()

    def fast(*args):
        assert postgres.add_batch(*args) is True

    assert _scenario(fast, account, other_account, owner) == generic
    assert generic[0] == [(3, 0, 0), (3, 3, 0), (0, 0, 1)]


@pytest.mark.parametrize("channel, sender", [("SMS", ""), ("SMS", "SHOP"), ("EMAIL", ""), ("VOICE", "OTHER")])
def test_the_blocked_checks_agree(account, other_account, owner, channel, sender):
    services.dnc_entries_add(accounts=[account], entries=ENTRIES, source=Source.CUSTOM, added_by=owner)
    services.dnc_entries_add(
        accounts=[other_account], entries=ENTRIES[:1], source=Source.CUSTOM, added_by=owner
    )
    values = [
        "+385912345678",
        "+385912345679",
        "+385912345680",
        "+385912345681",
        "ann@example.com",
        "x@y.example",
    ]
    sender = services.sender_normalize(sender)
    generic = sorted(blocking._blocked_values_generic(account.pk, channel, sender, values))
    assert sorted(postgres.blocked_values(account.pk, channel, sender, values)) == generic
    assert sorted(postgres.blocked_values_copy(account.pk, channel, sender, iter(values))) == generic
