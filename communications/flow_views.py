"""The flow page's steps: add, edit, remove and move them (editors; an active flow's steps are
locked by the services). Thin: each reads the form, calls `communications.flows`, redirects."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_GET, require_POST

from audience import access
from audience.htmx import invalid_status, render_page, wants_partial
from communications import flows
from communications.models import Flow, FlowRun, FlowStep, StepKind

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
    "wa_template",
    "wa_language",
)


def _config(request: HttpRequest) -> dict:
    """The step's config from the form: the checker of its kind keeps what it needs."""
    config = {name: request.POST.get(name, "").strip() for name in FIELDS}
    config["text"] = request.POST.get("text", "")
    config["html"] = request.POST.get("html", "")
    config["wa_placeholders"] = request.POST.get("wa_placeholders", "")
    rule = request.POST.get("rule", "").strip()
    if rule:
        try:
            config["rule"] = json.loads(rule)
        except ValueError:
            raise ValidationError(
                {"rule": ["The rule is not valid JSON of the segment rule language."]}
            ) from None
    return config


def _errors(error: ValidationError) -> tuple[dict[str, str], str]:
    """A checker's error as the form shows it: per field, and what names no field."""
    if hasattr(error, "error_dict"):
        fields = {
            name: " ".join(ValidationError(errors).messages) for name, errors in error.error_dict.items()
        }
        return {k: v for k, v in fields.items() if k != "__all__"}, fields.get("__all__", "")
    return {}, " ".join(error.messages)


def _kind(value: str) -> str:
    return value if value in StepKind.values else StepKind.SEND


def _mode(value: str) -> str:
    return value if value in WAIT_MODES else "duration"


def _step(request: HttpRequest, pk: int, step_pk: int) -> FlowStep:
    flow = access.get_scoped(request, Flow, pk)
    return get_object_or_404(FlowStep.objects.select_related("flow__account"), flow=flow, pk=step_pk)


def _done(request: HttpRequest, flow: Flow, call, success: str, anchor: str = "#steps") -> HttpResponse:
    try:
        call()
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, success)
    return redirect(flow.get_absolute_url() + anchor)


@require_GET
@access.member_required
def flow_step_fields(request: HttpRequest, pk: int) -> HttpResponse:
    """The "Add a step" form for the chosen kind (and a wait's mode): htmx swaps it in when the
    kind changes; without JavaScript the same choice is a GET of the flow page (`?kind=`)."""
    flow = access.get_scoped(request, Flow, pk)
    context = {"flow": flow} | steps_context(request, flow)
    return render_page(request, "communications/_step_add.html", context)


@require_POST
@access.editor_required(row=Flow)
def flow_step_add(request: HttpRequest, pk: int) -> HttpResponse:
    flow = access.get_scoped(request, Flow, pk)
    kind = request.POST.get("kind", "")
    try:
        step = flows.flow_step_add(flow=flow, kind=kind, config=_config(request))
    except ValidationError as error:
        fields, general = _errors(error)
        adding = {"config": dict(request.POST.items()), "errors": fields, "error": general}
        return _invalid(request, flow, "communications/_step_add.html", adding=adding)
    messages.success(request, f"Step “{StepKind(kind).label}” added.")
    return _redirect(request, flow, step)


