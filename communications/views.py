"""The communications screens: the list of broadcasts and flows, "Add to communication" from
People (and "Add to flow" from Segments, Tags and Companies), a broadcast's page with its send
progress, a flow's page with its audience, and the profile card's messages panel."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access
from audience.htmx import render_page
from communications import flow_views, forms, selectors, services
from communications.models import Broadcast, Flow, FlowStatus, MessageStatus


def _broadcast(request: HttpRequest, pk: int) -> Broadcast:
    return access.get_scoped(request, Broadcast, pk)


def _flow(request: HttpRequest, pk: int) -> Flow:
    return access.get_scoped(request, Flow, pk)


def _error_text(error: ValidationError) -> str:
    return " ".join(error.messages)


@require_GET
@access.member_required
def communication_list(request: HttpRequest) -> HttpResponse:
    broadcasts, older = selectors.broadcasts_page(account=request.account, before=request.GET.get("before"))
    flows = selectors.flows_list(account=request.account)[:100]
    context = {"broadcasts": broadcasts, "older": older, "flows": flows, "nav": "communications"}
    return render_page(request, "communications/communication_list.html", context)


@require_POST
@access.editor_required
def add_audience(request: HttpRequest) -> HttpResponse:
    """People's "Add to communication": choose Broadcast (and its channel) or Flow."""
    try:
        spec = forms.audience_from_data(request.account, request.POST)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("audience:people")
    if not spec:
        messages.error(request, "Select at least one profile, or all profiles matching the filter.")
        return redirect("audience:people")
    context = {
        "audience": forms.audience_fields(spec),
        "audience_query": forms.audience_query(spec),
        "labels": _labels(request, spec),
        "channel_form": forms.BroadcastForm(account=request.account),
        "nav": "people",
    }
    return render_page(request, "communications/audience_choose.html", context)


def _labels(request: HttpRequest, spec: services.AudienceSpec) -> list:
    return selectors.items_describe(
        account=request.account, items=services.audience_items(request.account, spec, flow=None)
    )


