"""People > Configuration > Do Not Contact: the list, "Add new", remove, export, profile panel."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access, counting
from audience.htmx import render_page, wants_partial
from audience.models import Membership
from audience.selection import Selection, selection_queryset
from audience.views.jobs import JobDetail, JobPage, job_page
from dnc import bulk, exports, selectors, services
from dnc.forms import DncBulkAddForm, DncEntryForm
from dnc.models import DncRemoveJob, How, Source

LIST = "dnc/entry_list.html"


def _memberships(request: HttpRequest) -> list[Membership]:
    return list(
        Membership.objects.filter(user=request.user).select_related("account").order_by("account__name")
    )


def _account_choices(request: HttpRequest, *, editable: bool = False) -> list[tuple[int, str]]:
    """The user's accounts (those where they may change data, if `editable`), current first."""
    found = [(m.account_id, m.account.name) for m in _memberships(request) if m.can_edit or not editable]
    return sorted(found, key=lambda choice: choice[0] != request.account.pk)


def _entry_form(request: HttpRequest, data=None) -> DncEntryForm:
    return DncEntryForm(
        data,
        initial={"accounts": [request.account.pk]},
        account_choices=_account_choices(request, editable=True),
        prefix="new",
    )


def _list_context(request: HttpRequest, form: DncEntryForm | None = None) -> dict:
    choices = _account_choices(request)
    filterset = selectors.entry_filterset(
        account=request.account,
        data=request.GET,
        account_choices=[c for c in choices if c[0] != request.account.pk],
    )
    queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
    page = selectors.entries_page(
        queryset, sort=request.GET.get("sort", ""), after=request.GET.get("after", "")
    )
    accounts = selectors.entry_accounts(
        entry_ids=[r.entry_id for r in page.rows], account_ids=[c[0] for c in choices]
    )
    for row in page.rows:
        row.shown_accounts = accounts.get(row.entry_id, [])
    return {
        "nav": "configuration",
        "filterset": filterset,
        "page": page,
        "total": queryset.count(),
        "filtered": any(k not in ("sort", "after") and any(request.GET.getlist(k)) for k in request.GET),
        "form": form if form is not None else (_entry_form(request) if request.GET.get("new") else None),
        "can_edit": request.membership.can_edit,
    }


@require_GET
@access.member_required
def entry_list(request: HttpRequest) -> HttpResponse:
    return render_page(request, LIST, _list_context(request), partial="results")


