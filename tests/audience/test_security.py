from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clear_cache():
    cache.clear()
    yield
    cache.clear()


def test_pages_carry_a_csp_that_forbids_inline_scripts(owner_client):
    response = owner_client.get(reverse("audience:people"))
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp
    assert "unsafe-inline" not in csp.split("script-src")[1].split(";")[0]
    assert "frame-ancestors 'none'" in csp


def test_templates_hold_no_inline_script_or_event_handler_attributes():
    offenders = []
    for path in ROOT.glob("templates/**/*.html"):
        text = path.read_text()
        for match in re.finditer(r"<script(?![^>]*\bsrc=)[^>]*>", text):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
        for match in re.finditer(r"\son[a-z]+\s*=\s*[\"']", text):
            offenders.append(f"{path.relative_to(ROOT)}: {match.group(0)}")
    assert offenders == []


def test_user_data_is_escaped_in_pages(owner_client, account):
    from audience import services

    profile = services.profile_create(
        account=account, fields={"first_name": "<script>alert(1)</script>", "last_name": "=HYPERLINK(1)"}
    )
    response = owner_client.get(reverse("audience:profile", args=[profile.pk]))
    assert b"<script>alert(1)</script>" not in response.content
    assert b"&lt;script&gt;alert(1)&lt;/script&gt;" in response.content


def test_it_locks_out_a_username_after_repeated_failures(owner, settings):
    settings.LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(3):
        response = client.post(reverse("login"), {"username": "alice", "password": "wrong"})
        assert response.status_code == 200
    blocked = client.post(reverse("login"), {"username": "alice", "password": "correct horse battery staple"})
    assert blocked.status_code == 429
    assert b"Too many failed sign-ins" in blocked.content
    assert "_auth_user_id" not in client.session


def test_a_successful_sign_in_clears_the_failures(owner, settings):
    settings.LOGIN_MAX_FAILURES = 3
    client = Client()
    for _ in range(2):
        client.post(reverse("login"), {"username": "alice", "password": "wrong"})
    ok = client.post(reverse("login"), {"username": "alice", "password": "correct horse battery staple"})
    assert ok.status_code == 302
    client.logout()
    for _ in range(2):
        assert client.post(reverse("login"), {"username": "alice", "password": "wrong"}).status_code == 200


RIGHT = "correct horse battery staple"


def _sign_in(client: Client, username: str, password: str, address: str, forwarded: str | None = None):
    extra = {"REMOTE_ADDR": address}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def test_behind_the_proxy_a_strangers_failures_do_not_lock_the_owner_out(owner, settings):
    # Every request reaches the app from the proxy's address; the proxy appends the client's.
    settings.TRUSTED_PROXY_HOPS = 1
    stranger = Client()
    for _ in range(settings.LOGIN_MAX_FAILURES + 2):
        _sign_in(stranger, "alice", "wrong", "10.0.0.2", forwarded="203.0.113.9")
    assert _sign_in(stranger, "alice", RIGHT, "10.0.0.2", forwarded="203.0.113.9").status_code == 429
    owner_browser = Client()
    assert _sign_in(owner_browser, "alice", RIGHT, "10.0.0.2", forwarded="198.51.100.7").status_code == 302


def test_a_forged_forwarded_for_is_not_believed(owner, settings):
    settings.TRUSTED_PROXY_HOPS = 1
    guesser = Client()
    for n in range(settings.LOGIN_MAX_FAILURES):
        # The client writes its own X-Forwarded-For; the proxy appends the real address after it.
        _sign_in(guesser, "alice", "wrong", "10.0.0.2", forwarded=f"192.0.2.{n}, 203.0.113.9")
    assert (
        _sign_in(guesser, "alice", RIGHT, "10.0.0.2", forwarded="192.0.2.99, 203.0.113.9").status_code == 429
    )


def test_without_a_proxy_the_forwarded_header_is_the_clients_own_and_ignored(owner, settings):
    settings.TRUSTED_PROXY_HOPS = 0
    guesser = Client()
    for n in range(settings.LOGIN_MAX_FAILURES):
        _sign_in(guesser, "alice", "wrong", "203.0.113.9", forwarded=f"192.0.2.{n}")
    assert _sign_in(guesser, "alice", RIGHT, "203.0.113.9", forwarded="192.0.2.99").status_code == 429


