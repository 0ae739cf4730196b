from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from audience.models import Company
from tags import services
from tags.models import CompanyTag, ProfileTag, Tag
from tests.factories import ProfileFactory


def _links(tag: Tag) -> set[int]:
    return set(ProfileTag.objects.filter(tag=tag).values_list("profile_id", flat=True))


def test_it_keeps_names_unique_regardless_of_case(account, other_account):
    vip = services.tag_create(account=account, name="VIP")
    with pytest.raises(ValidationError, match="already exists"):
        services.tag_create(account=account, name="vip")
    assert services.tag_get_or_create(account=account, name="  vIp ") == vip
    assert services.tag_create(account=other_account, name="vip").account == other_account
    assert Tag.objects.filter(account=account).count() == 1


def test_it_refuses_empty_and_too_long_names(account):
    with pytest.raises(ValidationError):
        services.tag_create(account=account, name="   ")
    with pytest.raises(ValidationError, match="256"):
        services.tag_create(account=account, name="x" * 257)
    assert services.tag_create(account=account, name="x" * 256).name == "x" * 256


def test_it_adds_and_removes_idempotently_within_the_account(account, other_account):
    ours = ProfileFactory.create_batch(3, account=account)
    theirs = ProfileFactory(account=other_account)
    tag = services.tag_create(account=account, name="VIP")
    ids = [p.pk for p in ours] + [theirs.pk]
    assert services.tags_add(account=account, tags=[tag], profile_ids=ids) == 3
    assert services.tags_add(account=account, tags=[tag], profile_ids=ids) == 0
    assert _links(tag) == {p.pk for p in ours}
    assert services.tags_remove(account=account, tags=[tag], profile_ids=[ours[0].pk]) == 1
    assert services.tags_remove(account=account, tags=[tag], profile_ids=[ours[0].pk]) == 0
    assert _links(tag) == {ours[1].pk, ours[2].pk}


def test_it_refuses_another_accounts_tag(account, other_account):
    foreign = services.tag_create(account=other_account, name="VIP")
    profile = ProfileFactory(account=account)
    with pytest.raises(ValidationError):
        services.tags_add(account=account, tags=[foreign], profile_ids=[profile.pk])


def test_it_renames_and_refuses_a_taken_name(account):
    vip = services.tag_create(account=account, name="VIP")
    services.tag_create(account=account, name="Gold")
    with pytest.raises(ValidationError, match="Merge"):
        services.tag_rename(tag=vip, name="gold")
    assert services.tag_rename(tag=vip, name="Platinum").name == "Platinum"
    assert Tag.objects.get(pk=vip.pk).name == "Platinum"


def test_it_refuses_to_rename_a_tag_in_use_but_allows_a_change_of_case(account, tag_used_by):
    vip = services.tag_create(account=account, name="VIP")
    tag_used_by({"VIP": ["segment “Big spenders”"]})
    with pytest.raises(ValidationError, match="Big spenders"):
        services.tag_rename(tag=vip, name="Gold")
    assert services.tag_rename(tag=vip, name="Vip").name == "Vip"


def test_it_duplicates_a_tag_with_its_profiles_and_companies(account):
    people = ProfileFactory.create_batch(4, account=account)
    company = Company.objects.create(account=account, name="Acme")
    vip = services.tag_create(account=account, name="VIP")
    services.tags_add(account=account, tags=[vip], profile_ids=[p.pk for p in people[:3]])
    services.company_tag_add(company=company, name="VIP")
    copy = services.tag_duplicate(tag=vip, name="VIP copy")
    assert _links(copy) == {p.pk for p in people[:3]}
    assert CompanyTag.objects.filter(tag=copy, company=company).exists()
    assert _links(vip) == {p.pk for p in people[:3]}
    with pytest.raises(ValidationError, match="already exists"):
        services.tag_duplicate(tag=vip, name="vip COPY")


def test_it_merges_two_tags_without_duplicate_links(account):
    a, b, c = ProfileFactory.create_batch(3, account=account)
    vip = services.tag_create(account=account, name="VIP")
    gold = services.tag_create(account=account, name="Gold")
    services.tags_add(account=account, tags=[vip], profile_ids=[a.pk, b.pk])
    services.tags_add(account=account, tags=[gold], profile_ids=[b.pk, c.pk])
    merged = services.tag_merge(source=vip, target=gold)
    assert merged == gold
    assert _links(gold) == {a.pk, b.pk, c.pk}
    assert not Tag.objects.filter(pk=vip.pk).exists()
    assert ProfileTag.objects.count() == 3


def test_it_refuses_to_merge_away_a_tag_in_use(account, tag_used_by):
    vip = services.tag_create(account=account, name="VIP")
    gold = services.tag_create(account=account, name="Gold")
    tag_used_by({"VIP": ["flow “Welcome”"]})
    with pytest.raises(ValidationError, match="Welcome"):
        services.tag_merge(source=vip, target=gold)
    # merging another tag into the used one is fine: the used tag stays
    assert services.tag_merge(source=gold, target=vip) == vip


def test_it_refuses_to_delete_tags_in_use_naming_the_users(account, tag_used_by):
    vip = services.tag_create(account=account, name="VIP")
    old = services.tag_create(account=account, name="Old")
    tag_used_by({"VIP": ["segment “Big spenders”", "flow “Welcome”"]})
    with pytest.raises(ValidationError) as refused:
        services.tags_delete(account=account, tags=[vip, old])
    assert "segment “Big spenders”, flow “Welcome”" in refused.value.messages[0]
    assert Tag.objects.filter(account=account).count() == 2  # all or nothing
    assert services.tags_delete(account=account, tags=[old]) == 1


def test_it_deletes_a_tag_with_its_links(account):
    people = ProfileFactory.create_batch(3, account=account)
    vip = services.tag_create(account=account, name="VIP")
    services.tags_add(account=account, tags=[vip], profile_ids=[p.pk for p in people])
    services.tags_delete(account=account, tags=[vip])
    assert not ProfileTag.objects.exists()


def test_it_tags_one_profile_and_one_company_by_name(account):
    profile = ProfileFactory(account=account)
    company = Company.objects.create(account=account, name="Acme")
    tag = services.profile_tag_add(profile=profile, name="New one")
    assert services.profile_tag_add(profile=profile, name="NEW ONE") == tag
    assert _links(tag) == {profile.pk}
    services.profile_tag_remove(profile=profile, tag=tag)
    assert not _links(tag)
    services.company_tag_add(company=company, name="new one")
    services.company_tag_remove(company=company, tag=tag)
    assert not CompanyTag.objects.exists()