@require_http_methods(["GET", "POST"])
@access.editor_required
def broadcast_new(request: HttpRequest) -> HttpResponse:
    """The broadcast form, its recipients filled in from the fields it was opened with. A POST
    with `prefill=1` only opens it (from "Add to communication" with the chosen channel)."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        spec = forms.audience_from_data(request.account, data)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("communications:list")
    opening = request.method == "GET" or data.get("prefill") == "1"
    form = forms.BroadcastForm(
        None if opening else data, initial={"channel": data.get("channel")}, account=request.account
    )
    status = 200
    if not opening and form.is_valid():
        extra = services.AudienceSpec(
            tag_ids=form.cleaned_data["add_tag"], segment_ids=form.cleaned_data["add_segment"]
        )
        spec.tag_ids = sorted(set(spec.tag_ids) | set(extra.tag_ids))
        spec.segment_ids = sorted(set(spec.segment_ids) | set(extra.segment_ids))
        try:
            broadcast = services.broadcast_create(
                account=request.account,
                user=request.user,
                name=form.cleaned_data["name"],
                channel=form.cleaned_data["channel"],
                sender=form.cleaned_data["sender"],
                subject=form.cleaned_data["subject"],
                text=form.cleaned_data["text"],
                html=form.cleaned_data["html"],
                wa_template=form.cleaned_data["wa_template"],
                wa_language=form.cleaned_data["wa_language"],
                wa_placeholders=form.cleaned_data["wa_placeholders"],
                audience=spec,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, "The broadcast is saved as a draft: check its recipients and send it.")
            return redirect(broadcast)
    if not opening:
        status = 400
    context = {
        "form": form,
        "audience": forms.audience_fields(spec),
        "audience_query": forms.audience_query(spec),
        "labels": _labels(request, spec) if spec else [],
        "selected_count": _selected_count(spec),
        "nav": "communications",
    }
    return render_page(request, "communications/broadcast_new.html", context, status=status)


def _selected_count(spec: services.AudienceSpec) -> int | None:
    """Chosen rows are counted without the database; anything else is counted by htmx."""
    only = spec.selections[0] if len(spec.selections) == 1 else None
    if only and only.ids is not None and not (spec.tag_ids or spec.segment_ids or spec.company_ids):
        return len(only.ids)
    return None


@require_GET
@access.member_required
def audience_count(request: HttpRequest) -> HttpResponse:
    """How many profiles the audience named by the querystring holds (an htmx fragment)."""
    try:
        spec = forms.audience_from_data(request.account, request.GET)
        items = services.audience_items(request.account, spec, flow=None)
        count = selectors.audience_count(
            account=request.account,
            items=items,
            key=("audience", request.account.pk, forms.audience_fields(spec)),
        )
    except ValidationError as error:
        return render_page(request, "communications/_count.html", {"error": _error_text(error)})
    return render_page(request, "communications/_count.html", {"count": count})


@require_GET
@access.member_required
def broadcast_detail(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast(request, pk)
    items = list(broadcast.items.all())
    context = {
        "broadcast": broadcast,
        "labels": selectors.items_describe(account=request.account, items=items),
        "outcomes": selectors.broadcast_outcomes(broadcast=broadcast),
        "skipped": _skipped(request, broadcast),
        "nav": "communications",
    }
    # An htmx page of one skipped list answers with that list alone (`part` names it).
    paged = next((item for item in context["skipped"] if item["key"] == request.GET.get("part")), None)
    if paged is not None:
        context["list"] = paged
        return render_page(request, "communications/broadcast_detail.html", context, partial="skipped_list")
    return render_page(request, "communications/broadcast_detail.html", context, partial="progress")


# The lists of who was not sent to: (query parameter and partial, message status, title).
SKIPPED_LISTS = {
    "blocked": (MessageStatus.BLOCKED_DNC, "Blocked by Do Not Contact"),
    "missing": (MessageStatus.NO_DESTINATION, "Without a destination"),
    "outside": (MessageStatus.OUTSIDE_WINDOW, "Outside WhatsApp's 24-hour window, no template"),
}


def _skipped(request: HttpRequest, broadcast: Broadcast) -> list[dict]:
    """Who the broadcast did not send to, one paginated list per reason (names link to profiles).
    Each list keeps its position in its own parameters (`blocked_after`, `missing_before`, …):
    a list's page links change only its own and keep the other's (`{% querystring %}` of
    `first`, `previous` and `next`)."""
    lists = []
    counts = {
        "blocked": broadcast.blocked_dnc,
        "missing": broadcast.no_destination,
        "outside": broadcast.outside_window,
    }
    state = request.GET.copy()
    state.pop("part", None)
    for key, (status, title) in SKIPPED_LISTS.items():
        if broadcast.is_draft or not counts[key]:
            continue
        after, before = request.GET.get(f"{key}_after", ""), request.GET.get(f"{key}_before", "")
        rows, next_after, previous_before = selectors.broadcast_skipped(
            broadcast=broadcast,
            status=status,
            after=int(after) if after.isdigit() else None,
            before=int(before) if before.isdigit() else None,
        )
        lists.append(
            {
                "key": key,
                "title": title,
                "count": counts[key],
                "rows": rows,
                "first": _skipped_page(state, key) if previous_before else None,
                "previous": _skipped_page(state, key, before=previous_before) if previous_before else None,
                "next": _skipped_page(state, key, after=next_after) if next_after else None,
            }
        )
    return lists


def _skipped_page(
    state: QueryDict, key: str, *, after: int | None = None, before: int | None = None
) -> QueryDict:
    """The page's querystring with list `key` moved to the cursor given (none: its first page)."""
    query = state.copy()
    query.pop(f"{key}_after", None)
    query.pop(f"{key}_before", None)
    if after is not None:
        query[f"{key}_after"] = str(after)
    if before is not None:
        query[f"{key}_before"] = str(before)
    return query