@require_POST
@access.editor_required(row=_step)
def flow_step_edit(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    """Save a step's fields; a wait's mode may change with them. "Show its fields" (the form's
    button without JavaScript) only answers the form again with the chosen mode's fields."""
    step = _step(request, pk, step_pk)
    posted = dict(request.POST.items())
    editing = {"step": step.pk, "config": posted, "mode": _mode(posted.get("mode", "")), "errors": {}}
    if "fields" in request.POST:  # a <noscript> button: never an htmx request
        context = {"flow": step.flow} | steps_context(request, step.flow, editing=editing)
        context |= _page_context(request, step.flow)
        return render_page(request, "communications/flow_detail.html", context)
    try:
        flows.flow_step_update(step=step, config=_config(request))
    except ValidationError as error:
        editing["errors"], editing["error"] = _errors(error)
        return _invalid(request, step.flow, "communications/_flow_steps.html", editing=editing)
    messages.success(request, f"Step {step.position} saved.")
    return _redirect(request, step.flow, step)


@require_GET
@access.editor_required(row=_step)
def flow_step_edit_fields(request: HttpRequest, pk: int, step_pk: int) -> HttpResponse:
    """A wait step's edit form, the fields of the mode chosen (`?mode=`): htmx swaps them in when
    the mode changes, filled from the fields shown before where they share a name (the time)."""
    step = _step(request, pk, step_pk)
    if step.kind != StepKind.WAIT:
        return HttpResponseBadRequest("Only a wait step has a mode.")
    context = {
        "flow": step.flow,
        "prefix": step.pk,
        "mode": _mode(request.GET.get("mode", "")),
        "config": request.GET,
        "errors": None,
    }
    return render_page(request, "communications/_step_fields.html#wait-fields", context)


def _redirect(request: HttpRequest, flow: Flow, step: FlowStep | None = None) -> HttpResponse:
    """After a change: the flow page at the step (htmx: a full navigation, so the counts and
    messages show; the query makes it one even when only the fragment would differ)."""
    url = flow.get_absolute_url() + (f"?at={step.pk}#step-{step.pk}" if step else "#steps")
    if wants_partial(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def _invalid(request: HttpRequest, flow: Flow, partial: str, **state) -> HttpResponse:
    """The form again with its errors next to the fields: the partial for htmx, else the whole
    flow page (400)."""
    state_of = next(iter(state.values()))
    if not state_of["errors"]:  # locked, finished, not a kind: no field to show it at
        messages.error(request, state_of["error"])
        return _redirect(request, flow)
    context = {"flow": flow} | steps_context(request, flow, **state)
    if wants_partial(request):
        return render_page(request, partial, context, status=invalid_status(request))
    context |= _page_context(request, flow)
    return render_page(request, "communications/flow_detail.html", context, status=400)


def _page_context(request: HttpRequest, flow: Flow) -> dict:
    """What `views.flow_detail` shows besides the steps (the entry point)."""
    from communications import selectors, services
    from communications.models import FlowStatus

    items = list(flow.items.all())
    return {
        "rows": list(zip(items, selectors.items_describe(account=request.account, items=items), strict=True)),
        "transitions": sorted(services.FLOW_TRANSITIONS[flow.status]),
        "can_change_audience": flow.status not in (FlowStatus.ACTIVE, FlowStatus.FINISHED),
        "nav": "communications",
    }


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


WAIT_MODES = {
    "duration": "A duration",
    "time_of_day": "Until a time of day",
    "date_attribute": "Until a date attribute ± days",
}


def steps_context(
    request: HttpRequest, flow: Flow, *, adding: dict | None = None, editing: dict | None = None
) -> dict:
    """What the flow page shows of the steps, and the choices their forms offer. `adding` and
    `editing` carry a refused form back (its values and errors); the kind (and a wait's mode)
    of the "Add a step" form come from it, else from the query string."""
    from communications.models import BROADCAST_CHANNELS, FlowStatus, Sender
    from tags.models import Tag

    rows = flows.flow_steps_page(flow=flow)
    source = adding["config"] if adding else request.GET
    return {
        "step_rows": rows,
        "steps_locked": flow.status in (FlowStatus.ACTIVE, FlowStatus.FINISHED),
        "step_kinds": StepKind.choices,
        "new_kind": _kind(source.get("kind", "")),
        "new_mode": _mode(source.get("mode", "")),
        "adding": adding or {"config": {}, "errors": {}, "error": ""},
        "editing": editing or {},
        "step_channels": BROADCAST_CHANNELS,
        "step_senders": Sender.objects.filter(account=flow.account),
        "step_tags": Tag.objects.filter(account=flow.account).order_by("name")[:500],
        "step_targets": [row.step for row in rows],
        "wait_modes": list(WAIT_MODES.items()),
    }


@require_POST
@access.editor_required(row=Flow)
def flow_step_preview(request: HttpRequest, pk: int) -> HttpResponse:
    """A send step's message as the first person of the flow's entry audience will get it (htmx,
    from the step's form as it is typed), with the same checks as a broadcast's preview."""
    from communications import selectors, sending_views

    flow = access.get_scoped(request, Flow, pk)
    profile = selectors.audience_first(account=request.account, items=list(flow.items.all()))
    context = sending_views.preview_context(account=request.account, profile=profile, data=request.POST)
    context["preview_id"] = f"{request.POST.get('prefix', 'new')}-preview"
    return render_page(request, "communications/_preview.html", context)


@require_POST
@access.editor_required(row=Flow)
def flow_copy(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Edit a copy": a draft with the flow's audience, options and steps, opened to edit."""
    flow = access.get_scoped(request, Flow, pk)
    copy = flows.flow_copy(flow=flow, user=request.user)
    messages.success(request, f"“{copy.name}” is a draft copy of “{flow.name}”: edit it, then activate it.")
    return redirect(copy.get_absolute_url() + "#steps")


@require_POST
@access.editor_required(row=Flow)
def flow_options(request: HttpRequest, pk: int) -> HttpResponse:
    """The entry point's options: leave when unmatched, allow re-entry after exit."""
    flow = access.get_scoped(request, Flow, pk)
    return _done(
        request,
        flow,
        lambda: flows.flow_options_set(
            flow=flow,
            leave_when_unmatched=request.POST.get("leave_when_unmatched") == "on",
            allow_reentry=request.POST.get("allow_reentry") == "on",
        ),
        "Entry options saved.",
        anchor="#entry-options",
    )


PEOPLE_PAGE = 50
PEOPLE_PAGES = 20  # the lists show the first 1,000 people; the step's count says how many in all
PEOPLE_LISTS = {"waiting": "waiting at", "passed": "who passed", "failed": "who failed at"}


def step_people(*, flow: Flow, step: FlowStep, which: str):
    """The rows behind one of a step's counts, in an order an index gives, so a page reads its
    rows and stops:
    - waiting: the step's waiting runs by due time (a range of `flowrun_due`: flow, step,
      due_at of waiting runs; ties in index order);
    - passed, failed: the step's `FlowPassage` rows of that outcome by person (a range of
      `flowpassage_once`: step, failed, profile), the same rows the step's counts count.
    The profiles come by a second query (prefetch) for the page's rows only: a join would let
    the planner join every row of the step before it sorts and stops."""
    from communications.models import FlowPassage, RunState

    if which == "waiting":
        return (
            FlowRun.objects.filter(flow=flow, state=RunState.WAITING, step=step)
            .prefetch_related("profile")
            .order_by("due_at")
        )
    return (
        FlowPassage.objects.filter(step=step, failed=which == "failed")
        .prefetch_related("profile")
        .order_by("profile_id")
    )


@require_GET
@access.member_required
def flow_step_people(request: HttpRequest, pk: int, step_pk: int, which: str) -> HttpResponse:
    """The people behind a step's count (waiting, passed, failed): a page of 50 with links to
    their profile cards, up to the first 1,000 (OFFSET over an index order, at most 1,050 rows)."""
    if which not in PEOPLE_LISTS:
        raise Http404("Not a list of this step.")
    step = _step(request, pk, step_pk)
    flow = step.flow
    try:
        page = min(max(int(request.GET.get("page", 1)), 1), PEOPLE_PAGES)
    except ValueError:
        page = 1
    start = (page - 1) * PEOPLE_PAGE
    rows = list(step_people(flow=flow, step=step, which=which)[start : start + PEOPLE_PAGE + 1])
    more = len(rows) > PEOPLE_PAGE
    count = {"waiting": None, "passed": step.passed, "failed": step.failed}[which]
    if count is None:
        count = flows.flow_step_counts(flow=flow, step=step).get(step.pk, 0)
    context = {
        "flow": flow,
        "step": step,
        "which": which,
        "title": PEOPLE_LISTS[which],
        "rows": rows[:PEOPLE_PAGE],
        "count": count,
        "page": page,
        "previous": page - 1 if page > 1 else None,
        "next": page + 1 if more and page < PEOPLE_PAGES else None,
        "capped": more and page >= PEOPLE_PAGES,
        "first": start + 1,
        "last": start + len(rows[:PEOPLE_PAGE]),
        "nav": "communications",
    }
    return render_page(request, "communications/flow_step_people.html", context)
