from __future__ import annotations

from django.urls import path

from audience.views import api_keys, base, companies, configuration, people

app_name = "audience"

urlpatterns = [
    path("people/", people.people, name="people"),
    path("people/count/", people.people_count, name="people_count"),
    path("people/columns/", people.people_columns, name="people_columns"),
    path("people/new/", people.profile_create, name="profile_create"),
    path("people/<int:pk>/", people.profile, name="profile"),
    path("people/<int:pk>/edit/", people.profile_edit, name="profile_edit"),
    path("people/<int:pk>/delete/", people.profile_delete, name="profile_delete"),
    path("companies/", companies.companies, name="companies"),
    path("companies/new/", companies.company_create, name="company_create"),
    path("companies/<int:pk>/", companies.company, name="company"),
    path("companies/<int:pk>/edit/", companies.company_edit, name="company_edit"),
    path("configuration/", configuration.configuration, name="configuration"),
    path("configuration/attributes/", configuration.attributes, name="attributes"),
    path("configuration/attributes/new/", configuration.attribute_create, name="attribute_create"),
    path(
        "configuration/attributes/<int:pk>/delete/", configuration.attribute_delete, name="attribute_delete"
    ),
    path("configuration/events/", configuration.event_definitions, name="event_definitions"),
    path("configuration/events/new/", configuration.event_definition_create, name="event_definition_create"),
    path(
        "configuration/events/<int:pk>/edit/",
        configuration.event_definition_edit,
        name="event_definition_edit",
    ),
    path(
        "configuration/events/<int:pk>/delete/",
        configuration.event_definition_delete,
        name="event_definition_delete",
    ),
    path("configuration/account/", configuration.account, name="account"),
    path("configuration/account/members/", configuration.member_add, name="member_add"),
    path("configuration/account/members/<int:pk>/role/", configuration.member_role, name="member_role"),
    path("configuration/account/members/<int:pk>/remove/", configuration.member_remove, name="member_remove"),
    path("configuration/api-keys/", api_keys.api_keys, name="api_keys"),
    path("configuration/api-keys/new/", api_keys.api_key_create, name="api_key_create"),
    path("configuration/api-keys/<int:pk>/revoke/", api_keys.api_key_revoke, name="api_key_revoke"),
    path("accounts/<int:account_id>/switch/", base.account_switch, name="account_switch"),
    path("notifications/", base.notifications, name="notifications"),
    path("notifications/read-all/", base.notifications_read_all, name="notifications_read_all"),
    path("notifications/<int:pk>/", base.notification_open, name="notification_open"),
]
