from __future__ import annotations

from django.urls import path

from communications import flow_views, sending_views, views, webhook_views

app_name = "communications"

urlpatterns = [
    path("", views.communication_list, name="list"),
    path("add/", views.add_audience, name="add_audience"),
    path("audience/count/", views.audience_count, name="audience_count"),
    path("broadcasts/new/", views.broadcast_new, name="broadcast_new"),
    path("broadcasts/<int:pk>/", views.broadcast_detail, name="broadcast"),
    path("broadcasts/<int:pk>/count/", views.broadcast_count, name="broadcast_count"),
    path("broadcasts/<int:pk>/send/", views.broadcast_send, name="broadcast_send"),
    path("broadcasts/<int:pk>/delete/", views.broadcast_delete, name="broadcast_delete"),
    path("flows/add/", views.add_to_flow, name="add_to_flow"),
    path("flows/<int:pk>/", views.flow_detail, name="flow"),
    path("flows/<int:pk>/count/", views.flow_count, name="flow_count"),
    path("flows/<int:pk>/status/", views.flow_status, name="flow_status"),
    path("flows/<int:pk>/items/<int:item_pk>/remove/", views.flow_item_remove, name="flow_item_remove"),
    path("flows/<int:pk>/options/", flow_views.flow_options, name="flow_options"),
    path("flows/<int:pk>/copy/", flow_views.flow_copy, name="flow_copy"),
    path("flows/<int:pk>/steps/preview/", flow_views.flow_step_preview, name="flow_step_preview"),
    path("flows/<int:pk>/steps/fields/", flow_views.flow_step_fields, name="flow_step_fields"),
    path("flows/<int:pk>/steps/add/", flow_views.flow_step_add, name="flow_step_add"),
    path("flows/<int:pk>/steps/<int:step_pk>/edit/", flow_views.flow_step_edit, name="flow_step_edit"),
    path(
        "flows/<int:pk>/steps/<int:step_pk>/edit/fields/",
        flow_views.flow_step_edit_fields,
        name="flow_step_edit_fields",
    ),
    path("flows/<int:pk>/steps/<int:step_pk>/remove/", flow_views.flow_step_remove, name="flow_step_remove"),
    path("flows/<int:pk>/steps/<int:step_pk>/move/", flow_views.flow_step_move, name="flow_step_move"),
    path(
        "flows/<int:pk>/steps/<int:step_pk>/people/<str:which>/",
        flow_views.flow_step_people,
        name="flow_step_people",
    ),
    path("profile/<int:pk>/", views.profile_panel, name="profile_panel"),
    path("inbound-sms/", webhook_views.inbound_settings, name="inbound_settings"),
    path("inbound-sms/save/", webhook_views.inbound_settings_save, name="inbound_settings_save"),
    path("inbound-sms/secret/", webhook_views.webhook_token_rotate, name="webhook_token_rotate"),
    path("broadcasts/preview/", sending_views.broadcast_preview, name="broadcast_preview"),
    path("outbox/", sending_views.outbox, name="outbox"),
    path("senders/", sending_views.sender_list, name="senders"),
    path("senders/new/", sending_views.sender_create, name="sender_create"),
    path("senders/<int:pk>/delete/", sending_views.sender_delete, name="sender_delete"),
    path("unsubscribe/<str:token>/", sending_views.unsubscribe, name="unsubscribe"),
]
