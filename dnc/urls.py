from __future__ import annotations

from django.urls import path

from dnc import views

app_name = "dnc"

urlpatterns = [
    path("", views.entry_list, name="list"),
    path("add/", views.entry_add, name="add"),
    path("remove/", views.entry_remove, name="remove"),
    path("removals/<int:pk>/", views.remove_job, name="remove_job"),
    path("removals/<int:pk>/stop/", views.remove_job_cancel, name="remove_job_cancel"),
    path("export/", views.entry_export, name="export"),
    path("audit/", views.audit_list, name="audit"),
    path("profile/<int:pk>/", views.profile_panel, name="profile_panel"),
    path("bulk-add/", views.bulk_add, name="bulk_add"),
]