@require_http_methods(["GET", "POST"])
@access.editor_required
def entry_add(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        if not wants_partial(request):
            return redirect(reverse("dnc:list") + "?new=1")
        return render_page(request, LIST, {"form": _entry_form(request)}, partial="new_row")
    form = _entry_form(request, request.POST)
    if form.is_valid():
        allowed = {m.account_id: m.account for m in _memberships(request) if m.can_edit}
        try:
            entry = services.dnc_entry_add(
                accounts=[allowed[pk] for pk in form.cleaned_data["accounts"]],
                contact=form.cleaned_data["contact"],
                sender=form.cleaned_data["sender"],
                channel=form.cleaned_data["channel"],
                source=Source.CUSTOM,
                added_by=request.user,
                how=How.UI,
            )
        except ValidationError as error:
            form.add_error(None, error)
    if not form.is_valid():
        if wants_partial(request):
            return render_page(request, LIST, {"form": form}, partial="new_row")
        return render_page(request, LIST, _list_context(request, form=form), status=422)
    if not wants_partial(request):
        messages.success(request, f"{entry.value} is on the Do Not Contact list.")
        return redirect("dnc:list")
    row = (
        selectors.entries_for_account(account=request.account, filters={})
        .select_related("added_by")
        .filter(entry=entry)
        .first()
    )
    if row is None:  # added for other accounts only: not a line of this account's list
        names = ", ".join(allowed[pk].name for pk in form.cleaned_data["accounts"])
        context = {"form": _entry_form(request), "added_elsewhere": f"{entry.value} was added for {names}."}
        return render_page(request, LIST, context, partial="new_row")
    row.shown_accounts = selectors.entry_accounts(
        entry_ids=[entry.pk], account_ids=[c[0] for c in _account_choices(request)]
    ).get(entry.pk, [])
    context = {"form": _entry_form(request), "row": row, "can_edit": True, "just_added": True}
    return render_page(request, LIST, context, partial="added")


@require_POST
@access.editor_required
def entry_remove(request: HttpRequest) -> HttpResponse:
    if request.POST.get("all") == "1":
        return _remove_all(request)
    try:
        ids = [int(pk) for pk in request.POST.getlist("ids")]
    except ValueError:
        ids = []
    if not ids:
        messages.warning(request, "Select at least one entry to remove.")
    else:
        removed = services.dnc_entries_remove(
            entry_ids=ids, account=request.account, removed_by=request.user, how=How.UI
        )
        messages.success(
            request, f"Removed {removed} entr{'y' if removed == 1 else 'ies'} from the Do Not Contact list."
        )
    return HttpResponseRedirect(_list_url(request))


def _list_url(request: HttpRequest) -> str:
    """The list again, filtered and sorted as the POSTed `query` (the list's own querystring) says."""
    query = request.POST.get("query", "")
    return reverse("dnc:list") + (f"?{query}" if query else "")


def _remove_all(request: HttpRequest) -> HttpResponse:
    """ "Remove all N matching the filter": a job (the list may hold a whole wrong import)."""
    query = QueryDict(request.POST.get("query", ""))
    try:
        job = bulk.dnc_remove_job_start(
            account=request.account,
            user=request.user,
            filters={key: query.getlist(key) for key in query},
            other_account_ids=[pk for pk, _ in _account_choices(request) if pk != request.account.pk],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return HttpResponseRedirect(_list_url(request))
    return redirect(job)


@require_GET
@access.member_required
def remove_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = access.get_scoped(request, DncRemoveJob, pk)
    links = [("Back to the list", reverse("dnc:list"))]
    if request.membership.is_admin:
        links.append(("Audit trail", reverse("dnc:audit") + "?how=ui&action=remove"))
    filters = [f"{name}: {', '.join(values)}" for name, values in job.filters.items() if values]
    page = JobPage(
        title="Removing Do Not Contact entries",
        heading=f"Removing {intcomma(job.total)} entr{pluralize(job.total, 'y,ies')} "
        "from the Do Not Contact list",
        breadcrumbs=[("Configuration", ""), ("Do Not Contact", reverse("dnc:list")), ("Removal", "")],
        details=[JobDetail("Filters", badges=filters, text="" if job.filters else "None: the whole list")],
        unit="removed",
        cancel_url=reverse("dnc:remove_job_cancel", args=[job.pk]),
        cancel_confirm="Stop removing? Entries removed so far stay removed.",
        result=job.message,
        links=links,
    )
    return job_page(request, job, page, nav="configuration")


@require_POST
@access.editor_required(row=DncRemoveJob)
def remove_job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = access.get_scoped(request, DncRemoveJob, pk)
    if bulk.dnc_remove_job_cancel(job=job):
        messages.info(request, "The removal was stopped; the entries removed so far stay removed.")
    return redirect(job)


@require_http_methods(["GET", "POST"])
@access.member_required
def entry_export(request: HttpRequest) -> HttpResponse:
    """GET: every entry matching the filter in the querystring; POST: the selected ones."""
    data = QueryDict(request.POST.get("query", "")) if request.method == "POST" else request.GET
    choices = _account_choices(request)
    try:
        queryset = selectors.entries_for_account(
            account=request.account,
            filters=data,
            account_choices=[c for c in choices if c[0] != request.account.pk],
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("dnc:list")
    if request.method == "POST":
        queryset = queryset.filter(entry_id__in=[int(i) for i in request.POST.getlist("ids") if i.isdigit()])
    response = StreamingHttpResponse(
        exports.entries_csv(
            queryset, account_ids=[c[0] for c in choices], zone=timezone.get_current_timezone()
        ),
        content_type="text/csv; charset=utf-8",
    )
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="do-not-contact-{stamp}.csv"'
    return response


@require_GET
@access.member_required
def profile_panel(request: HttpRequest, pk: int) -> HttpResponse:
    profile = access.get_profile(request, pk)
    blocks = selectors.profile_blocks(account=request.account, profile=profile)
    return render_page(request, "dnc/profile_panel.html", {"profile": profile, "blocks": blocks})


@require_POST
@access.editor_required
def bulk_add(request: HttpRequest) -> HttpResponse:
    """People's "Add to Do Not Contact": first asks for the channel and sender (a page showing
    who is selected), then, with `confirm=1`, puts their contacts on the current account's list."""
    form = DncBulkAddForm(request.POST if request.POST.get("confirm") == "1" else None)
    back = reverse("audience:people") + (f"?{request.POST['query']}" if request.POST.get("query") else "")
    try:
        selection = Selection.from_post(request.POST)
        profiles = selection_queryset(account=request.account, selection=selection)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect(back)
    if not form.is_bound or not form.is_valid():
        context = {
            "nav": "people",
            "form": form,
            "selection": selection,
            "count": counting.count_with_timeout(profiles),
            "query": request.POST.get("query", ""),
            "back": back,
        }
        return render_page(request, "dnc/bulk_add_confirm.html", context, status=422 if form.errors else 200)
    report = services.dnc_profiles_add(
        account=request.account,
        profiles=profiles,
        channel=form.cleaned_data["channel"],
        sender=form.cleaned_data["sender"],
        added_by=request.user,
    )
    messages.success(
        request,
        f"Do Not Contact: {report.created} added, {report.merged + report.unchanged} already there, "
        f"{len(report.rejected)} refused.",
    )
    return redirect(back)


@require_GET
@access.admin_required
def audit_list(request: HttpRequest) -> HttpResponse:
    filterset = selectors.audit_filterset(account=request.account, data=request.GET)
    try:
        page = selectors.audit_page(
            account=request.account, before=request.GET.get("before", ""), filters=request.GET
        )
    except ValidationError as error:
        page, error_text = selectors.AuditPage(rows=[], next_before=None), " ".join(error.messages)
    else:
        error_text = ""
    context = {
        "nav": "configuration",
        "page": page,
        "filterset": filterset,
        "filtered": any(key != "before" for key in request.GET),
        "error": error_text,
    }
    return render_page(request, "dnc/audit_list.html", context, partial="results")
