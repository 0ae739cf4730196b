from __future__ import annotations

from urllib.parse import urlparse

from tests.browser.conftest import shot


def test_the_api_docs_render_from_our_own_static_files_under_the_csp(page, live_server):
    """No internet: every asset of /api/docs comes from this server, and the CSP holds (the page
    fixture fails the test on any CSP violation)."""
    hosts: set[str] = set()
    page.on("request", lambda request: hosts.add(urlparse(request.url).netloc))
    response = page.goto("/api/docs")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.get_by_text("Audience API").first.wait_for()
    page.locator(".opblock-summary-path", has_text="/api/people/2/persons").first.wait_for()
    shot(page, "20-api-docs")
    assert hosts == {urlparse(live_server.url).netloc}
