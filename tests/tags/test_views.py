"""Every Tags screen through its URL for the owner, a teammate (marketer), a viewer and an outsider."""

from __future__ import annotations

import pytest

from audience.models import Company
from audience.selection import Selection
from tags import services
from tags.models import ProfileTag, Tag, TagBulkJob
from tests.factories import ProfileFactory


@pytest.fixture
def vip(account):
    tag = services.tag_create(account=account, name="VIP")
    people = ProfileFactory.create_batch(3, account=account)
    services.tags_add(account=account, tags=[tag], profile_ids=[p.pk for p in people])
    return tag


@pytest.fixture
def profile(account):
    return ProfileFactory(account=account, first_name="Ann")


@pytest.fixture
def company(account):
    return Company.objects.create(account=account, name="Acme Ltd")


# -- the list ---------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_it_lists_tags_and_loads_their_counts_for_members(request, who, vip, company):
    services.company_tag_add(company=company, name="VIP")
    client = request.getfixturevalue(who)
    response = client.get("/tags/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "VIP" in body and 'href="/people/?tag=VIP"' in body
    assert f'hx-get="/tags/stats/?ids={vip.pk}"' in body
    assert ("Create tag" in body) is (who != "viewer_client")
    stats = client.get(f"/tags/stats/?ids={vip.pk}", headers={"HX-Request": "true"}).content.decode()
    assert f'<span id="tag-{vip.pk}-persons" hx-swap-oob="true" data-testid="persons-count">3</span>' in stats
    assert (
        f'<span id="tag-{vip.pk}-companies" hx-swap-oob="true" data-testid="companies-count">1</span>'
        in stats
    )
    assert "<html" not in stats
    page = client.get(f"/tags/stats/?ids={vip.pk}").content.decode()  # without JavaScript: a page
    assert "<html" in page and "Tag counts" in page


def test_it_shows_an_outsider_none_of_the_accounts_tags(outsider_client, vip):
    response = outsider_client.get("/tags/")
    assert response.status_code == 200
    assert "VIP" not in response.content.decode()
    assert "There are no tags yet" in response.content.decode()
    stats = outsider_client.get(f"/tags/stats/?ids={vip.pk}", headers={"HX-Request": "true"})
    assert stats.status_code == 200 and "persons" not in stats.content.decode()


def test_it_answers_htmx_search_with_the_results_only(owner_client, vip, account):
    services.tag_create(account=account, name="Gold")
    response = owner_client.get("/tags/?q=gol", headers={"HX-Request": "true"})
    body = response.content.decode()
    assert body.lstrip().startswith('<div id="tag-results">')
    assert "Gold" in body and "VIP" not in body
    assert "HX-Request" in response["Vary"]


def test_it_shows_what_uses_a_tag(owner_client, vip, tag_used_by):
    tag_used_by({"VIP": ["segment “Big spenders”"]})
    body = owner_client.get(f"/tags/stats/?ids={vip.pk}", headers={"HX-Request": "true"}).content.decode()
    assert "In use" in body and "segment “Big spenders”" in body
    assert (
        f'<span id="tag-{vip.pk}-delete" hx-swap-oob="true"><button class="btn btn-sm btn-outline-danger" type="button" disabled'
        in body
    )


# -- create -----------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_creates_a_tag(request, who, account):
    response = request.getfixturevalue(who).post("/tags/new/", {"name": "Electronics wishlist"})
    assert response.status_code == 302
    assert Tag.objects.filter(account=account, name="Electronics wishlist").exists()


def test_it_refuses_a_duplicate_name_inline(owner_client, vip):
    response = owner_client.post("/tags/new/", {"name": "vip"})
    assert response.status_code == 400
    assert "A tag named “VIP” already exists." in response.content.decode()
    assert "is-invalid" in response.content.decode()


def test_it_forbids_a_viewer_to_create(viewer_client, account):
    assert viewer_client.post("/tags/new/", {"name": "X"}).status_code == 403
    assert not Tag.objects.filter(account=account).exists()


def test_it_creates_an_outsiders_tag_in_their_own_account(outsider_client, account, other_account):
    outsider_client.post("/tags/new/", {"name": "Mine"})
    assert not Tag.objects.filter(account=account).exists()
    assert Tag.objects.filter(account=other_account, name="Mine").exists()


# -- rename, duplicate, merge --------------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_renames(request, who, vip):
    client = request.getfixturevalue(who)
    assert client.get(f"/tags/{vip.pk}/rename/").status_code == 200
    response = client.post(f"/tags/{vip.pk}/rename/", {"name": "Very important"})
    assert response.status_code == 302
    vip.refresh_from_db()
    assert vip.name == "Very important"


def test_it_refuses_to_rename_a_tag_in_use(owner_client, vip, tag_used_by):
    tag_used_by({"VIP": ["flow “Welcome”"]})
    response = owner_client.post(f"/tags/{vip.pk}/rename/", {"name": "Gold"})
    assert response.status_code == 400
    assert "flow “Welcome”" in response.content.decode()


def test_it_duplicates(owner_client, vip, account):
    assert "VIP copy" in owner_client.get(f"/tags/{vip.pk}/duplicate/").content.decode()
    response = owner_client.post(f"/tags/{vip.pk}/duplicate/", {"name": "VIP copy"})
    assert response.status_code == 302
    copy = Tag.objects.get(account=account, name="VIP copy")
    assert ProfileTag.objects.filter(tag=copy).count() == 3


def test_it_merges(teammate_client, vip, account, profile):
    gold = services.profile_tag_add(profile=profile, name="Gold")
    assert "Gold" in teammate_client.get(f"/tags/{vip.pk}/merge/").content.decode()
    response = teammate_client.post(f"/tags/{vip.pk}/merge/", {"target": gold.pk})
    assert response.status_code == 302
    assert not Tag.objects.filter(pk=vip.pk).exists()
    assert ProfileTag.objects.filter(tag=gold).count() == 4


def test_it_refuses_to_merge_away_a_tag_in_use(owner_client, vip, profile, tag_used_by):
    gold = services.profile_tag_add(profile=profile, name="Gold")
    tag_used_by({"VIP": ["segment “Big spenders”"]})
    assert "can't be merged away" in owner_client.get(f"/tags/{vip.pk}/merge/").content.decode()
    response = owner_client.post(f"/tags/{vip.pk}/merge/", {"target": gold.pk})
    assert response.status_code == 400
    assert Tag.objects.filter(pk=vip.pk).exists()


def test_it_refuses_to_merge_into_another_accounts_tag(owner_client, vip, other_account):
    theirs = services.tag_create(account=other_account, name="Theirs")
    response = owner_client.post(f"/tags/{vip.pk}/merge/", {"target": theirs.pk})
    assert response.status_code == 400
    assert Tag.objects.filter(pk=vip.pk).exists()


@pytest.mark.parametrize("path", ["rename", "duplicate", "merge"])
def test_it_forbids_a_viewer_and_hides_from_an_outsider(viewer_client, outsider_client, vip, path):
    assert viewer_client.get(f"/tags/{vip.pk}/{path}/").status_code == 403
    assert viewer_client.post(f"/tags/{vip.pk}/{path}/", {"name": "X"}).status_code == 403
    assert outsider_client.get(f"/tags/{vip.pk}/{path}/").status_code == 404
    assert outsider_client.post(f"/tags/{vip.pk}/{path}/", {"name": "X"}).status_code == 404
    vip.refresh_from_db()
    assert vip.name == "VIP"


# -- delete -------------------------------------------------------------------------------------


def test_it_deletes_several_tags(owner_client, vip, account):
    old = services.tag_create(account=account, name="Old")
    response = owner_client.post("/tags/delete/", {"ids": [vip.pk, old.pk]})
    assert response.status_code == 302
    assert not Tag.objects.filter(account=account).exists()
    assert not ProfileTag.objects.exists()


def test_it_deletes_only_the_rows_own_tag(teammate_client, vip, account):
    old = services.tag_create(account=account, name="Old")
    teammate_client.post("/tags/delete/", {"ids": [vip.pk], "one": old.pk})
    assert list(Tag.objects.filter(account=account)) == [vip]


def test_it_refuses_to_delete_a_tag_in_use_and_says_why(owner_client, vip, account, tag_used_by):
    old = services.tag_create(account=account, name="Old")
    tag_used_by({"VIP": ["segment “Big spenders”"]})
    response = owner_client.post("/tags/delete/", {"ids": [vip.pk, old.pk]}, follow=True)
    assert "Nothing was deleted: “VIP” is used by segment “Big spenders”." in response.content.decode()
    assert Tag.objects.filter(account=account).count() == 2


def test_it_forbids_a_viewer_to_delete(viewer_client, vip):
    assert viewer_client.post("/tags/delete/", {"ids": [vip.pk]}).status_code == 403
    assert Tag.objects.filter(pk=vip.pk).exists()


def test_it_does_not_delete_another_accounts_tag(outsider_client, vip):
    outsider_client.post("/tags/delete/", {"ids": [vip.pk]})
    assert Tag.objects.filter(pk=vip.pk).exists()


# -- "Manage tags" from People ----------------------------------------------------------------


def test_it_tags_selected_rows_now(owner_client, account, profile, settings):
    settings.BULK_SYNC_LIMIT = 5
    other = ProfileFactory(account=account)
    first = owner_client.post("/tags/bulk/", {"ids": [profile.pk, other.pk], "query": "city=London"})
    body = first.content.decode()
    assert "<strong>2</strong> selected profiles" in body and "bulk-warning" not in body
    response = owner_client.post(
        "/tags/bulk/", {"ids": [profile.pk, other.pk], "query": "city=London", "new": "Fresh", "apply": "1"}
    )
    assert response.status_code == 302 and response["Location"] == "/people/?city=London"
    assert ProfileTag.objects.filter(tag__name="Fresh").count() == 2
    assert not TagBulkJob.objects.exists()


def test_it_asks_for_tags_to_change(owner_client, profile):
    response = owner_client.post("/tags/bulk/", {"ids": [profile.pk], "apply": "1"})
    assert response.status_code == 400
    assert "Choose tags to add or to remove." in response.content.decode()


def test_it_forbids_a_viewer_to_manage_tags(viewer_client, profile):
    assert (
        viewer_client.post("/tags/bulk/", {"ids": [profile.pk], "new": "X", "apply": "1"}).status_code == 403
    )
    assert not Tag.objects.exists()


def test_it_never_tags_another_accounts_profiles(outsider_client, profile, other_account):
    outsider_client.post("/tags/bulk/", {"ids": [profile.pk], "new": "Mine", "apply": "1"})
    assert not ProfileTag.objects.filter(profile=profile).exists()


def test_it_shows_a_job_to_members_and_hides_it_from_outsiders(
    account, owner, viewer_client, outsider_client, teammate_client
):
    tag = services.tag_create(account=account, name="VIP")
    job = TagBulkJob.objects.create(
        account=account,
        created_by=owner,
        selection=Selection(filters={}).to_json(),
        add_tag_ids=[tag.pk],
        total=10,
    )
    page = viewer_client.get(f"/tags/jobs/{job.pk}/")
    assert page.status_code == 200
    assert 'hx-trigger="every 1s"' in page.content.decode()  # still queued: the page polls
    assert "Stop" not in page.content.decode()
    assert outsider_client.get(f"/tags/jobs/{job.pk}/").status_code == 404
    assert outsider_client.post(f"/tags/jobs/{job.pk}/cancel/").status_code == 404
    assert viewer_client.post(f"/tags/jobs/{job.pk}/cancel/").status_code == 403
    assert teammate_client.post(f"/tags/jobs/{job.pk}/cancel/").status_code == 302
    job.refresh_from_db()
    assert job.status == "cancelled"


# -- profile and company panels -----------------------------------------------------------------


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_adds_and_removes_a_profiles_tag_in_its_panel(request, who, profile, vip):
    client = request.getfixturevalue(who)
    url = f"/tags/profile/{profile.pk}/"
    response = client.post(url, {"name": "vip"}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert 'id="tags-profile-panel"' in response.content.decode() and "VIP" in response.content.decode()
    assert ProfileTag.objects.filter(profile=profile, tag=vip).exists()
    client.post(url, {"name": "Brand new"}, headers={"HX-Request": "true"})
    assert Tag.objects.filter(name="Brand new").exists()
    response = client.post(url, {"remove": vip.pk})
    assert response.status_code == 302 and response["Location"] == f"/people/{profile.pk}/"
    assert not ProfileTag.objects.filter(profile=profile, tag=vip).exists()


def test_it_shows_a_profiles_tags_to_a_viewer_without_forms(viewer_client, profile, account):
    services.profile_tag_add(profile=profile, name="VIP")
    response = viewer_client.get(f"/tags/profile/{profile.pk}/")
    assert response.status_code == 200
    assert "VIP" in response.content.decode() and "<form" not in response.content.decode()
    assert viewer_client.post(f"/tags/profile/{profile.pk}/", {"name": "X"}).status_code == 403
    assert not Tag.objects.filter(name="X").exists()


def test_it_refuses_an_empty_tag_name_inline(owner_client, profile):
    response = owner_client.post(
        f"/tags/profile/{profile.pk}/", {"name": "  "}, headers={"HX-Request": "true"}
    )
    # 200: htmx 2 swaps no 4xx answer, and the person must see why nothing was added.
    assert response.status_code == 200
    assert "is-invalid" in response.content.decode()
    assert "Enter a tag name" in response.content.decode()
    assert owner_client.post(f"/tags/profile/{profile.pk}/", {"name": "  "}).status_code == 400


def test_it_hides_panels_from_an_outsider(outsider_client, profile, company):
    for url in (f"/tags/profile/{profile.pk}/", f"/tags/company/{company.pk}/"):
        assert outsider_client.get(url).status_code == 404
        assert outsider_client.post(url, {"name": "X"}).status_code == 404
    assert not Tag.objects.filter(name="X").exists()


def test_it_does_not_remove_another_accounts_tag_from_the_panel(
    outsider_client, owner_client, profile, other_account
):
    theirs = services.tag_create(account=other_account, name="Theirs")
    assert owner_client.post(f"/tags/profile/{profile.pk}/", {"remove": theirs.pk}).status_code == 404


def test_it_tags_a_company_in_its_panel(teammate_client, viewer_client, company):
    url = f"/tags/company/{company.pk}/"
    assert "No tags on this company yet." in viewer_client.get(url).content.decode()
    response = teammate_client.post(url, {"name": "Partner"}, headers={"HX-Request": "true"})
    assert response.status_code == 200 and "Partner" in response.content.decode()
    assert viewer_client.post(url, {"name": "Other"}).status_code == 403
    assert "Partner" in viewer_client.get(url).content.decode()


def test_it_keeps_large_ids_free_of_thousand_separators(owner_client, account):
    big = ProfileFactory(account=account, pk=1234567)
    tag = Tag.objects.create(account=account, name="Big", pk=7654321)
    body = owner_client.post("/tags/bulk/", {"ids": [big.pk]}).content.decode()
    assert 'name="ids" value="1234567"' in body and 'value="7654321"' in body
    response = owner_client.post("/tags/bulk/", {"ids": [big.pk], "add": [tag.pk], "apply": "1"})
    assert response.status_code == 302
    assert ProfileTag.objects.filter(profile=big, tag=tag).exists()
    assert 'value="7654321"' in owner_client.get(f"/tags/profile/{big.pk}/").content.decode()
    assert 'id="tag-7654321-persons"' in owner_client.get("/tags/").content.decode()


def test_it_counts_in_the_admin(client, django_user_model, vip, account):
    admin_user = django_user_model.objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin_user)
    response = client.get("/admin/tags/tag/")
    assert response.status_code == 200
    assert '<td class="field-persons">3</td>' in response.content.decode()
    for path in ("/admin/tags/profiletag/", "/admin/tags/companytag/", "/admin/tags/tagbulkjob/"):
        assert client.get(path).status_code == 200
