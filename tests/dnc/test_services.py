from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from dnc import blocking, services
from dnc.models import AuditAction, DncAudit, DncEntry, DncEntryAccount, How, Source


def add(accounts, contact, sender="", channel="", **kwargs):
    return services.dnc_entries_add(
        accounts=accounts,
        entries=[{"contact": contact, "sender": sender, "channel": channel}],
        source=kwargs.pop("source", Source.CUSTOM),
        **kwargs,
    )


def blocked(account, destination, channel="SMS", sender=""):
    single = services.dnc_is_blocked(account=account, channel=channel, sender=sender, destination=destination)
    batch = services.dnc_blocked_destinations(
        account=account, channel=channel, sender=sender, destinations=[destination]
    )
    assert single == bool(batch)
    return single


def test_it_blocks_every_channel_when_the_entry_has_none(account):
    add([account], "+385 91 234 5678")
    assert blocked(account, "+385912345678", "SMS")
    assert blocked(account, "+385912345678", "WHATSAPP")


def test_it_blocks_only_the_entry_channel(account):
    add([account], "+385912345678", channel="SMS")
    assert blocked(account, "+385912345678", "SMS")
    assert not blocked(account, "+385912345678", "VIBER")


def test_it_blocks_every_sender_when_the_entry_has_none(account):
    add([account], "+385912345678")
    assert blocked(account, "+385912345678", sender="64350")
    assert blocked(account, "+385912345678", sender="")


def test_it_blocks_only_the_entry_sender(account):
    add([account], "+385912345678", sender="64350")
    assert blocked(account, "+385912345678", sender="64350")
    assert not blocked(account, "+385912345678", sender="InfoSMS")
    assert not blocked(account, "+385912345678", sender="")


def test_it_compares_phone_senders_normalised(account):
    add([account], "+385912345678", sender="00385 91 111 2222")
    assert blocked(account, "+385912345678", sender="+385911112222")


def test_it_treats_every_form_of_a_number_as_one_destination(account):
    add([account], "00385 91 234 5678")
    for form in ("+385 91 234 5678", "00385912345678", "385912345678", "+385-91-234-5678"):
        assert blocked(account, form)
    assert services.dnc_blocked_destinations(
        account=account, channel="SMS", sender="", destinations=["385912345678", "+385912345679"]
    ) == {"+385912345678"}


def test_it_blocks_every_address_of_a_domain(account):
    add([account], "Example.com")
    assert blocked(account, "Anyone@EXAMPLE.com", "EMAIL")
    assert not blocked(account, "anyone@example.org", "EMAIL")
    assert not blocked(account, "anyone@sub.example.com", "EMAIL")


def test_it_blocks_emails_only_for_the_email_channel(account):
    add([account], "Ana@Example.com")
    assert blocked(account, "ana@example.com", "EMAIL")
    assert DncEntry.objects.get().channel == "EMAIL"
    report = add([account], "ana@example.com", channel="SMS")
    assert report.rejected and "Email channel" in report.rejected[0].reason


def test_it_refuses_a_phone_for_the_email_channel(account):
    report = add([account], "+385912345678", channel="EMAIL")
    assert report.rejected and report.created == 0


def test_it_refuses_a_national_number_showing_the_international_form(account):
    with pytest.raises(ValidationError) as error:
        services.dnc_entry_add(accounts=[account], contact="01234 567890")
    assert "+44 7911 123456" in str(error.value.message_dict["contact"])


def test_it_refuses_an_unknown_channel(account):
    report = add([account], "+385912345678", channel="PIGEON")
    assert "not a channel" in report.rejected[0].reason


def test_it_checks_only_the_accounts_an_entry_applies_to(account, other_account):
    add([account], "+385912345678")
    assert blocked(account, "+385912345678")
    assert not blocked(other_account, "+385912345678")


def test_it_merges_the_accounts_of_the_same_entry(account, other_account, owner):
    first = add([account], "+385912345678", channel="SMS", added_by=owner)
    second = add([account, other_account], "385 91 234 5678", channel="sms")
    third = add([account, other_account], "+385912345678", channel="SMS")
    assert (first.created, second.merged, third.unchanged) == (1, 1, 1)
    entry = DncEntry.objects.get()
    assert set(entry.accounts.all()) == {account, other_account}
    assert blocked(other_account, "+385912345678")


