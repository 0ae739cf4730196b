"""The `dnc` attribute: a profile is blocked for a channel when one of its contacts is — by an
entry for that contact or for its email's domain, with channel blank meaning every channel and any
sender — and `is_not` is the exact complement. Both shapes of the domain part (one index range per
domain, or one join on the domain past DOMAINS_INLINE) give the same people."""

from __future__ import annotations

import pytest

from audience.models import Contact, Profile
from dnc import selectors as dnc_selectors
from dnc import services as dnc_services
from dnc.models import DncEntry, DncEntryAccount, Kind, Source
from segments import selectors
from segments.rules.compile import Compiler


def person(account, name, *contacts):
    profile = Profile.objects.create(account=account, first_name=name)
    for value in contacts:
        kind = "email" if "@" in value else "phone"
        Contact.objects.create(account=account, profile=profile, kind=kind, value=value)
    return profile


@pytest.fixture
def people(account, other_account):
    found = {
        "sms": person(account, "sms", "+385912345678"),
        "all": person(account, "all", "+385912345679", "x@free.net"),
        "domain": person(account, "domain", "ana@example.org"),
        "email_domain": person(account, "email_domain", "bo@shop.hr", "+385911111111"),
        "sub": person(account, "sub", "cy@mail.example.org"),  # a subdomain is another domain
        "lookalike": person(account, "lookalike", "dee@notexample.org"),
        "viber": person(account, "viber", "+385912345670"),
        "clean": person(account, "clean", "+385912345671", "clean@free.net"),
        "legacy": person(account, "legacy", "z@legacy.org"),
        "nobody": Profile.objects.create(account=account, first_name="nobody"),
    }
    dnc_services.dnc_entries_add(
        accounts=[account],
        entries=[
            {"contact": "+385912345678", "channel": "SMS"},
            {"contact": "+385912345679"},
            {"contact": "example.org"},
            {"contact": "shop.hr", "channel": "EMAIL"},
            {"contact": "+385912345670", "channel": "VIBER", "sender": "Shop"},
        ],
        source=Source.IMPORT,
    )
    dnc_services.dnc_entries_add(
        accounts=[other_account],
        entries=[{"contact": "clean@free.net"}, {"contact": "free.net"}],
        source=Source.API,
    )
    # The service files email and domain entries under Email; a row with a blank channel (older
    # data, or written by hand) still means every channel.
    entry = DncEntry.objects.create(kind=Kind.DOMAIN, value="legacy.org")
    DncEntryAccount.objects.create(entry=entry, account=account, kind=Kind.DOMAIN, value="legacy.org")
    return found


def rule(channel, operator="is"):
    condition = {"attribute": "dnc", "operator": operator, "value": channel}
    return {"version": 1, "attributes": {"match": "all", "conditions": [condition]}}


def matching(account, people, the_rule) -> set[str]:
    ids = set(selectors.rule_queryset(account=account, rule=the_rule).values_list("pk", flat=True))
    assert selectors.rule_count(account=account, rule=the_rule, cached=False) == len(ids)
    # The form a count compiles on PostgreSQL (`id IN (blocked set)`) selects the same profiles.
    hashed = Compiler(account, hashed_sets=True).queryset(the_rule)
    assert set(hashed.values_list("pk", flat=True)) == ids
    return {name for name, profile in people.items() if profile.pk in ids}


EXPECTED = {
    "any": {"sms", "all", "domain", "email_domain", "viber", "legacy"},
    "SMS": {"sms", "all", "legacy"},
    "EMAIL": {"all", "domain", "email_domain", "legacy"},
    "VIBER": {"all", "viber", "legacy"},
    "PUSH": {"all", "legacy"},
}


@pytest.mark.parametrize("inline", [True, False], ids=["ranges", "join"])
@pytest.mark.parametrize(("channel", "expected"), EXPECTED.items())
def test_it_blocks_by_contact_domain_and_channel(account, people, monkeypatch, inline, channel, expected):
    if not inline:
        monkeypatch.setattr(dnc_selectors, "DOMAINS_INLINE", 0)
    assert matching(account, people, rule(channel)) == expected
    assert matching(account, people, rule(channel, "is_not")) == set(people) - expected


def test_entries_block_only_in_their_accounts(account, other_account, people):
    """clean@free.net and free.net are blocked in other_account only."""
    theirs = person(other_account, "theirs", "clean@free.net")
    other = set(selectors.rule_queryset(account=other_account, rule=rule("any")).values_list("pk", flat=True))
    assert other == {theirs.pk}
    assert "clean" not in matching(account, people, rule("any"))
