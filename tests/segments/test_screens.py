"""The segment screens read well: event sentences, the size chart from the first save, and
"Currently used" linking to the communications that use the segment (through the real URLs)."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from audience import services as audience_services
from communications.models import AudienceItem, Flow, FlowStatus, ItemKind
from segments import services
from segments.chart import axis
from segments.models import Segment, SegmentSize

pytestmark = pytest.mark.django_db


def _clause(event, *, performed=True, operator="gte", count=1, time=None):
    return {
        "event": event,
        "performed": performed,
        "occurrence": {"operator": operator, "count": count},
        "time": time or {"operator": "within_last", "amount": 30, "unit": "days"},
    }


def _text(response) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


SENTENCES = [
    (_clause("App Launch", performed=False), "did not open the app in the last 30 days"),
    (_clause("App Launch"), "opened the app in the last 30 days"),
    (_clause("App Launch", count=2), "opened the app at least twice in the last 30 days"),
    (_clause("Purchase", count=3), "performed Purchase at least 3 times in the last 30 days"),
    (
        _clause("Purchase", performed=False, count=3),
        "performed Purchase fewer than 3 times in the last 30 days",
    ),
    (_clause("Purchase", operator="equals", count=0), "did not perform Purchase in the last 30 days"),
    (_clause("Purchase", operator="equals", count=1), "performed Purchase exactly once in the last 30 days"),
    (
        _clause("Purchase", time={"operator": "within_last", "amount": 1, "unit": "days"}),
        "performed Purchase in the last day",
    ),
]


@pytest.mark.parametrize(("clause", "sentence"), SENTENCES)
def test_event_conditions_read_as_sentences_on_the_segment_page(
    account, owner, owner_client, clause, sentence
):
    audience_services.event_definition_create(account=account, name="Purchase", properties={})
    rule = {"version": 1, "events": [clause]}
    segment = services.segment_create(account=account, name="Sleepers", rule=rule, user=owner)
    body = _text(owner_client.get(reverse("segments:detail", args=[segment.pk])))
    assert sentence in body
    assert "1 time" not in body and "did not perform App Launch" not in body


def test_saving_a_segment_draws_its_first_point_with_a_labelled_axis(account, owner_client):
    for i in range(3):
        audience_services.profile_create(account=account, fields={"first_name": f"P{i}", "city": "Pula"})
    rule = {
        "version": 1,
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "city", "operator": "is", "value": "Pula"}],
        },
    }
    response = owner_client.post(reverse("segments:new"), {"name": "Pula", "rule": json.dumps(rule)})
    segment = Segment.objects.get(account=account, name="Pula")
    assert response.status_code == 302
    assert list(SegmentSize.objects.filter(segment=segment).values_list("size", flat=True)) == [3]
    body = owner_client.get(reverse("segments:detail", args=[segment.pk])).content.decode()
    assert "<svg" in body and "<circle" in body
    assert "when it was saved on" in body and "recorded once a day; the chart appears" not in body


def test_the_axis_shows_change_when_sizes_are_close():
    bottom, top, ticks = axis(10_120, 10_180)
    assert bottom > 0 and (bottom, top) == (10_120, 10_180) and len(ticks) >= 3
    assert axis(3, 1_000)[0] == 0  # far apart: from zero


def test_the_axis_labels_are_formatted_numbers(account, owner, owner_client):
    segment = services.segment_create(account=account, name="Big", rule={"version": 1}, user=owner)
    import datetime as dt

    today = account.today()
    for days, size in [(2, 10_120), (1, 10_150), (0, 10_180)]:
        SegmentSize.objects.create(segment=segment, date=today - dt.timedelta(days=days), size=size)
    body = owner_client.get(reverse("segments:detail", args=[segment.pk])).content.decode()
    assert "10,120" in body and "10,180" in body and ">0<" not in body


def test_currently_used_links_to_the_flow_using_the_segment(account, owner, owner_client):
    segment = services.segment_create(account=account, name="Londoners", rule={"version": 1}, user=owner)
    flow = Flow.objects.create(account=account, name="Welcome", status=FlowStatus.ACTIVE)
    AudienceItem.objects.create(account=account, flow=flow, kind=ItemKind.SEGMENT, object_id=segment.pk)
    link = f'<a href="{flow.get_absolute_url()}">Flow “Welcome” (active)</a>'
    assert link in owner_client.get(reverse("segments:list")).content.decode()
    assert link in owner_client.get(reverse("segments:detail", args=[segment.pk])).content.decode()