def test_one_address_guessing_across_usernames_is_throttled(owner, settings):
    settings.LOGIN_MAX_FAILURES_PER_ADDRESS = 6
    sprayer = Client()
    for n in range(6):
        assert _sign_in(sprayer, f"user{n}", "wrong", "203.0.113.9").status_code == 200
    blocked = _sign_in(sprayer, "alice", RIGHT, "203.0.113.9")
    assert blocked.status_code == 429 and b"Too many failed sign-ins" in blocked.content
    assert _sign_in(Client(), "alice", RIGHT, "198.51.100.7").status_code == 302


def test_guesses_from_many_addresses_lock_new_browsers_but_never_the_owners(owner, settings):
    settings.LOGIN_MAX_FAILURES_PER_USERNAME = 6
    owner_browser = Client()
    assert _sign_in(owner_browser, "alice", RIGHT, "198.51.100.7").status_code == 302
    owner_browser.post(reverse("logout"))  # signs out; the browser keeps its cookies
    for n in range(6):
        _sign_in(Client(), "alice", "wrong", f"203.0.113.{n}")
    # A browser that never signed in as alice is refused, wherever it comes from ...
    assert _sign_in(Client(), "alice", RIGHT, "203.0.113.200").status_code == 429
    # ... but the owner's own browser still signs in with the right password.
    assert _sign_in(owner_browser, "alice", RIGHT, "198.51.100.8").status_code == 302


def _env(**overrides) -> dict:
    # The browser tests set DJANGO_ALLOW_ASYNC_UNSAFE for Playwright; a deployment never has it.
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_ALLOW_ASYNC_UNSAFE"}
    return {**env, **overrides}


def test_production_settings_pass_check_deploy_without_warnings():
    env = {
        **_env(),
        "DEBUG": "false",
        "SECRET_KEY": "x" * 20 + "a-long-random-production-secret-key-0123456789",
        "ALLOWED_HOSTS": "audience.example.com",
        "SECURE_COOKIES": "true",
        "SECURE_SSL_REDIRECT": "true",
        "SECURE_HSTS_SECONDS": "31536000",
        "BEHIND_PROXY": "true",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def _manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=_env(**env),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_it_refuses_to_start_without_a_secret_key_when_debug_is_off():
    result = _manage("check", DEBUG="false", SECRET_KEY="", DATABASE_URL="postgres://db.example/audience")
    assert result.returncode != 0
    assert "SECRET_KEY must be set when DEBUG is off" in result.stderr


def test_the_embedded_default_makes_up_a_key_once_and_keeps_it(tmp_path):
    key_file = tmp_path / "var" / "secret_key"
    show = "from django.conf import settings; print(settings.SECRET_KEY)"
    env = {"DEBUG": "false", "SECRET_KEY": "", "DATABASE_URL": "", "SECRET_KEY_FILE": str(key_file)}
    first = _manage("shell", "-c", show, **env)
    assert first.returncode == 0, first.stderr
    key = first.stdout.strip().splitlines()[-1]
    assert len(key) >= 50 and key == key_file.read_text().strip()
    assert "insecure" not in key
    assert key_file.stat().st_mode & 0o077 == 0
    assert _manage("shell", "-c", show, **env).stdout.strip().splitlines()[-1] == key
    assert _manage("check", "--deploy", **env).stdout.count("SECRET_KEY") == 0


def test_a_bad_setting_value_stops_start_up_naming_the_variable():
    env = _env(DEBUG="maybe")
    result = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode != 0
    assert "DEBUG='maybe': expected true or false" in result.stderr


def test_a_nul_character_in_a_query_or_form_is_a_400_naming_the_field(owner_client, account):
    """PostgreSQL text can't hold NUL: refused up front, never a database error and a 500."""
    response = owner_client.get(reverse("audience:people"), {"q": "ana\x00"})
    assert response.status_code == 400 and "q contains a NUL character" in response.content.decode()
    response = owner_client.post(reverse("audience:profile_create"), {"first_name": "A\x00"})
    assert response.status_code == 400 and "first_name" in response.content.decode()
    assert owner_client.get(reverse("audience:people"), {"q": "ana"}).status_code == 200


def test_the_suite_hashes_passwords_with_a_fast_hasher(owner, client):
    # Production keeps PBKDF2 (settings.py sets no PASSWORD_HASHERS); tests need no key stretching.
    assert owner.password.startswith("md5$")
    assert client.login(username="alice", password="correct horse battery staple")
