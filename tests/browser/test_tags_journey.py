from __future__ import annotations

from django.core.cache import cache

from audience import services
from tags.models import ProfileTag
from tests.browser.conftest import shot


def test_it_adds_a_new_tag_to_the_selected_rows(page, marketer):
    account, _ = marketer
    ana = services.profile_create(account=account, fields={"first_name": "Ana", "last_name": "Horvat"})
    ben = services.profile_create(account=account, fields={"first_name": "Ben", "last_name": "Smith"})
    services.profile_create(account=account, fields={"first_name": "Cleo", "last_name": "Dubois"})
    cache.clear()
    page.goto("/people/")
    page.wait_for_selector("[data-count='3']")
    page.get_by_label("Select Ana Horvat").check()
    page.get_by_label("Select Ben Smith").check()
    page.get_by_role("button", name="Manage tags").click()
    page.wait_for_url("**/tags/**")
    page.fill("#bulk-new", "Spring promo")
    shot(page, "08-manage-tags")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_load_state("networkidle")
    tagged = set(ProfileTag.objects.filter(tag__name="Spring promo").values_list("profile_id", flat=True))
    assert tagged == {ana.pk, ben.pk}
    page.goto("/tags/")
    page.get_by_text("Spring promo").first.wait_for()
    shot(page, "09-tags")
