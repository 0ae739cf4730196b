"""The REST API, under /api/ (OpenAPI at /api/openapi.json, browsable docs at /api/docs)."""

from __future__ import annotations

from ninja import NinjaAPI

api = NinjaAPI(title="Audience API", version="1", docs_url="/docs", openapi_url="/openapi.json")