def test_it_keeps_entries_with_another_sender_or_channel_apart(account):
    report = services.dnc_entries_add(
        accounts=[account],
        entries=[
            {"contact": "+385912345678"},
            {"contact": "+385912345678", "channel": "SMS"},
            {"contact": "+385912345678", "channel": "SMS", "sender": "64350"},
            {"contact": "+385912345678", "channel": "SMS", "sender": "64350"},
        ],
        source=Source.IMPORT,
    )
    assert (report.created, report.unchanged) == (3, 1)


def test_it_reports_rejected_lines_with_reasons(account):
    report = services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": "+385912345678"}, {"contact": "nonsense"}, {"contact": ""}, {"contact": "a@"}],
        source=Source.IMPORT,
    )
    assert report.created == 1
    assert [r.line for r in report.rejected] == [2, 3, 4]
    assert all(r.reason for r in report.rejected)


def test_it_says_when_a_single_entry_is_already_there(account):
    services.dnc_entry_add(accounts=[account], contact="+385912345678")
    with pytest.raises(ValidationError) as error:
        services.dnc_entry_add(accounts=[account], contact="00385912345678")
    assert "already" in str(error.value)


def test_it_audits_adds(account, other_account, owner):
    add(
        [account, other_account],
        "+385912345678",
        added_by=owner,
        source=Source.MO,
        campaign="Spring",
        how=How.API,
    )
    audits = DncAudit.objects.order_by("account_name")
    assert [(a.action, a.account_name, a.username, a.how, a.source, a.campaign) for a in audits] == [
        (AuditAction.ADD, "Acme", "alice", How.API, Source.MO, "Spring"),
        (AuditAction.ADD, "Globex", "alice", How.API, Source.MO, "Spring"),
    ]


def test_it_removes_an_account_and_keeps_the_entry_for_the_others(account, other_account, owner):
    add([account, other_account], "+385912345678")
    entry = DncEntry.objects.get()
    assert services.dnc_entry_remove(entry=entry, account=account, removed_by=owner, how=How.UI)
    assert not blocked(account, "+385912345678")
    assert blocked(other_account, "+385912345678")
    assert not services.dnc_entry_remove(entry=entry, account=account, removed_by=owner, how=How.UI)


def test_it_deletes_the_entry_when_no_account_is_left_and_keeps_the_audit(account, owner):
    add([account], "+385912345678", added_by=owner)
    entry = DncEntry.objects.get()
    services.dnc_entry_remove(entry=entry, account=account, removed_by=owner, how=How.UI)
    assert not DncEntry.objects.exists()
    assert not DncEntryAccount.objects.exists()
    removal = DncAudit.objects.get(action=AuditAction.REMOVE)
    assert (removal.value, removal.username, removal.account_name, removal.how) == (
        "+385912345678",
        "alice",
        "Acme",
        How.UI,
    )
    assert DncAudit.objects.count() == 2


def test_it_keeps_the_audit_when_the_account_is_deleted(account, owner):
    add([account], "+385912345678", added_by=owner)
    account.delete()
    assert DncAudit.objects.get().account_name == "Acme"


def test_it_checks_a_batch_larger_than_one_query(account, monkeypatch):
    monkeypatch.setattr(blocking, "SMALL_CHECK", 3)
    services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": f"+38591234{n:04d}"} for n in range(0, 20, 2)],
        source=Source.IMPORT,
    )
    destinations = [f"+38591234{n:04d}" for n in range(20)]
    result = services.dnc_blocked_destinations(
        account=account, channel="SMS", sender="", destinations=destinations
    )
    assert result == {f"+38591234{n:04d}" for n in range(0, 20, 2)}


def test_it_adds_in_batches(account, monkeypatch):
    monkeypatch.setattr(services, "ADD_BATCH", 4)
    entries = [{"contact": f"+38591234{n:04d}"} for n in range(10)]
    report = services.dnc_entries_add(accounts=[account], entries=entries, source=Source.IMPORT)
    again = services.dnc_entries_add(accounts=[account], entries=entries, source=Source.IMPORT)
    assert (report.created, again.unchanged) == (10, 10)
    assert DncEntryAccount.objects.count() == 10


def test_it_refuses_a_check_for_an_unknown_channel(account):
    with pytest.raises(ValueError):
        services.dnc_is_blocked(account=account, channel="PIGEON", sender="", destination="+385912345678")
