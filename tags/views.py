"""The Tags screen (list, create, rename, duplicate, merge, delete), "Manage tags" on a People
selection with its job page, and the tag panels of the profile and company cards."""

from __future__ import annotations

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access, usage
from audience.htmx import invalid_status, render_page, wants_partial
from audience.jobs import JobStatus
from audience.selection import Selection
from audience.views.jobs import JobDetail, JobPage, job_page
from tags import bulk, selectors, services
from tags.forms import PanelAddForm, TagBulkForm, TagIdsForm, TagMergeForm, TagNameForm
from tags.models import Tag, TagBulkJob

LIST = "tags/tag_list.html"


def _get_tag(request: HttpRequest, pk: int) -> Tag:
    return access.get_scoped(request, Tag, pk)


def _errors(error: ValidationError) -> str:
    return " ".join(error.messages)


def _list_context(request: HttpRequest, create_form: TagNameForm | None = None) -> dict:
    sort = request.GET.get("sort", "name")
    page = selectors.tags_page(
        account=request.account, q=request.GET.get("q", ""), sort=sort, page=request.GET.get("page", 1)
    )
    return {
        "nav": "tags",
        "page": page,
        "stats_query": urlencode([("ids", tag.pk) for tag in page.object_list]),
        "q": request.GET.get("q", ""),
        "sort": sort if sort in selectors.SORTS else "name",
        "create_form": create_form or TagNameForm(),
        "recent_jobs": selectors.bulk_jobs_recent(account=request.account),
    }


@require_GET
@access.member_required
def tag_list(request: HttpRequest) -> HttpResponse:
    return render_page(request, LIST, _list_context(request), partial="results")


@require_GET
@access.member_required
def tag_stats(request: HttpRequest) -> HttpResponse:
    """Persons, Companies and Currently used of one page of tags, swapped into its cells (htmx)."""
    rows = selectors.tag_stats(account=request.account, tag_ids=_int_list(request.GET.getlist("ids")))
    return render_page(request, "tags/tag_stats.html", {"nav": "tags", "rows": rows}, partial="cells")


