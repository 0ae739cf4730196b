from __future__ import annotations

app_name = "tags"

urlpatterns: list = []
