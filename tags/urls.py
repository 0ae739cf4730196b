from __future__ import annotations

from django.urls import path

from tags import views

app_name = "tags"

urlpatterns = [
    path("", views.tag_list, name="list"),
    path("new/", views.tag_create, name="create"),
    path("stats/", views.tag_stats, name="stats"),
    path("delete/", views.tags_delete, name="delete"),
    path("<int:pk>/rename/", views.tag_rename, name="rename"),
    path("<int:pk>/duplicate/", views.tag_duplicate, name="duplicate"),
    path("<int:pk>/merge/", views.tag_merge, name="merge"),
    path("bulk/", views.tag_bulk, name="bulk"),
    path("jobs/<int:pk>/", views.bulk_job, name="bulk_job"),
    path("jobs/<int:pk>/cancel/", views.bulk_job_cancel, name="bulk_job_cancel"),
    path("profile/<int:pk>/", views.profile_panel, name="profile_panel"),
    path("company/<int:pk>/", views.company_panel, name="company_panel"),
]
