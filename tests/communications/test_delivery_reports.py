"""Delivery reports posted to the account's webhook URL move messages to delivered,
undeliverable, expired or failed; repeats and late intermediate reports change nothing."""

from __future__ import annotations

import pytest
from django.db.models import Count

from communications import webhooks
from communications.backends import message_key
from communications.models import Message, MessageStatus, WebhookBatch
from tests.communications.conftest import broadcast_for, make_profile, send
from tests.communications.webhook_helpers import load, post_json, report, reports_url

PHONE_A = "+385912345678"
PHONE_B = "+385912345679"


@pytest.fixture
def token(account):
    return webhooks.webhook_token_rotate(account=account, user=None)


@pytest.fixture
def sent(account):
    ana = make_profile(account, "Ana", phones=[PHONE_A])
    ben = make_profile(account, "Ben", phones=[PHONE_B])
    broadcast = send(broadcast_for(account, [ana, ben], sender="38598765432"))
    return broadcast, ana, ben


def status_of(broadcast, profile) -> Message:
    return Message.objects.get(broadcast=broadcast, profile=profile)


def test_it_marks_messages_delivered_undeliverable_and_expired(token, sent):
    broadcast, ana, ben = sent
    response = post_json(
        reports_url(token),
        {
            "results": [
                report(message_key(broadcast.pk, ana.pk), "DELIVERED"),
                report(
                    message_key(broadcast.pk, ben.pk),
                    "UNDELIVERABLE",
                    error={
                        "groupId": 2,
                        "groupName": "HANDSET_ERRORS",
                        "id": 27,
                        "name": "EC_ABSENT_SUBSCRIBER",
                        "description": "Absent subscriber",
                        "permanent": False,
                    },
                ),
            ]
        },
    )
    assert response.status_code == 200
    assert load(response)["results"] == 2
    assert status_of(broadcast, ana).status == MessageStatus.DELIVERED
    ben_message = status_of(broadcast, ben)
    assert (ben_message.status, ben_message.error) == (MessageStatus.UNDELIVERABLE, "Absent subscriber")
    assert ben_message.reported_at.isoformat() == "2026-12-01T10:00:00+00:00"
    batch = WebhookBatch.objects.get()
    assert (batch.status, batch.applied, batch.processed) == ("done", 2, 2)
    post_json(
        reports_url(token),
        {
            "results": [
                report(message_key(broadcast.pk, ana.pk), "EXPIRED", done_at="2026-12-02T10:00:00.000+0000")
            ]
        },
    )
    assert status_of(broadcast, ana).status == MessageStatus.EXPIRED


def test_it_fails_a_rejected_message_with_the_reports_error(token, sent):
    broadcast, ana, _ = sent
    post_json(
        reports_url(token),
        {
            "results": [
                report(
                    message_key(broadcast.pk, ana.pk),
                    "REJECTED",
                    error={
                        "groupId": 5,
                        "groupName": "OPERATOR_ERRORS",
                        "id": 4000,
                        "name": "EC_REJECTED",
                        "description": "Rejected by the operator",
                    },
                )
            ]
        },
    )
    message = status_of(broadcast, ana)
    assert (message.status, message.error) == (MessageStatus.FAILED, "Rejected by the operator")


def test_a_repeated_report_changes_nothing_and_counts_as_repeated(token, sent):
    broadcast, ana, _ = sent
    body = {"results": [report(message_key(broadcast.pk, ana.pk), "DELIVERED")]}
    post_json(reports_url(token), body)
    post_json(reports_url(token), body)
    assert status_of(broadcast, ana).status == MessageStatus.DELIVERED
    first, second = WebhookBatch.objects.order_by("pk")
    assert (first.applied, second.applied, second.repeated) == (1, 0, 1)


def test_a_late_pending_report_never_replaces_a_final_status(token, sent):
    broadcast, ana, _ = sent
    key = message_key(broadcast.pk, ana.pk)
    post_json(reports_url(token), {"results": [report(key, "DELIVERED", done_at="2026-12-01T10:05:00Z")]})
    post_json(reports_url(token), {"results": [report(key, "PENDING", done_at="2026-12-01T10:06:00Z")]})
    assert status_of(broadcast, ana).status == MessageStatus.DELIVERED


def test_an_older_final_report_arriving_late_does_not_replace_a_newer_one(token, sent):
    broadcast, ana, _ = sent
    key = message_key(broadcast.pk, ana.pk)
    post_json(reports_url(token), {"results": [report(key, "DELIVERED", done_at="2026-12-01T10:05:00Z")]})
    post_json(reports_url(token), {"results": [report(key, "EXPIRED", done_at="2026-12-01T09:00:00Z")]})
    assert status_of(broadcast, ana).status == MessageStatus.DELIVERED


