"""Shared fixtures: an account with an owner (admin), a teammate (marketer) and a viewer, and an
outsider who is admin of another account. Every view is tested for all of them."""

from __future__ import annotations

import os

import pytest
from django.conf import settings
from django.test import Client, override_settings

from audience import services
from audience.celery import app as celery_app
from audience.models import Account, Role

PASSWORD = "correct horse battery staple"

# The suite's settings made up a key (kept in var/); workers and servers that tests start as
# subprocesses are given the same one, as a deployment gives every process its SECRET_KEY.
os.environ.setdefault("SECRET_KEY", settings.SECRET_KEY)


@pytest.fixture(autouse=True, scope="session")
def _fast_password_hasher():
    # PBKDF2 with a million iterations costs ~0.5 s a user on this machine, and most tests create
    # up to four: a throwaway hash keeps the suite about tests, not key stretching.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield


@pytest.fixture(autouse=True)
def _eager_celery():
    # Tasks run in-process in tests; tests of the real worker start one explicitly.
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager = False


@pytest.fixture(autouse=True)
def _empty_cache():
    # Cached counts are keyed by account id, and ids repeat between tests (rolled back
    # transactions, SQLite reuses them): every test starts with an empty cache.
    from django.core.cache import cache

    cache.clear()


def _user(django_user_model, username: str):
    return django_user_model.objects.create_user(username=username, password=PASSWORD)


@pytest.fixture
def account(db) -> Account:
    return services.account_create(name="Acme", time_zone="Europe/Zagreb")


@pytest.fixture
def other_account(db) -> Account:
    return services.account_create(name="Globex", time_zone="UTC")


@pytest.fixture
def owner(account, django_user_model):
    user = _user(django_user_model, "alice")
    services.membership_set(account=account, user=user, role=Role.ADMIN)
    return user


@pytest.fixture
def teammate(account, django_user_model):
    user = _user(django_user_model, "bob")
    services.membership_set(account=account, user=user, role=Role.MARKETER)
    return user


@pytest.fixture
def viewer(account, django_user_model):
    user = _user(django_user_model, "vera")
    services.membership_set(account=account, user=user, role=Role.VIEWER)
    return user


@pytest.fixture
def outsider(other_account, django_user_model):
    user = _user(django_user_model, "mallory")
    services.membership_set(account=other_account, user=user, role=Role.ADMIN)
    return user


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner) -> Client:
    return _client_for(owner)


@pytest.fixture
def teammate_client(teammate) -> Client:
    return _client_for(teammate)


@pytest.fixture
def viewer_client(viewer) -> Client:
    return _client_for(viewer)


@pytest.fixture
def outsider_client(outsider) -> Client:
    return _client_for(outsider)
