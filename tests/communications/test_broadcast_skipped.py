"""A sent broadcast's page lists who was blocked by Do Not Contact and who had no destination,
each name linking to the profile, a page at a time (through the real URL)."""

from __future__ import annotations

import re

import pytest

from communications import selectors
from communications.models import MessageStatus
from tests.communications.conftest import block, broadcast_for, make_profile, send

pytestmark = pytest.mark.django_db


def _section(html: str, key: str) -> str:
    match = re.search(rf'<section class="card mt-3" id="skipped-{key}".*?</section>', html, re.S)
    return match.group(0) if match else ""


def test_it_lists_the_blocked_and_those_without_a_destination(teammate_client, account):
    ana = make_profile(account, "Ana", phones=["+385912345678"])
    ben = make_profile(account, "Ben", phones=["+385912345679"])
    cid = make_profile(account, "Cid")  # no phone
    block([account], "+385912345679")
    broadcast = send(broadcast_for(account, [ana, ben, cid]))
    html = teammate_client.get(broadcast.get_absolute_url()).content.decode()
    blocked, missing = _section(html, "blocked"), _section(html, "missing")
    assert "Blocked by Do Not Contact: 1 person" in blocked
    assert f'href="{ben.get_absolute_url()}">Ben</a>' in blocked and "+385912345679" in blocked
    assert "Ana" not in blocked and "Cid" not in blocked
    assert "Without a destination: 1 person" in missing
    assert f'href="{cid.get_absolute_url()}">Cid</a>' in missing and "no phone number" in missing


def test_the_lists_come_a_page_at_a_time(teammate_client, account):
    people = [make_profile(account, f"P{i:02}") for i in range(selectors.SKIPPED_PAGE + 3)]
    broadcast = send(broadcast_for(account, people))
    html = teammate_client.get(broadcast.get_absolute_url()).content.decode()
    missing = _section(html, "missing")
    assert f"Without a destination: {len(people)} people" in missing
    assert missing.count("list-group-item") == selectors.SKIPPED_PAGE and "P22" not in missing
    next_url = re.search(r'rel="next" href="\?(missing_after=\d+)', missing).group(1)
    second = teammate_client.get(
        f"{broadcast.get_absolute_url()}?part=skipped&{next_url}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert second.lstrip().startswith('<div id="broadcast-skipped">')
    assert "P20" in second and "P22" in second and "P00" not in second and 'rel="next"' not in second


def _names(section: str) -> list[str]:
    return re.findall(r'">(P\d\d)</a>', section)


def _link(section: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="\?(\w+_(?:after|before)=\d+)', section)
    return found.group(1) if found else None


def test_the_lists_page_back_with_previous(teammate_client, account):
    page = selectors.SKIPPED_PAGE
    people = [make_profile(account, f"P{i:02}") for i in range(2 * page + 3)]
    broadcast = send(broadcast_for(account, people))
    url = broadcast.get_absolute_url()

    def visit(query: str | None) -> str:
        return _section(teammate_client.get(f"{url}?{query}" if query else url).content.decode(), "missing")

    first = visit(None)
    assert _link(first, "prev") is None and "First page" not in first
    second = visit(_link(first, "next"))
    assert _names(second) == [f"P{i:02}" for i in range(page, 2 * page)]
    assert "First page" in second and _link(second, "next")
    third = visit(_link(second, "next"))
    assert _names(third) == [f"P{i:02}" for i in range(2 * page, 2 * page + 3)] and not _link(third, "next")
    back = visit(_link(third, "prev"))
    assert _names(back) == _names(second) and _link(back, "next") == _link(second, "next")
    start = visit(_link(back, "prev"))
    assert _names(start) == _names(first) and _link(start, "prev") is None and "First page" not in start
    assert _link(start, "next") == _link(first, "next")
    fragment = teammate_client.get(
        f"{url}?part=skipped&{_link(third, 'prev')}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.lstrip().startswith('<div id="broadcast-skipped">') and _names(
        _section(fragment, "missing")
    ) == _names(second)


def test_the_selector_pages_both_ways(account):
    page = selectors.SKIPPED_PAGE
    people = [make_profile(account, f"P{i:02}") for i in range(page + 2)]
    broadcast = send(broadcast_for(account, people))
    status = MessageStatus.NO_DESTINATION
    rows, next_after, previous = selectors.broadcast_skipped(broadcast=broadcast, status=status)
    assert len(rows) == page and next_after == rows[-1].pk and previous is None
    tail, none_after, back = selectors.broadcast_skipped(broadcast=broadcast, status=status, after=next_after)
    assert len(tail) == 2 and none_after is None and back == tail[0].pk
    again, again_next, again_previous = selectors.broadcast_skipped(
        broadcast=broadcast, status=status, before=back
    )
    assert (
        [r.pk for r in again] == [r.pk for r in rows] and again_next == next_after and again_previous is None
    )