@require_GET
@access.member_required
def broadcast_count(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast(request, pk)
    try:
        count = selectors.audience_count(
            account=request.account, items=list(broadcast.items.all()), key=("broadcast", broadcast.pk)
        )
    except ValidationError as error:
        return render_page(request, "communications/_count.html", {"error": _error_text(error)})
    return render_page(request, "communications/_count.html", {"count": count})


@require_POST
@access.editor_required(row=Broadcast)
def broadcast_send(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast(request, pk)
    try:
        services.broadcast_send(broadcast=broadcast, user=request.user)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, "Sending started: you'll get a notification when it's done.")
    return redirect(broadcast)


@require_POST
@access.editor_required(row=Broadcast)
def broadcast_delete(request: HttpRequest, pk: int) -> HttpResponse:
    broadcast = _broadcast(request, pk)
    try:
        services.broadcast_delete(broadcast=broadcast)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect(broadcast)
    messages.success(request, f"The draft “{broadcast.name}” is deleted.")
    return redirect("communications:list")


@require_http_methods(["GET", "POST"])
@access.editor_required
def add_to_flow(request: HttpRequest) -> HttpResponse:
    """ "Add to flow" from People (selection fields), Segments (`segment`), Tags (`tag`) and
    Companies (`company`): a new draft flow, or an existing active flow."""
    data = request.POST if request.method == "POST" else request.GET
    try:
        spec = forms.audience_from_data(request.account, data)
    except ValidationError as error:
        messages.error(request, _error_text(error))
        return redirect("communications:list")
    flows = list(selectors.flows_active(account=request.account))
    choosing = request.method == "GET" or "target" not in data
    form = forms.FlowChoiceForm(None if choosing else data, flows=flows)
    if not choosing and form.is_valid():
        try:
            flow = _flow_add(request, form.cleaned_data, spec)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect(flow)
    context = {
        "form": form,
        "flows": flows,
        "audience": forms.audience_fields(spec),
        "audience_query": forms.audience_query(spec),
        "labels": _labels(request, spec) if spec else [],
        "selected_count": _selected_count(spec),
        "nav": "communications",
    }
    return render_page(request, "communications/flow_add.html", context, status=200 if choosing else 400)


def _flow_add(request: HttpRequest, data: dict, spec: services.AudienceSpec) -> Flow:
    if data["target"] == "new":
        flow = services.flow_create(
            account=request.account, user=request.user, name=data["name"], audience=spec
        )
        messages.success(request, f"The flow “{flow.name}” is created as a draft with this audience.")
        return flow
    flow = _flow(request, data["flow"])
    if flow.status != FlowStatus.ACTIVE:
        raise ValidationError("Choose an active flow.")
    added = services.flow_audience_add(flow=flow, audience=spec)
    messages.success(
        request, f"Added to “{flow.name}”." if added else f"“{flow.name}” already had this audience."
    )
    return flow


@require_GET
@access.member_required
def flow_detail(request: HttpRequest, pk: int) -> HttpResponse:
    flow = _flow(request, pk)
    items = list(flow.items.all())
    context = {
        "flow": flow,
        "rows": list(zip(items, selectors.items_describe(account=request.account, items=items), strict=True)),
        "transitions": sorted(services.FLOW_TRANSITIONS[flow.status]),
        "can_change_audience": flow.status != FlowStatus.ACTIVE and flow.status != FlowStatus.FINISHED,
        "nav": "communications",
    } | flow_views.steps_context(request, flow)
    return render_page(request, "communications/flow_detail.html", context)


@require_GET
@access.member_required
def flow_count(request: HttpRequest, pk: int) -> HttpResponse:
    flow = _flow(request, pk)
    try:
        count = selectors.audience_count(
            account=request.account,
            items=list(flow.items.all()),
            key=("flow", flow.pk, str(flow.modified_at)),
        )
    except ValidationError as error:
        return render_page(request, "communications/_count.html", {"error": _error_text(error)})
    return render_page(request, "communications/_count.html", {"count": count})


@require_POST
@access.editor_required(row=Flow)
def flow_status(request: HttpRequest, pk: int) -> HttpResponse:
    flow = _flow(request, pk)
    form = forms.FlowStatusForm(request.POST)
    try:
        if not form.is_valid():
            raise ValidationError("Choose a status.")
        services.flow_status_set(flow=flow, status=form.cleaned_data["status"])
    except ValidationError as error:
        messages.error(request, _error_text(error))
    else:
        messages.success(request, f"“{flow.name}” is now {flow.get_status_display().lower()}.")
    return redirect(flow)


@require_POST
@access.editor_required(row=Flow)
def flow_item_remove(request: HttpRequest, pk: int, item_pk: int) -> HttpResponse:
    flow = _flow(request, pk)
    try:
        services.flow_item_remove(flow=flow, item_id=item_pk)
    except ValidationError as error:
        messages.error(request, _error_text(error))
    return redirect(flow)


@require_GET
@access.member_required
def profile_panel(request: HttpRequest, pk: int) -> HttpResponse:
    profile = access.get_profile(request, pk)
    context = {
        "profile": profile,
        "messages_received": selectors.profile_messages(profile=profile),
        "opt_outs": selectors.profile_opt_outs(profile=profile),
    }
    return render_page(request, "communications/profile_panel.html", context)
