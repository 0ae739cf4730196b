"""The real URLconf with the API keys screen added to the `audience` namespace, as the lead will add
it to audience/urls.py (see the report of issue 9)."""

from __future__ import annotations

from django.urls import include, path

from audience import root_urls
from audience import urls as audience_urls
from audience.views import api_keys

api_key_patterns = [
    path("configuration/api-keys/", api_keys.api_keys, name="api_keys"),
    path("configuration/api-keys/new/", api_keys.api_key_create, name="api_key_create"),
    path("configuration/api-keys/<int:pk>/revoke/", api_keys.api_key_revoke, name="api_key_revoke"),
]

urlpatterns = [
    pattern
    if getattr(pattern, "namespace", None) != "audience"
    else path("", include(([*audience_urls.urlpatterns, *api_key_patterns], "audience")))
    for pattern in root_urls.urlpatterns
]
