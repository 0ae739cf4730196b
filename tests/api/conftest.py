from __future__ import annotations

import json

import pytest
from django.core.cache import cache
from django.test import Client

from audience import api_auth
from audience.models import ApiScope


class ApiClient:
    def __init__(self, key: str | None) -> None:
        self.client = Client()
        self.headers = {"HTTP_AUTHORIZATION": f"App {key}"} if key else {}

    def _call(self, method: str, path: str, body=None, **params):
        fn = getattr(self.client, method)
        if method in ("get",):
            return fn(f"/api{path}", params, **self.headers)
        query = "&".join(f"{k}={v}" for k, v in params.items())
        url = f"/api{path}" + (f"?{query}" if query else "")
        return fn(
            url,
            data=json.dumps(body) if body is not None else None,
            content_type="application/json",
            **self.headers,
        )

    def get(self, path, **params):
        return self._call("get", path, **params)

    def post(self, path, body=None, **params):
        return self._call("post", path, body, **params)

    def put(self, path, body=None, **params):
        return self._call("put", path, body, **params)

    def patch(self, path, body=None, **params):
        return self._call("patch", path, body, **params)

    def delete(self, path, body=None, **params):
        return self._call("delete", path, body, **params)


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture
def api(account):
    _, key = api_auth.api_key_create(account=account, name="owner key")
    return ApiClient(key)


@pytest.fixture
def read_api(account):
    _, key = api_auth.api_key_create(account=account, name="read key", scope=ApiScope.READ)
    return ApiClient(key)


@pytest.fixture
def other_api(other_account):
    _, key = api_auth.api_key_create(account=other_account, name="outsider key")
    return ApiClient(key)


def error_id(response) -> str:
    return response.json()["requestError"]["serviceException"]["messageId"]
