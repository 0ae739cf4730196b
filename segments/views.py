"""The Segments screens: list, editor (new/edit) with the live count, a segment's profiles, and the
fragments other screens load: People's advanced filter and the profile card's segment panel."""

from __future__ import annotations

import json
from typing import Any

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access, replicas
from audience.htmx import render_page
from audience.usage import SEGMENT, usage_list
from segments import chart, selectors, services
from segments.models import Segment
from segments.rules.explain import describe_line

LIST_COLUMNS = [("name", "Name"), ("created", "Created"), ("updated", "Updated")]


def _rule_from(raw: str | None) -> tuple[dict, list[str]]:
    if not raw:
        return {"version": 1}, []
    try:
        rule = json.loads(raw)
    except ValueError:
        return {"version": 1}, ["rule: the rule is not valid JSON"]
    return rule, []


def _paths(request: HttpRequest, rule: Any, errors: list[str]) -> list[dict]:
    """ "attributes.conditions[0].value: expected a value" → {"path", "where", "message"} for the
    editor, the message in the screen's words; the API keeps the path-named form."""
    return selectors.rule_error_words(request.account, rule, errors)


def _editor_context(request: HttpRequest, rule: dict) -> dict:
    shown = selectors.rule_for_editor(account=request.account, rule=rule)
    return {"schema": selectors.editor_schema(account=request.account), "rule_json": json.dumps(shown)}


@require_GET
@access.member_required
def segment_list(request: HttpRequest) -> HttpResponse:
    # Predefined segments exist in every account; creating them on first sight keeps accounts
    # made by any path (admin, API, commands) complete without a signal.
    services.segments_predefined_ensure(account=request.account)
    sort = request.GET.get("sort", selectors.DEFAULT_SORT)
    search = request.GET.get("q", "").strip()
    queryset = selectors.segments_for_account(account=request.account, search=search, sort=sort)
    page = Paginator(queryset, 50).get_page(request.GET.get("page"))
    rows = [{"segment": s, "used_by": usage_list(SEGMENT, s)} for s in page.object_list]
    sorts = []
    for key, label in LIST_COLUMNS:
        active = sort.lstrip("-") == key
        target = (key if sort.startswith("-") else f"-{key}") if active else key
        sorts.append(
            {
                "key": key,
                "label": label,
                "active": active,
                "descending": active and sort.startswith("-"),
                "target": target,
            }
        )
    context = {"nav": "segments", "page": page, "rows": rows, "search": search, "sort": sort, "sorts": sorts}
    return render_page(request, "segments/segment_list.html", context, partial="results")


SIZE_ON_SAVE_MS = 2_000


def _save(request: HttpRequest, segment: Segment | None) -> HttpResponse | None:
    rule, errors = _rule_from(request.POST.get("rule"))
    if errors:
        return None
    fields = {
        "name": request.POST.get("name", ""),
        "rule": rule,
        "description": request.POST.get("description", ""),
    }
    if segment is None:
        segment = services.segment_create(account=request.account, user=request.user, **fields)
        messages.success(request, f"Segment “{segment.name}” created.")
    else:
        services.segment_update(segment=segment, **fields)
        messages.success(request, f"Segment “{segment.name}” saved.")
    # The size chart's first point (or today's, for a changed rule) now, not at the daily count;
    # a count too slow for the request leaves it to the daily one.
    services.segment_size_record(segment=segment, timeout_ms=SIZE_ON_SAVE_MS)
    return redirect(segment)


def _form(request: HttpRequest, segment: Segment | None) -> HttpResponse:
    errors: dict[str, list[str]] = {}
    left_out: list[str] = []
    if request.method == "POST":
        rule, json_errors = _rule_from(request.POST.get("rule"))
        try:
            response = _save(request, segment)
            if response is not None:
                return response
            errors["rule"] = json_errors
        except ValidationError as invalid:
            if hasattr(invalid, "error_dict"):
                errors = {k: [m for e in v for m in e.messages] for k, v in invalid.error_dict.items()}
            else:
                errors["rule"] = invalid.messages
        name, description = request.POST.get("name", ""), request.POST.get("description", "")
    elif segment is not None:
        rule, name, description = segment.rule, segment.name, segment.description
    else:
        # "Save as segment" on People arrives here with the People querystring: its quick
        # filters become conditions, so the segment holds whom the summary card counted.
        advanced, _ = _rule_from(request.GET.get("rule"))
        from_people = selectors.rule_with_people_filters(
            account=request.account, query=request.GET, rule=advanced
        )
        rule, left_out = from_people.rule, from_people.left_out
        name, description = "", ""
    context = {
        "nav": "segments",
        "segment": segment,
        "name": name,
        "description": description,
        "errors": errors,
        "left_out": left_out,
        "rule_errors": _paths(request, rule, errors.get("rule", [])),
        **_editor_context(request, rule),
    }
    return render_page(request, "segments/segment_form.html", context, status=400 if errors else 200)


@require_http_methods(["GET", "POST"])
@access.editor_required
def segment_new(request: HttpRequest) -> HttpResponse:
    return _form(request, None)


@require_http_methods(["GET", "POST"])
@access.editor_required(row=Segment)
def segment_edit(request: HttpRequest, pk: int) -> HttpResponse:
    segment = access.get_scoped(request, Segment, pk)
    try:
        services.segment_check_changeable(segment=segment)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
        return redirect(segment)
    return _form(request, segment)


