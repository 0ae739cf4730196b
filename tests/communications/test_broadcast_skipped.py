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
    next_url = re.search(r'rel="next" href="[^"?]*\?(missing_after=\d+)', missing).group(1)
    second = teammate_client.get(
        f"{broadcast.get_absolute_url()}?part=missing&{next_url}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert second.lstrip().startswith('<section class="card mt-3" id="skipped-missing"')
    assert "P20" in second and "P22" in second and "P00" not in second and 'rel="next"' not in second


def _names(section: str) -> list[str]:
    return re.findall(r'">(P\d\d)</a>', section)


def _link(section: str, rel: str) -> str | None:
    found = re.search(rf'rel="{rel}" href="[^"?]*\?(\w+_(?:after|before)=\d+)', section)
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
        f"{url}?part=missing&{_link(third, 'prev')}", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert fragment.lstrip().startswith('<section class="card mt-3" id="skipped-missing"') and _names(
        _section(fragment, "missing")
    ) == _names(second)


def _href(section: str, name: str) -> str:
    """The link's `href` (the full page) and `hx-get` (the list alone), unescaped."""
    tag = re.search(rf"<a [^>]*>[^<]*{name}[^<]*</a>", section).group(0)
    href = re.search(r'href="([^"]*)"', tag).group(1).replace("&amp;", "&")
    return href.split("#")[0], re.search(r'hx-get="([^"]*)"', tag).group(1).replace("&amp;", "&")


def _two_long_lists(account):
    page = selectors.SKIPPED_PAGE
    blocked = [make_profile(account, f"B{i:02}", phones=[f"+3859123450{i:02}"]) for i in range(page + 2)]
    for profile in blocked:
        block([account], profile.contacts.get().value)
    missing = [make_profile(account, f"P{i:02}") for i in range(page + 2)]
    return send(broadcast_for(account, [*blocked, *missing]))


def _blocked_names(section: str) -> list[str]:
    return re.findall(r'">(B\d\d)</a>', section)


def test_paging_one_list_keeps_the_others_page(teammate_client, account):
    """Each list has its own parameters: a link of one list moves it and carries the other's."""
    page = selectors.SKIPPED_PAGE
    broadcast = _two_long_lists(account)
    html = teammate_client.get(broadcast.get_absolute_url()).content.decode()
    missing_next, _ = _href(_section(html, "missing"), "Next page")
    html = teammate_client.get(missing_next).content.decode()
    assert _names(_section(html, "missing")) == ["P20", "P21"]
    assert _blocked_names(_section(html, "blocked")) == [f"B{i:02}" for i in range(page)]
    blocked_next, _ = _href(_section(html, "blocked"), "Next page")
    assert "missing_after=" in blocked_next and "part=" not in blocked_next
    html = teammate_client.get(blocked_next).content.decode()
    assert _blocked_names(_section(html, "blocked")) == ["B20", "B21"]
    assert _names(_section(html, "missing")) == ["P20", "P21"]  # still its second page
    first, _ = _href(_section(html, "missing"), "First page")
    html = teammate_client.get(first).content.decode()
    assert _names(_section(html, "missing")) == [f"P{i:02}" for i in range(page)]
    assert _blocked_names(_section(html, "blocked")) == ["B20", "B21"]  # First moved only its list
    previous, _ = _href(_section(html, "blocked"), "Previous page")
    html = teammate_client.get(previous).content.decode()
    assert _blocked_names(_section(html, "blocked")) == [f"B{i:02}" for i in range(page)]
    assert _names(_section(html, "missing")) == [f"P{i:02}" for i in range(page)]


def test_htmx_swaps_only_the_list_paged(teammate_client, account):
    broadcast = _two_long_lists(account)
    html = teammate_client.get(broadcast.get_absolute_url()).content.decode()
    section = _section(html, "missing")
    assert 'hx-target="#skipped-missing" hx-swap="outerHTML"' in section
    _, hx_get = _href(section, "Next page")
    assert "part=missing" in hx_get
    fragment = teammate_client.get(hx_get, HTTP_HX_REQUEST="true").content.decode().strip()
    assert fragment.startswith('<section class="card mt-3" id="skipped-missing"')
    assert fragment.endswith("</section>") and fragment.count("<section") == 1
    assert "skipped-blocked" not in fragment and "Delivery" not in fragment
    assert _names(fragment) == ["P20", "P21"]
    # The fragment's own links keep the list's place for a full page too, without `part`.
    href, hx_get = _href(fragment, "Previous page")
    assert "part=" not in href and "part=missing" in hx_get
    # Without htmx the same URL is the whole page.
    whole = teammate_client.get(hx_get).content.decode()
    assert "<html" in whole and _section(whole, "blocked") and _section(whole, "missing")


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
