from __future__ import annotations

app_name = "dnc"

urlpatterns: list = []
