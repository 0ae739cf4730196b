from __future__ import annotations

from django.urls import path

from segments import views

app_name = "segments"

urlpatterns = [
    path("", views.segment_list, name="list"),
    path("new/", views.segment_new, name="new"),
    path("delete/", views.segments_delete, name="delete_many"),
    path("count/", views.rule_count, name="count"),
    path("people-filter/", views.people_advanced_filter, name="people_advanced_filter"),
    path("profile/<int:pk>/", views.profile_panel, name="profile_panel"),
    path("<int:pk>/", views.segment_detail, name="detail"),
    path("<int:pk>/edit/", views.segment_edit, name="edit"),
    path("<int:pk>/duplicate/", views.segment_duplicate, name="duplicate"),
    path("<int:pk>/delete/", views.segment_delete, name="delete"),
    path("<int:pk>/count/", views.segment_count, name="segment_count"),
]