def test_reports_out_of_order_in_one_request_end_on_the_latest(token, sent):
    broadcast, ana, _ = sent
    key = message_key(broadcast.pk, ana.pk)
    post_json(
        reports_url(token),
        {
            "results": [
                report(key, "DELIVERED", done_at="2026-12-01T10:05:00Z"),
                report(key, "PENDING", done_at="2026-12-01T10:00:00Z"),
                report(key, "UNDELIVERABLE", done_at="2026-12-01T10:01:00Z"),
            ]
        },
    )
    assert status_of(broadcast, ana).status == MessageStatus.DELIVERED


def test_a_report_for_a_message_still_queued_counts_it_once(token, sent):
    broadcast, ana, _ = sent
    # As if the worker died after the hand-off and before committing its outcome.
    Message.objects.filter(broadcast=broadcast, profile=ana).update(status=MessageStatus.QUEUED)
    type(broadcast).objects.filter(pk=broadcast.pk).update(sent=1, processed=1)
    post_json(reports_url(token), {"results": [report(message_key(broadcast.pk, ana.pk), "DELIVERED")]})
    broadcast.refresh_from_db()
    assert status_of(broadcast, ana).status == MessageStatus.DELIVERED
    assert (broadcast.sent, broadcast.processed) == (2, 2)


def test_it_ignores_reports_for_messages_of_another_account_or_unknown(token, sent, other_account):
    broadcast, ana, _ = sent
    theirs = webhooks.webhook_token_rotate(account=other_account, user=None)
    post_json(
        reports_url(theirs),
        {
            "results": [
                report(message_key(broadcast.pk, ana.pk), "UNDELIVERABLE"),
                report("not-ours-42", "DELIVERED"),
            ]
        },
    )
    assert status_of(broadcast, ana).status == MessageStatus.SENT
    batch = WebhookBatch.objects.get(account=other_account)
    assert (batch.ignored, batch.applied, batch.status) == (2, 0, "done")


def test_a_wrong_or_missing_secret_is_refused_and_writes_nothing(token, sent):
    broadcast, ana, _ = sent
    body = {"results": [report(message_key(broadcast.pk, ana.pk), "DELIVERED")]}
    assert post_json(reports_url("not-the-secret"), body).status_code == 404
    assert post_json("/webhooks//delivery-reports/", body).status_code == 404
    assert not WebhookBatch.objects.exists()
    assert status_of(broadcast, ana).status == MessageStatus.SENT


def test_it_refuses_a_body_that_is_not_a_delivery_report(token):
    response = post_json(reports_url(token), {"results": [{"messageId": "1:2"}]})
    assert response.status_code == 400
    assert load(response)["error"] == "results[0].status.groupName: missing."
    assert post_json(reports_url(token), ["nope"]).status_code == 400
    assert not WebhookBatch.objects.exists()


def test_it_answers_before_the_work_is_done(token, sent):
    broadcast, ana, _ = sent
    response = post_json(
        reports_url(token), {"results": [report(message_key(broadcast.pk, ana.pk), "DELIVERED")]}, run=False
    )
    assert response.status_code == 200
    assert WebhookBatch.objects.get().status == "pending"
    assert status_of(broadcast, ana).status == MessageStatus.SENT


def test_a_thousand_reports_in_ten_requests_lose_none(account, token):
    import json

    from django.test import Client, TestCase

    from audience.models import Contact, Profile

    profiles = Profile.objects.bulk_create(
        [Profile(account=account, first_name=f"P{i}") for i in range(1000)]
    )
    Contact.objects.bulk_create(
        [
            Contact(account=account, profile=p, kind="phone", value=f"+38591{i:07d}")
            for i, p in enumerate(profiles)
        ]
    )
    broadcast = send(broadcast_for(account, profiles))
    assert broadcast.sent == 1000
    groups = ["DELIVERED", "DELIVERED", "UNDELIVERABLE", "EXPIRED", "REJECTED"]
    results = [report(message_key(broadcast.pk, p.pk), groups[i % 5]) for i, p in enumerate(profiles)]
    client = Client(enforce_csrf_checks=True)
    with TestCase.captureOnCommitCallbacks(execute=False) as queued:
        for start in range(0, 1000, 100):
            response = client.post(
                reports_url(token),
                data=json.dumps({"results": results[start : start + 100]}),
                content_type="application/json",
            )
            assert response.status_code == 200
        client.post(
            reports_url(token), data=json.dumps({"results": results[:100]}), content_type="application/json"
        )
    assert not Message.objects.filter(broadcast=broadcast).exclude(status=MessageStatus.SENT).exists()
    for callback in queued:
        callback()
    counts = dict(
        Message.objects.filter(broadcast=broadcast).values_list("status").annotate(n=Count("pk")).order_by()
    )
    assert counts == {
        MessageStatus.DELIVERED: 400,
        MessageStatus.UNDELIVERABLE: 200,
        MessageStatus.EXPIRED: 200,
        MessageStatus.FAILED: 200,
    }
    assert sum(WebhookBatch.objects.values_list("applied", flat=True)) == 1000
    assert sum(WebhookBatch.objects.values_list("repeated", flat=True)) == 100
