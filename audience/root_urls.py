"""The site's URLs: each app mounts its own, namespaced."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from audience.api import api
from audience.views import auth, base

admin.site.site_header = "Audience administration"
admin.site.site_title = "Audience admin"

urlpatterns = [
    path("", base.home, name="home"),
    path("healthz", base.healthz, name="healthz"),
    path("favicon.ico", base.favicon, name="favicon"),
    path("login/", auth.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("", include("audience.urls")),
    path("tags/", include("tags.urls")),
    path("segments/", include("segments.urls")),
    path("configuration/do-not-contact/", include("dnc.urls")),
    path("imports/", include("imports.urls")),
    path("communications/", include("communications.urls")),
    path("webhooks/", include("communications.webhook_urls")),
]
