"""Flows' entry options with the clock moved (people leave when they stop matching, re-entry after
exit), the unsubscribe link of a flow's email at a real SMTP server and its page, and the things a
running flow's steps use that can't be deleted (a tag in a branch rule, a custom attribute)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse

from audience import services as audience_services
from audience.selection import Selection
from communications import flows, optout, services
from communications.models import FlowMessage, FlowRun, FlowStatus, RunState, StepKind
from dnc.models import DncEntryAccount, Source
from tags import services as tag_services
from tags.models import ProfileTag
from tests.communications.conftest import make_profile, sender_for
from tests.communications.servers import smtp_server

T0 = dt.datetime(2026, 3, 31, 8, 0, tzinfo=dt.UTC)
LATER = T0 + dt.timedelta(minutes=5)


def tagged_flow(account, tag, steps, **options):
    flow = services.flow_create(
        account=account, user=None, name="VIP care", audience=services.AudienceSpec(tag_ids=[tag.pk])
    )
    for kind, config in steps:
        flows.flow_step_add(flow=flow, kind=kind, config=config)
    flows.flow_options_set(
        flow=flow,
        leave_when_unmatched=options.get("leave", False),
        allow_reentry=options.get("reentry", False),
    )
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    flow.refresh_from_db()
    return flow


def run_of(flow, profile) -> FlowRun:
    return FlowRun.objects.select_related("step").get(flow=flow, profile=profile)


def untag(account, tag, profile):
    tag_services.tags_remove(account=account, tags=[tag], profile_ids=[profile.pk])


def retag(account, tag, profile):
    tag_services.tags_add(account=account, tags=[tag], profile_ids=[profile.pk])


@pytest.fixture
def vip(account):
    return tag_services.tag_get_or_create(account=account, name="VIP")


def test_people_leave_when_they_stop_matching_and_stay_out(account, vip):
    ana, ben = make_profile(account, "Ana"), make_profile(account, "Ben")
    tag_services.tags_add(account=account, tags=[vip], profile_ids=[ana.pk, ben.pk])
    flow = tagged_flow(account, vip, [(StepKind.WAIT, {"amount": 2, "unit": "days"})], leave=True)
    flows.flow_runs_due(now=T0)
    untag(account, vip, ana)
    flows.flow_entries_refresh(now=LATER)
    assert run_of(flow, ana).state == RunState.LEFT
    assert run_of(flow, ben).state == RunState.WAITING
    # She matches again: without re-entry she stays out; the scheduler no longer moves her.
    retag(account, vip, ana)
    assert flows.flow_entries_refresh(now=LATER + dt.timedelta(minutes=5)) == 0
    flows.flow_runs_due(now=T0 + dt.timedelta(days=3))
    assert run_of(flow, ana).state == RunState.LEFT
    assert run_of(flow, ben).state == RunState.DONE


def test_without_the_option_people_who_stop_matching_stay_in(account, vip):
    ana = make_profile(account, "Ana")
    retag(account, vip, ana)
    flow = tagged_flow(account, vip, [(StepKind.WAIT, {"amount": 1, "unit": "days"})])
    flows.flow_runs_due(now=T0)
    untag(account, vip, ana)
    flows.flow_entries_refresh(now=LATER)
    assert run_of(flow, ana).state == RunState.WAITING


def test_re_entry_after_exit_starts_over_when_the_person_matches_again(account, vip, memory_backend):
    ana = make_profile(account, "Ana", phones=["+385911234567"])
    retag(account, vip, ana)
    welcomed = tag_services.tag_get_or_create(account=account, name="Welcomed")
    flow = tagged_flow(
        account,
        vip,
        [
            (StepKind.SEND, {"channel": "SMS", "text": "Welcome {{ first_name }}"}),
            (StepKind.ADD_TAG, {"tag": welcomed.pk}),
        ],
        reentry=True,
    )
    flows.flow_runs_due(now=T0)
    assert run_of(flow, ana).state == RunState.DONE
    # Still matching: done is done, nobody enters twice in a row.
    assert flows.flow_entries_refresh(now=LATER) == 0
    untag(account, vip, ana)
    assert flows.flow_entries_refresh(now=LATER + dt.timedelta(minutes=5)) == 0
    assert run_of(flow, ana).unmatched_at == LATER + dt.timedelta(minutes=5)
    retag(account, vip, ana)
    back = LATER + dt.timedelta(days=1)
    assert flows.flow_entries_refresh(now=back) == 1
    run = run_of(flow, ana)
    assert (run.state, run.step.position, run.due_at, run.entries, run.unmatched_at) == (
        RunState.WAITING,
        1,
        back,
        2,
        None,
    )
    flows.flow_runs_due(now=back)
    # The second entry's message has its own key: it is sent, not taken for the first one again.
    assert sorted(FlowMessage.objects.filter(flow=flow).values_list("key", flat=True)) == sorted(
        [
            flows.flow_message_key(flow.pk, flow.steps.first().pk, ana.pk),
            flows.flow_message_key(flow.pk, flow.steps.first().pk, ana.pk, 2),
        ]
    )
    assert len(memory_backend.outbox) == 2
    assert run_of(flow, ana).state == RunState.DONE


def test_leave_and_re_entry_together(account, vip):
    ana = make_profile(account, "Ana")
    retag(account, vip, ana)
    flow = tagged_flow(
        account, vip, [(StepKind.WAIT, {"amount": 7, "unit": "days"})], leave=True, reentry=True
    )
    flows.flow_runs_due(now=T0)
    untag(account, vip, ana)
    flows.flow_entries_refresh(now=LATER)
    assert run_of(flow, ana).state == RunState.LEFT
    retag(account, vip, ana)
    flows.flow_entries_refresh(now=LATER + dt.timedelta(hours=1))
    run = run_of(flow, ana)
    assert (run.state, run.entries, run.wait_started_at) == (RunState.WAITING, 2, None)
    flows.flow_runs_due(now=LATER + dt.timedelta(hours=1))
    assert run_of(flow, ana).due_at == LATER + dt.timedelta(hours=1, days=7)


def test_the_options_are_set_on_the_flow_page(owner_client, viewer_client, account, vip):
    flow = services.flow_create(
        account=account, user=None, name="VIP care", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    url = reverse("communications:flow_options", args=[flow.pk])
    page = owner_client.get(flow.get_absolute_url())
    assert "People leave when they stop matching" in page.text and "Allow re-entry after exit" in page.text
    response = owner_client.post(url, {"leave_when_unmatched": "on"}, follow=True)
    assert "Entry options saved." in response.text
    flow.refresh_from_db()
    assert (flow.leave_when_unmatched, flow.allow_reentry) == (True, False)
    owner_client.post(url, {"allow_reentry": "on"})
    flow.refresh_from_db()
    assert (flow.leave_when_unmatched, flow.allow_reentry) == (False, True)
    assert viewer_client.post(url, {"leave_when_unmatched": "on"}).status_code == 403


def test_a_flow_email_carries_the_unsubscribe_link_that_opts_the_address_out(account, settings):
    settings.COMMUNICATIONS_BACKEND = ""
    settings.INFOBIP_BASE_URL = settings.INFOBIP_API_KEY = settings.COMMUNICATIONS_WEBHOOK_URL = ""
    settings.PUBLIC_BASE_URL = "https://audience.example.com"
    settings.UNSUBSCRIBE_MAILTO = ""
    controller, smtp = smtp_server()
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", controller.port
    sender_for(account, "EMAIL", "news@acme.example")
    ana = make_profile(account, "Ana", emails=["ana@example.com"])
    flow = services.flow_create(
        account=account,
        user=None,
        name="Spring welcome",
        audience=services.AudienceSpec(selections=[Selection(ids=[ana.pk])]),
    )
    flows.flow_step_add(
        flow=flow,
        kind=StepKind.SEND,
        config={
            "channel": "EMAIL",
            "sender": "news@acme.example",
            "subject": "Hi {{ first_name }}",
            "text": "Hello {{ first_name }}. Leave: {{ unsubscribe_url }}",
        },
    )
    try:
        services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
        flows.flow_runs_due(now=T0)
    finally:
        controller.stop()
    [email] = smtp.messages
    header = "".join(email["List-Unsubscribe"].split())  # unfolded
    assert header.startswith("<https://audience.example.com/communications/unsubscribe/") and header.endswith(
        "/>"
    )
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = header[1:-1]
    text = next(part for part in email.walk() if part.get_content_type() == "text/plain").get_payload(
        decode=True
    )
    assert f"Leave: {link}".encode() in text
    path = link.removeprefix("https://audience.example.com")
    public = Client()
    assert "ana@example.com" in public.get(path).text
    assert not DncEntryAccount.objects.exists()  # a GET changes nothing
    one_click = public.post(
        path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert one_click.status_code == 200 and "You're unsubscribed" in one_click.text
    (row,) = DncEntryAccount.objects.all()
    assert (row.account_id, row.value, row.channel, row.source, row.campaign) == (
        account.pk,
        "ana@example.com",
        "EMAIL",
        Source.URL_OPT_OUT,
        "Spring welcome",
    )
    assert public.get(path[:-5] + "xxxx/").status_code == 404
    # The token is one HMAC over the message key, and names that key only.
    token = path.rstrip("/").rpartition("/")[2]
    (message,) = FlowMessage.objects.filter(flow=flow)
    assert token.partition(":")[0] == message.key.replace(":", ".")
    assert optout.flow_token_read(token) == message.key
    assert optout.token_read(token) is None  # not a broadcast's


def test_a_flow_email_link_of_the_earlier_token_format_still_opts_out(account):
    from django.core import signing

    ana = make_profile(account, "Ana", emails=["ana@example.com"])
    flow = services.flow_create(
        account=account,
        user=None,
        name="Old links",
        audience=services.AudienceSpec(selections=[Selection(ids=[ana.pk])]),
    )
    FlowMessage.objects.create(
        account=account,
        flow=flow,
        profile=ana,
        key=f"f{flow.pk}:7:{ana.pk}",
        channel="EMAIL",
        destination="ana@example.com",
        status="sent",
    )
    old = signing.Signer(salt=optout.SALT).sign_object(f"f{flow.pk}:7:{ana.pk}")
    public = Client()
    url = reverse("communications:unsubscribe", args=[old])
    assert "ana@example.com" in public.get(url).text
    assert public.post(url).status_code == 200
    assert DncEntryAccount.objects.get().campaign == "Old links"
    # A forged token of the new format names nothing.
    forged = f"f{flow.pk}.7.{ana.pk}:" + "A" * 22
    assert public.get(reverse("communications:unsubscribe", args=[forged])).status_code == 404


def test_a_tag_in_a_running_branch_rule_and_a_date_attribute_can_t_be_deleted(owner_client, account, vip):
    ana = make_profile(account, "Ana")
    expiry = audience_services.attribute_definition_create(
        account=account, name="contract_expiry", type="date"
    )
    flow = services.flow_create(
        account=account, user=None, name="Renewals", audience=services.AudienceSpec(tag_ids=[vip.pk])
    )
    retag(account, vip, ana)
    rule = {
        "attributes": {
            "match": "all",
            "conditions": [{"attribute": "tags", "operator": "is", "value": "VIP"}],
        }
    }
    flows.flow_step_add(flow=flow, kind=StepKind.BRANCH, config={"rule": rule})
    flows.flow_step_add(
        flow=flow,
        kind=StepKind.WAIT,
        config={"mode": "date_attribute", "attribute": "custom.contract_expiry", "offset_days": -3},
    )
    services.flow_status_set(flow=flow, status=FlowStatus.ACTIVE, now=T0)
    response = owner_client.post(reverse("tags:delete"), {"one": vip.pk}, follow=True)
    assert "“VIP” is used by" in response.text and "Flow “Renewals” (active)" in response.text
    with pytest.raises(ValidationError, match="Renewals"):
        audience_services.attribute_definition_delete(definition=expiry)
    services.flow_status_set(flow=flow, status=FlowStatus.FINISHED)
    audience_services.attribute_definition_delete(definition=expiry)
    assert ProfileTag.objects.filter(tag=vip).exists()
