"""Real-browser journeys: Playwright drives Debian's chromium against a live server.

Skipped when /usr/bin/chromium is missing (`.ci/run` installs it). Screenshots of each step are
written to docs/screenshots/ for the docs and the README.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from audience import services
from audience.models import Role

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PASSWORD = "correct horse battery staple"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture(scope="session")
def browser():
    # In the fixture, not a `pytestmark` here: a conftest's pytestmark marks no test.
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (apt install chromium; .ci/run does)")
    # Playwright's sync API runs an event loop in this thread; Django refuses ORM calls there
    # unless told otherwise. Only for the browser tests, and taken back afterwards.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield browser
            browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def marketer(transactional_db, django_user_model):
    account = services.account_create(name="Acme", time_zone="Europe/London")
    user = django_user_model.objects.create_user("maria", password=PASSWORD)
    services.membership_set(account=account, user=user, role=Role.ADMIN)
    return account, user


@pytest.fixture
def page(browser, live_server, marketer):
    context = browser.new_context(viewport={"width": 1360, "height": 900}, base_url=live_server.url)
    page = context.new_page()
    page.set_default_timeout(15_000)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on(
        "console",
        lambda message: (
            errors.append(message.text)
            if message.type == "error" and "Content Security Policy" in message.text
            else None
        ),
    )
    page.goto("/login/")
    page.fill("#id_username", "maria")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url("**/people/**")
    yield page
    context.close()
    assert errors == [], f"JavaScript errors or CSP violations: {errors}"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
