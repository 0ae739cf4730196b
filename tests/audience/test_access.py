from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from audience import services
from audience.models import Notification, Role


@pytest.fixture
def profile(account):
    return services.profile_create(account=account, fields={"first_name": "Ana", "last_name": "Horvat"})


def test_it_sends_anonymous_visitors_to_the_login_page(db):
    response = Client().get(reverse("audience:people"))
    assert response.status_code == 302
    assert response.url.startswith(reverse("login"))


def test_the_login_page_signs_a_member_in(owner):
    client = Client()
    assert client.get(reverse("login")).status_code == 200
    response = client.post(
        reverse("login"), {"username": "alice", "password": "correct horse battery staple"}
    )
    assert response.status_code == 302
    assert client.get(reverse("audience:people")).status_code == 200


@pytest.mark.parametrize("who", ["owner_client", "teammate_client", "viewer_client"])
def test_members_see_the_profile(request, who, profile):
    client = request.getfixturevalue(who)
    response = client.get(reverse("audience:profile", args=[profile.pk]))
    assert response.status_code == 200
    assert b"Ana Horvat" in response.content


def test_an_outsider_gets_404_for_another_accounts_profile(outsider_client, profile):
    response = outsider_client.get(reverse("audience:profile", args=[profile.pk]))
    assert response.status_code == 404
    assert b"Horvat" not in response.content


def test_a_user_without_an_account_is_told_so(django_user_model):
    user = django_user_model.objects.create_user("lonely", password="x-password-1")
    client = Client()
    client.force_login(user)
    response = client.get(reverse("audience:people"))
    assert response.status_code == 403
    assert b"not a member of any account" in response.content


def test_a_member_of_two_accounts_switches_between_them(owner, other_account, profile):
    services.membership_set(account=other_account, user=owner, role=Role.VIEWER)
    client = Client()
    client.force_login(owner)
    assert client.get(reverse("audience:profile", args=[profile.pk])).status_code == 200
    response = client.post(reverse("audience:account_switch", args=[other_account.pk]), {"next": "/people/"})
    assert response.status_code == 302 and response.url == "/people/"
    assert client.get(reverse("audience:profile", args=[profile.pk])).status_code == 404
    assert b"Globex" in client.get(reverse("audience:people")).content


def test_switching_to_an_account_one_is_not_in_is_404(owner_client, other_account):
    response = owner_client.post(reverse("audience:account_switch", args=[other_account.pk]))
    assert response.status_code == 404


def test_switch_ignores_an_offsite_next(owner, other_account):
    services.membership_set(account=other_account, user=owner, role=Role.VIEWER)
    client = Client()
    client.force_login(owner)
    response = client.post(
        reverse("audience:account_switch", args=[other_account.pk]), {"next": "https://evil.example/"}
    )
    assert response.url == reverse("audience:people")


def test_notifications_are_listed_opened_and_marked_read(
    owner_client, owner, account, outsider, other_account
):
    mine = services.notification_create(
        account=account, user=owner, message="Import finished", url="/people/"
    )
    theirs = services.notification_create(account=other_account, user=outsider, message="Secret")
    page = owner_client.get(reverse("audience:notifications"))
    assert b"Import finished" in page.content and b"Secret" not in page.content
    assert owner_client.get(reverse("audience:notification_open", args=[theirs.pk])).status_code == 404
    response = owner_client.get(reverse("audience:notification_open", args=[mine.pk]))
    assert response.status_code == 302 and response.url == "/people/"
    assert Notification.objects.get(pk=mine.pk).read_at is not None
    services.notification_create(account=account, user=owner, message="Export ready")
    owner_client.post(reverse("audience:notifications_read_all"))
    assert not Notification.objects.filter(user=owner, read_at__isnull=True).exists()


def test_the_unread_count_shows_in_the_bell(owner_client, owner, account):
    services.notification_create(account=account, user=owner, message="Done")
    response = owner_client.get(reverse("audience:people"))
    assert b"Notifications, 1 unread" in response.content


def test_health_reports_database_and_broker(db, client):
    response = client.get(reverse("healthz"))
    body = response.json()
    assert response.status_code == 200, body
    assert body == {
        "status": "ok",
        "checks": ["database: ok", "broker: ok"],
        "counts": {"engine": "orm"},
    }


def test_admin_lists_every_model_for_staff(admin_client, profile):
    for name in [
        "account",
        "membership",
        "profile",
        "contact",
        "company",
        "attributedefinition",
        "eventdefinition",
        "event",
        "notification",
    ]:
        response = admin_client.get(reverse(f"admin:audience_{name}_changelist"))
        assert response.status_code == 200, name
    response = admin_client.get(reverse("admin:audience_profile_change", args=[profile.pk]))
    assert response.status_code == 200


def test_a_notification_made_a_moment_ago_says_now(owner_client, owner, account):
    services.notification_create(account=account, user=owner, message="Import finished")
    page = owner_client.get(reverse("audience:notifications")).content.decode()
    assert "0 minutes ago" not in page
    assert ">just now<" in page
