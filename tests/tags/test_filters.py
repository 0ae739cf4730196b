from __future__ import annotations

import re

from django.http import QueryDict

from audience.selection import profiles_matching
from tags import services
from tests.factories import ProfileFactory


def _matching(account, query: str) -> set[int]:
    q = QueryDict(query)
    return set(
        profiles_matching(account=account, filters={k: q.getlist(k) for k in q}).values_list("pk", flat=True)
    )


def test_it_filters_people_by_any_or_all_of_the_tags(account, other_account):
    a, b, c, d = ProfileFactory.create_batch(4, account=account)
    stranger = ProfileFactory(account=other_account)
    vip = services.tag_create(account=account, name="VIP")
    news = services.tag_create(account=account, name="Newsletter")
    services.tags_add(account=account, tags=[vip], profile_ids=[a.pk, b.pk])
    services.tags_add(account=account, tags=[news], profile_ids=[b.pk, c.pk])
    services.tags_add(
        account=other_account,
        tags=[services.tag_create(account=other_account, name="VIP")],
        profile_ids=[stranger.pk],
    )
    assert _matching(account, "tag=VIP") == {a.pk, b.pk}
    assert _matching(account, "tag=vip&tag=Newsletter") == {a.pk, b.pk, c.pk}
    assert _matching(account, "tag=vip&tag=Newsletter&tag_match=any") == {a.pk, b.pk, c.pk}
    assert _matching(account, "tag=VIP&tag=Newsletter&tag_match=all") == {b.pk}
    assert _matching(account, "") == {a.pk, b.pk, c.pk, d.pk}


def test_it_shows_the_tag_filter_on_people(owner_client, account):
    services.tag_create(account=account, name="VIP")
    response = owner_client.get("/people/?tag=VIP&tag_match=all")
    assert response.status_code == 200
    body = response.content.decode()
    assert '<option value="all" selected>All</option>' in body and "at least one of the chosen tags" in body
    # The Tags filter is a list of checkboxes: the chosen tag's box is ticked.
    assert re.search(r'<input[^>]*type="checkbox" name="tag" value="VIP"[^>]* checked>', body)