@require_GET
@access.member_required
@replicas.replica_view
def segment_detail(request: HttpRequest, pk: int) -> HttpResponse:
    segment = access.get_scoped(request, Segment, pk)
    try:
        description = selectors.rule_describe(request.account, segment.rule)
        page = selectors.segment_profiles_page(
            segment=segment, after=request.GET.get("after", ""), before=request.GET.get("before", "")
        )
        error = None
    except ValidationError as invalid:
        description, page, error = None, selectors.ProfilePage([], None), " ".join(invalid.messages)
    context = {
        "nav": "segments",
        "segment": segment,
        "description": description,
        "page": page,
        "error": error,
        "used_by": usage_list(SEGMENT, segment),
        "chart": chart.size_chart(selectors.segment_sizes(segment=segment)),
    }
    return render_page(request, "segments/segment_detail.html", context, partial="profiles")


@require_GET
@access.member_required
def segment_count(request: HttpRequest, pk: int) -> HttpResponse:
    segment = access.get_scoped(request, Segment, pk)
    try:
        count, errors = selectors.rule_count(account=request.account, rule=segment.rule), []
    except ValidationError as invalid:
        count, errors = None, invalid.messages
    if count is None and not errors:
        services.rule_count_in_background(account=request.account, rule=segment.rule)
    return render_page(request, "segments/_count.html", {"count": count, "errors": errors, "samples": []})


@require_http_methods(["GET", "POST"])
@access.member_required
def rule_count(request: HttpRequest) -> HttpResponse:
    """The live count of the editor: the rule (JSON in `rule`) → a count and a few profiles, or
    its errors (each with its path, placed next to the field by segments.js)."""
    data = request.POST if request.method == "POST" else request.GET
    rule, errors = _rule_from(data.get("rule"))
    count, samples = None, []
    if not errors:
        errors = selectors.rule_validate(account=request.account, rule=rule)
    if not errors:
        count = selectors.rule_count(account=request.account, rule=rule)
        samples = selectors.rule_sample(request.account, rule) if count else []
        if count is None:
            services.rule_count_in_background(account=request.account, rule=rule)
    context = {"count": count, "errors": errors, "paths": _paths(request, rule, errors), "samples": samples}
    return render_page(request, "segments/_count.html", context)


@require_POST
@access.editor_required(row=Segment)
def segment_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    segment = access.get_scoped(request, Segment, pk)
    copy = services.segment_duplicate(segment=segment, user=request.user)
    messages.success(request, f"Segment “{segment.name}” duplicated as “{copy.name}”.")
    return redirect("segments:edit", copy.pk) if not copy.is_predefined else redirect(copy)


@require_POST
@access.editor_required(row=Segment)
def segment_delete(request: HttpRequest, pk: int) -> HttpResponse:
    segment = access.get_scoped(request, Segment, pk)
    return _delete(request, [segment.pk])


@require_POST
@access.editor_required
def segments_delete(request: HttpRequest) -> HttpResponse:
    ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
    if not ids:
        messages.error(request, "Select at least one segment to delete.")
        return redirect("segments:list")
    return _delete(request, ids)


def _delete(request: HttpRequest, ids: list[int]) -> HttpResponse:
    try:
        deleted = services.segments_delete(account=request.account, segment_ids=ids)
    except ValidationError as refused:
        messages.error(request, " ".join(refused.messages))
        return redirect("segments:list")
    messages.success(request, f"Deleted {deleted} segment{'' if deleted == 1 else 's'}.")
    return redirect("segments:list")


@require_GET
@access.member_required
def people_advanced_filter(request: HttpRequest) -> HttpResponse:
    """The People page's "Advanced filter": the editor, "Apply filter" (back to People with the
    rule in the querystring, other filters kept) and "Save as segment"."""
    rule, _ = _rule_from(request.GET.get("rule"))
    keep = QueryDict(mutable=True)
    for key in request.GET:
        if key not in ("rule", "after", "before", "page"):
            keep.setlist(key, request.GET.getlist(key))
    active = bool(request.GET.get("rule"))
    summary = ""
    if active:
        # Applied, the filter folds away to this line (its editor one click away).
        try:
            summary = describe_line(selectors.rule_describe(request.account, rule))
        except ValidationError:
            summary = ""  # an invalid rule keeps the editor open, with its errors
    context = {
        "keep": [(k, v) for k in keep for v in keep.getlist(k)],
        "active": active,
        "summary": summary,
        "clear_query": keep.urlencode(),
        **_editor_context(request, rule),
    }
    return render_page(request, "segments/people_filter.html", context)


@require_GET
@access.member_required
@replicas.replica_view
def profile_panel(request: HttpRequest, pk: int) -> HttpResponse:
    """The profile card's panel: pick a segment, see which of its conditions this profile meets."""
    profile = access.get_profile(request, pk)
    segments = list(selectors.segments_for_account(account=request.account)[:200])
    chosen = next((s for s in segments if str(s.pk) == request.GET.get("segment")), None)
    explanation, error = None, None
    if chosen is not None:
        try:
            explanation = selectors.rule_explain(request.account, chosen.rule, profile)
        except ValidationError as invalid:
            error = " ".join(invalid.messages)
    context = {
        "profile": profile,
        "segments": segments,
        "chosen": chosen,
        "explanation": explanation,
        "error": error,
    }
    return render_page(request, "segments/profile_panel.html", context)
