"""The flow page's steps: add, edit, remove and move them (editors; an active flow's steps are
locked by the services). Thin: each reads the form, calls `communications.flows`, redirects."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from audience import access
from communications import flows
from communications.models import Flow, FlowStep, StepKind

FIELDS = (
    "channel",
    "sender",
    "subject",
    "text",
    "html",
    "mode",
    "amount",
    "unit",
    "time",
    "attribute",
    "offset_days",
    "reply_contains",
    "then",
    "else",
    "tag",
)


def _config(request: HttpRequest) -> dict:
    """The step's config from the form: the checker of its kind keeps what it needs."""
    config = {name: request.POST.get(name, "").strip() for name in FIELDS}
    config["text"] = request.POST.get("text", "")
    rule = request.POST.get("rule", "").strip()
    if rule:
        try:
            config["rule"] = json.loads(rule)
        except ValueError:
            raise ValidationError("The rule is not valid JSON of the segment rule language.") from None
    return config


def _step(request: HttpRequest, pk: int, step_pk: int) -> FlowStep:
    flow = access.get_scoped(request, Flow, pk)
    return get_object_or_404(FlowStep.objects.select_related("flow__account"), flow=flow, pk=step_pk)


def _done(request: HttpRequest, flow: Flow, call, success: str) -> HttpResponse:
    try:
        call()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect(flow.get_absolute_url() + "#steps")


@require_POST
@access.editor_required(row=Flow)
def flow_step_add(request: HttpRequest, pk: int) -> HttpResponse:
    flow = access.get_scoped(request, Flow, pk)
    kind = request.POST.get("kind", "")
    return _done(
        request,
        flow,
        lambda: flows.flow_step_add(flow=flow, kind=kind, config=_config(request)),
        f"Step “{StepKind(kind).label if kind in StepKind.values else kind}” added.",
    )


@require_POST
@access.editor_required(row=_step)
def flow_step_edit(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = _step(request, pk, step_pk)
    return _done(
        request,
        step.flow,
        lambda: flows.flow_step_update(step=step, config=_config(request)),
        f"Step {step.position} saved.",
    )


@require_POST
@access.editor_required(row=_step)
def flow_step_remove(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = _step(request, pk, step_pk)
    return _done(
        request, step.flow, lambda: flows.flow_step_remove(step=step), f"Step {step.position} removed."
    )


@require_POST
@access.editor_required(row=_step)
def flow_step_move(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    step = _step(request, pk, step_pk)
    up = request.POST.get("direction") == "up"
    return _done(request, step.flow, lambda: flows.flow_step_move(step=step, up=up), "Steps reordered.")


def steps_context(request: HttpRequest, flow: Flow) -> dict:
    """What the flow page shows of the steps, and the choices their forms offer."""
    from communications.models import BROADCAST_CHANNELS, FlowStatus, Sender
    from tags.models import Tag

    rows = flows.flow_steps_page(flow=flow)
    return {
        "step_rows": rows,
        "steps_locked": flow.status in (FlowStatus.ACTIVE, FlowStatus.FINISHED),
        "step_kinds": StepKind.choices,
        "step_channels": BROADCAST_CHANNELS,
        "step_senders": Sender.objects.filter(account=flow.account),
        "step_tags": Tag.objects.filter(account=flow.account).order_by("name")[:500],
        "step_targets": [row.step for row in rows],
        "wait_modes": [
            ("duration", "A duration"),
            ("time_of_day", "Until a time of day"),
            ("date_attribute", "Until a date attribute ± days"),
        ],
    }
