"""Security headers and sign-in throttling.

The Content-Security-Policy allows scripts only from this site (the vendored htmx and Bootstrap and
our own files under static/js): no inline scripts, no eval. Styles may be inline because progress
bars and htmx's indicator styles set them.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core import signing
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

CSP = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class SecurityHeadersMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        # Every page, /api/docs included: Swagger UI is served from django-ninja's static files.
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


# Sign-in throttling. Three counters, each forgotten LOGIN_LOCKOUT_SECONDS after its first failure:
# - one address and one username: LOGIN_MAX_FAILURES guesses, then that address waits;
# - one address, any usernames: LOGIN_MAX_FAILURES_PER_ADDRESS, so spraying many names is slowed too;
# - one username, any addresses: LOGIN_MAX_FAILURES_PER_USERNAME, for guesses spread over many
#   addresses. This one would let a stranger lock the owner out, so a browser that signed in as that
#   username before (a signed cookie it got then) is exempt: the owner's right password still works.
DEVICE_COOKIE = "audience_device"
DEVICE_SALT = "audience.security.device"
DEVICE_MAX_AGE = 365 * 24 * 60 * 60


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind TRUSTED_PROXY_HOPS proxies the address the
    outermost trusted proxy saw (each proxy appends to X-Forwarded-For; what a client wrote
    itself sits further left and is never believed)."""
    remote = request.META.get("REMOTE_ADDR", "")
    hops = settings.TRUSTED_PROXY_HOPS
    if hops <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    return forwarded[-hops] if len(forwarded) >= hops else remote


def _norm(username: str) -> str:
    return username.strip().lower()


def _keys(username: str, ip: str) -> dict[str, str]:
    name = _norm(username)
    return {
        "pair": f"login-fail:{name}:{ip}",
        "address": f"login-fail-ip:{ip}",
        "username": f"login-fail-user:{name}",
    }


def _limits() -> dict[str, int]:
    return {
        "pair": settings.LOGIN_MAX_FAILURES,
        "address": settings.LOGIN_MAX_FAILURES_PER_ADDRESS,
        "username": settings.LOGIN_MAX_FAILURES_PER_USERNAME,
    }


def known_device(request: HttpRequest, username: str) -> bool:
    signed = request.COOKIES.get(DEVICE_COOKIE, "")
    try:
        value = signing.loads(signed, salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE)
    except signing.BadSignature:
        return False
    return isinstance(value, list) and _norm(username) in value


def remember_device(request: HttpRequest, response: HttpResponse, username: str) -> None:
    try:
        names = signing.loads(
            request.COOKIES.get(DEVICE_COOKIE, ""), salt=DEVICE_SALT, max_age=DEVICE_MAX_AGE
        )
    except signing.BadSignature:
        names = []
    names = [n for n in names if n != _norm(username)][-4:] + [_norm(username)]
    response.set_cookie(
        DEVICE_COOKIE,
        signing.dumps(names, salt=DEVICE_SALT),
        max_age=DEVICE_MAX_AGE,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )


def login_blocked(request: HttpRequest, username: str) -> bool:
    keys, limits = _keys(username, client_ip(request)), _limits()
    counts = cache.get_many(keys.values())
    for counter, key in keys.items():
        if counter == "username" and known_device(request, username):
            continue
        if counts.get(key, 0) >= limits[counter]:
            return True
    return False


def login_failed(request: HttpRequest, username: str) -> None:
    for key in _keys(username, client_ip(request)).values():
        cache.add(key, 0, settings.LOGIN_LOCKOUT_SECONDS)
        try:
            cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, settings.LOGIN_LOCKOUT_SECONDS)


def login_succeeded(request: HttpRequest, username: str) -> None:
    # The address's count across usernames stays: one right password must not reset a spray.
    keys = _keys(username, client_ip(request))
    cache.delete_many([keys["pair"], keys["username"]])
