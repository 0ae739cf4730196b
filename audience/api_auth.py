"""API keys: `Authorization: App <key>`, hashed at rest, read or read-write, rate limited per key."""

from __future__ import annotations

import hashlib
import secrets
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest
from django.utils import timezone
from ninja.security import APIKeyHeader

from audience.api_errors import ApiError
from audience.models import Account, ApiKey, ApiScope

KEY_BYTES = 32
PREFIX_LENGTH = 8


def key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(
    *, account: Account, name: str, scope: str = ApiScope.READ_WRITE, user=None
) -> tuple[ApiKey, str]:
    """A new key; the plain key is returned once and never stored."""
    plain = secrets.token_urlsafe(KEY_BYTES)
    row = ApiKey.objects.create(
        account=account,
        name=name,
        prefix=plain[:PREFIX_LENGTH],
        key_hash=key_hash(plain),
        scope=scope,
        created_by=user,
    )
    return row, plain


def api_key_revoke(*, key: ApiKey) -> None:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])


def _rate_limited(key: ApiKey) -> bool:
    """A fixed one-second window per key, counted in the cache (shared through Redis in production)."""
    window = int(time.time())
    bucket = f"api-rate:{key.pk}:{window}"
    cache.add(bucket, 0, 5)
    try:
        used = cache.incr(bucket)
    except ValueError:
        cache.set(bucket, 1, 5)
        used = 1
    return used > settings.API_RATE_LIMIT_PER_SECOND


# POST routes that only read: counting a rule, explaining it, checking destinations.
READ_ONLY_POSTS = ("/count", "/explain", "/check", "/match")


READ_ONLY_TEXT = "This key is read-only: it can't change data."
# Query parameters that name one row (a person, a Do Not Contact entry), as path parameters do.
ROW_QUERY = ("identifier", "destination")


def _names_a_row(request: HttpRequest) -> bool:
    match = getattr(request, "resolver_match", None)
    return bool(match is not None and match.kwargs) or any(name in request.GET for name in ROW_QUERY)


def _writes(request: HttpRequest) -> bool:
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return False
    return not (request.method == "POST" and request.path.rstrip("/").endswith(READ_ONLY_POSTS))


class AppKeyAuth(APIKeyHeader):
    param_name = "Authorization"
    openapi_description = "`App <key>`: a key created by an account admin (Configuration › API keys)."

    def authenticate(self, request: HttpRequest, key: str | None) -> ApiKey | None:
        if not key or not key.startswith("App "):
            return None
        row = (
            ApiKey.objects.select_related("account")
            .filter(key_hash=key_hash(key[4:].strip()), revoked_at__isnull=True)
            .first()
        )
        if row is None:
            return None
        if _rate_limited(row):
            raise ApiError(
                429, f"Too many requests: at most {settings.API_RATE_LIMIT_PER_SECOND} a second per key."
            )
        now = timezone.now()
        if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:
            ApiKey.objects.filter(pk=row.pk).update(last_used_at=now)
        request.account = row.account
        request.api_key = row
        if _writes(request) and row.scope != ApiScope.READ_WRITE:
            if not _names_a_row(request):
                raise ApiError(403, READ_ONLY_TEXT)
            # The route looks the row up in the key's account first (404 for another account's
            # row), then `row_found` refuses the change.
            request.read_only_write = True
        return row


def row_found(request: HttpRequest) -> None:
    """Called by a route once the row its URL names is found in the key's account: a read-only
    key that asked to change it gets 403 now (and 404 before, for a row that is not its account's)."""
    if getattr(request, "read_only_write", False):
        raise ApiError(403, READ_ONLY_TEXT)


def request_account(request: HttpRequest) -> Account:
    return request.auth.account
