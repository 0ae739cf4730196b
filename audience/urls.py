from __future__ import annotations

from django.urls import path

from audience.views import base, people

app_name = "audience"

urlpatterns = [
    path("people/", people.people, name="people"),
    path("people/<int:pk>/", people.profile, name="profile"),
    path("accounts/<int:account_id>/switch/", base.account_switch, name="account_switch"),
    path("notifications/", base.notifications, name="notifications"),
    path("notifications/read-all/", base.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/", base.notification_open, name="notification_open"),
]