def _int_list(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


@require_POST
@access.editor_required
def tag_create(request: HttpRequest) -> HttpResponse:
    form = TagNameForm(request.POST)
    if form.is_valid():
        try:
            tag = services.tag_create(account=request.account, name=form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error)
        else:
            messages.success(request, f"Tag “{tag.name}” created.")
            return redirect("tags:list")
    return render_page(request, LIST, _list_context(request, form), status=400)


def _tag_form_view(request: HttpRequest, pk: int, *, template: str, action, initial: str) -> HttpResponse:
    """Rename and duplicate: a name form on a page of its own; `action(tag, name)` does the work."""
    tag = _get_tag(request, pk)
    form = TagNameForm(request.POST or None, initial={"name": initial.format(name=tag.name)})
    if request.method == "POST" and form.is_valid():
        try:
            done = action(tag, form.cleaned_data["name"])
        except ValidationError as error:
            form.add_error("name", error)
        else:
            messages.success(request, done)
            return redirect("tags:list")
    status = 400 if form.errors else 200
    return render_page(request, template, {"nav": "tags", "tag": tag, "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@access.editor_required(row=Tag)
def tag_rename(request: HttpRequest, pk: int) -> HttpResponse:
    def action(tag: Tag, name: str) -> str:
        old = tag.name
        services.tag_rename(tag=tag, name=name)
        return f"Tag “{old}” renamed to “{tag.name}”."

    return _tag_form_view(request, pk, template="tags/tag_rename.html", action=action, initial="{name}")


@require_http_methods(["GET", "POST"])
@access.editor_required(row=Tag)
def tag_duplicate(request: HttpRequest, pk: int) -> HttpResponse:
    def action(tag: Tag, name: str) -> str:
        copy = services.tag_duplicate(tag=tag, name=name)
        return f"Tag “{copy.name}” created with the profiles and companies of “{tag.name}”."

    return _tag_form_view(
        request, pk, template="tags/tag_duplicate.html", action=action, initial="{name} copy"
    )


@require_http_methods(["GET", "POST"])
@access.editor_required(row=Tag)
def tag_merge(request: HttpRequest, pk: int) -> HttpResponse:
    tag = _get_tag(request, pk)
    form = TagMergeForm(request.POST or None, tag=tag)
    if request.method == "POST" and form.is_valid():
        try:
            target = services.tag_merge(source=tag, target=form.cleaned_data["target"])
        except ValidationError as error:
            form.add_error(None, error)
        else:
            messages.success(request, f"“{tag.name}” merged into “{target.name}”.")
            return redirect("tags:list")
    context = {"nav": "tags", "tag": tag, "form": form, "used_by": usage.usage_list(usage.TAG, tag)}
    return render_page(request, "tags/tag_merge.html", context, status=400 if form.errors else 200)


@require_POST
@access.editor_required
def tags_delete(request: HttpRequest) -> HttpResponse:
    # A row's own Delete button posts `one`: only that tag, whatever boxes are ticked.
    data = QueryDict(urlencode({"ids": request.POST["one"]})) if "one" in request.POST else request.POST
    form = TagIdsForm(data, account=request.account)
    if not form.is_valid():
        messages.error(request, " ".join(form.errors.get("ids", ["Select at least one tag."])))
        return redirect("tags:list")
    try:
        deleted = services.tags_delete(account=request.account, tags=form.cleaned_data["ids"])
    except ValidationError as error:
        messages.error(request, _errors(error))
    else:
        messages.success(request, f"{deleted} tag{'s' if deleted != 1 else ''} deleted.")
    return redirect("tags:list")


def _people_url(request: HttpRequest) -> str:
    query = request.POST.get("query", "")
    return reverse("audience:people") + (f"?{query}" if query else "")


@require_POST
@access.editor_required
def tag_bulk(request: HttpRequest) -> HttpResponse:
    """ "Manage tags" from People: the first POST (the selection) shows the form; `apply` runs it."""
    try:
        selection = Selection.from_post(request.POST)
    except ValidationError as error:
        messages.error(request, _errors(error))
        return redirect(_people_url(request))
    count = bulk.selection_count(account=request.account, selection=selection)
    form = TagBulkForm(request.POST if "apply" in request.POST else None, account=request.account)
    if form.is_valid():
        try:
            result = bulk.tag_bulk_apply(
                account=request.account,
                user=request.user,
                selection=selection,
                data=form.cleaned_data,
                count=count,
            )
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if result.job is not None:
                return redirect(result.job.get_absolute_url())
            messages.success(
                request,
                f"Tags changed on {result.profiles:,} profiles: {result.added:,} added, {result.removed:,} removed.",
            )
            return redirect(_people_url(request))
    context = {
        "nav": "people",
        "form": form,
        "count": count,
        "limit": settings.BULK_SYNC_LIMIT,
        "large": count is None or count > settings.BULK_SYNC_LIMIT,
        "selection": selection,
        "query": request.POST.get("query", ""),
        "people_url": _people_url(request),
    }
    return render_page(request, "tags/tag_bulk.html", context, status=400 if form.errors else 200)


@require_GET
@access.member_required
def bulk_job(request: HttpRequest, pk: int) -> HttpResponse:
    job = access.get_scoped(request, TagBulkJob, pk)
    tags = selectors.bulk_job_tags(job)
    details = [
        JobDetail(term, badges=[tag.name for tag in tags[key]])
        for term, key in (("Adding", "add_tags"), ("Removing", "remove_tags"))
        if tags[key]
    ]
    result = job.message
    if job.status == JobStatus.DONE:
        counts = f"{intcomma(job.added)} tag{pluralize(job.added)} added, {intcomma(job.removed)} removed."
        result = f"{result} {counts}".strip()
    page = JobPage(
        title="Bulk tag change",
        heading=f"{job.get_action_display()} on {intcomma(job.total)} profile{pluralize(job.total)}",
        breadcrumbs=[("Tags", reverse("tags:list")), ("Bulk tag change", "")],
        details=details,
        unit=f"profile{pluralize(job.total)}",
        cancel_url=reverse("tags:bulk_job_cancel", args=[job.pk]),
        cancel_confirm="Stop this bulk tag change? Profiles already changed keep the change.",
        result=result,
        links=[("Back to People", reverse("audience:people")), ("Tags", reverse("tags:list"))],
    )
    return job_page(request, job, page, nav="tags")


@require_POST
@access.editor_required(row=TagBulkJob)
def bulk_job_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = access.get_scoped(request, TagBulkJob, pk)
    if bulk.tag_bulk_job_cancel(job=job):
        messages.info(
            request, "The bulk tag change was cancelled; the profiles done so far keep their change."
        )
    return redirect(job.get_absolute_url())


def _panel(request: HttpRequest, owner, *, template: str, tags_of, add, remove) -> HttpResponse:
    """The tag panel of a profile or company card: GET shows it, POST adds (`name`) or removes (`remove`)."""
    form = PanelAddForm(request.POST if "name" in request.POST else None)
    if request.method == "POST":
        if not request.membership.can_edit:
            raise PermissionDenied("Your role in this account can't change tags.")
        try:
            if "remove" in request.POST:
                remove(owner, _get_tag(request, request.POST["remove"]))
            elif form.is_valid():
                add(owner, form.cleaned_data["name"])
                form = PanelAddForm()
        except ValidationError as error:
            form.add_error("name", error)
        if not wants_partial(request) and not form.errors:
            return redirect(owner.get_absolute_url())
    context = {
        "owner": owner,
        "tags": tags_of(owner),
        "form": form,
        "panel_url": request.path,
        "all_names": selectors.tag_names(request.account) if request.membership.can_edit else [],
    }
    return render_page(request, template, context, status=invalid_status(request) if form.errors else 200)


@require_http_methods(["GET", "POST"])
@access.member_required
def profile_panel(request: HttpRequest, pk: int) -> HttpResponse:
    return _panel(
        request,
        access.get_profile(request, pk),
        template="tags/profile_panel.html",
        tags_of=selectors.profile_tags,
        add=lambda profile, name: services.profile_tag_add(profile=profile, name=name),
        remove=lambda profile, tag: services.profile_tag_remove(profile=profile, tag=tag),
    )


@require_http_methods(["GET", "POST"])
@access.member_required
def company_panel(request: HttpRequest, pk: int) -> HttpResponse:
    return _panel(
        request,
        access.get_company(request, pk),
        template="tags/company_panel.html",
        tags_of=selectors.company_tags,
        add=lambda company, name: services.company_tag_add(company=company, name=name),
        remove=lambda company, tag: services.company_tag_remove(company=company, tag=tag),
    )
