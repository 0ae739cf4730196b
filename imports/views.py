from __future__ import annotations

import os

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.defaultfilters import filesizeformat
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access
from audience.htmx import invalid_status, render_page
from audience.selection import Selection
from imports import exports, files, forms, mapping, selectors, services
from imports.models import ExportJob, ImportJob, ImportKind, ImportStage


def _job(request: HttpRequest, pk: int) -> ImportJob:
    return access.get_scoped(request, ImportJob, pk)


@require_GET
@access.member_required
def import_list(request: HttpRequest) -> HttpResponse:
    jobs, older = selectors.import_jobs_page(account=request.account, before=request.GET.get("before"))
    return render_page(request, "imports/import_list.html", {"jobs": jobs, "older": older, "nav": "imports"})


@require_http_methods(["GET", "POST"])
@access.editor_required
def import_new(request: HttpRequest) -> HttpResponse:
    form = forms.UploadForm(
        request.POST or None, request.FILES or None, initial={"kind": request.GET.get("kind", "people")}
    )
    refused = getattr(request, "upload_refused", None)  # files.UploadLimitHandler stopped it
    if refused:
        form = forms.UploadForm({"kind": request.POST.get("kind", "people")})
        form.is_valid()
        form.errors["file"] = form.error_class([refused])
        context = {"form": form, "nav": "imports", "max_bytes": filesizeformat(settings.UPLOAD_MAX_BYTES)}
        return render_page(request, "imports/import_new.html", context, status=413)
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            job = services.import_job_create(
                account=request.account,
                user=request.user,
                kind=form.cleaned_data["kind"],
                name=upload.name,
                stream=upload,
                size=upload.size,
            )
        except files.FileRefused as refused:
            form.add_error("file", refused.message)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect("imports:map", job.pk)
    status = 400 if form.errors else 200
    context = {"form": form, "nav": "imports", "max_bytes": filesizeformat(settings.UPLOAD_MAX_BYTES)}
    return render_page(request, "imports/import_new.html", context, status=status)


def _map_context(request: HttpRequest, job: ImportJob, reading=None, mapping_form=None) -> dict:
    reading = reading or forms.ReadingForm(
        initial={
            "encoding": job.encoding,
            "delimiter": job.delimiter,
            "skip_rows": job.skip_rows,
            "has_header": "header" if job.has_header else "data",
        }
    )
    fields = mapping.fields_for(account=job.account, kind=job.kind)
    mapping_form = mapping_form or forms.MappingForm(
        headers=job.headers, fields=fields, initial_mapping=job.mapping
    )
    try:
        preview = services.import_job_preview(job=job)
    except files.FileRefused as refused:
        preview, reading.refusal = [], refused.message
    return {
        "job": job,
        "reading": reading,
        "mapping_form": mapping_form,
        "preview": preview,
        "nav": "imports",
        "keys": ", ".join(mapping.KEYS[job.kind]),
    }


@require_http_methods(["GET", "POST"])
@access.editor_required(row=ImportJob)
def import_map(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if job.stage != ImportStage.MAP and not job.can_remap:
        return redirect(job)
    mapping_form = None
    if request.method == "POST":
        fields = mapping.fields_for(account=job.account, kind=job.kind)
        mapping_form = forms.MappingForm(
            request.POST, headers=job.headers, fields=fields, initial_mapping=job.mapping
        )
        if mapping_form.is_valid():
            chosen, new = mapping_form.mapping()
            try:
                services.import_job_map(job=job, fields=chosen, new_fields=new)
            except ValidationError as error:
                mapping_form.add_error(None, error)
            else:
                return redirect(job)
    status = 400 if mapping_form is not None else 200
    return render_page(
        request,
        "imports/import_map.html",
        _map_context(request, job, mapping_form=mapping_form),
        partial="mapping",
        status=status,
    )


@require_POST
@access.editor_required(row=ImportJob)
def import_reading(request: HttpRequest, pk: int) -> HttpResponse:
    """Change the encoding, delimiter or skipped rows; answers the mapping region (htmx) or page."""
    job = _job(request, pk)
    reading = forms.ReadingForm(request.POST)
    if reading.is_valid():
        try:
            services.import_job_configure(job=job, **reading.cleaned_data)
        except (files.FileRefused, ValidationError) as error:
            reading.add_error(
                None, getattr(error, "message", None) or " ".join(getattr(error, "messages", [str(error)]))
            )
        else:
            reading = None
    status = invalid_status(request) if reading is not None and reading.errors else 200
    return render_page(
        request,
        "imports/import_map.html",
        _map_context(request, job, reading=reading),
        partial="mapping",
        status=status,
    )


@require_GET
@access.member_required
def import_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    options_form = None
    if job.is_analyzed and request.membership.can_edit:
        options_form = _options_form(request, job)
    context = {
        "job": job,
        "options_form": options_form,
        "default_tag": services.default_tag_name(job),
        "nav": "imports",
    }
    return render_page(request, "imports/import_detail.html", context, partial="progress")


def _options_form(request: HttpRequest, job: ImportJob, data=None):
    if job.kind == ImportKind.DNC:
        return forms.DncOptionsForm(
            data,
            account_choices=selectors.editable_accounts(user=request.user),
            initial={"accounts": [job.account_id]},
        )
    return forms.PeopleOptionsForm(data)


@require_POST
@access.editor_required(row=ImportJob)
def import_start(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    form = _options_form(request, job, request.POST)
    if form.is_valid():
        try:
            services.import_job_start(job=job, user=request.user, options=form.options())
        except ValidationError as error:
            form.add_error(None, error)
        else:
            return redirect(job)
    context = {
        "job": job,
        "options_form": form,
        "default_tag": services.default_tag_name(job),
        "nav": "imports",
    }
    return render_page(request, "imports/import_detail.html", context, status=400)


@require_POST
@access.editor_required(row=ImportJob)
def import_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if services.import_job_cancel(job=job):
        messages.info(request, "The import was cancelled; rows already imported stay.")
    return redirect(job)


@require_GET
@access.member_required
def import_rejected(request: HttpRequest, pk: int) -> HttpResponse:
    job = _job(request, pk)
    if not job.rejected_path:
        raise Http404("No rejected rows.")
    name = f"{os.path.splitext(job.file_name)[0]}-rejected.csv"
    return FileResponse(
        default_storage.open(job.rejected_path, "rb"),
        as_attachment=True,
        filename=name,
        content_type="text/csv",
    )


# Exports --------------------------------------------------------------------------------------


@require_GET
@access.member_required
def export_list(request: HttpRequest) -> HttpResponse:
    jobs, older = selectors.export_jobs_page(account=request.account, before=request.GET.get("before"))
    return render_page(request, "imports/export_list.html", {"jobs": jobs, "older": older, "nav": "imports"})


def _export(request: HttpRequest, kind: str, selection: dict, segment: int | None) -> HttpResponse:
    form = forms.ExportForm(request.POST)
    fmt = form.cleaned_data.get("format") or "csv" if form.is_valid() else "csv"
    try:
        job = exports.export_job_create(
            account=request.account,
            user=request.user,
            kind=kind,
            format=fmt,
            selection=selection,
            segment_id=segment,
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("imports:exports")
    messages.success(request, "The export is being prepared: you'll get a notification when it's ready.")
    return redirect(job)


@require_POST
@access.member_required  # a viewer may take out what they can see (docs/permissions.md)
def export_people(request: HttpRequest) -> HttpResponse:
    """POSTed from the People selection (`ids` repeated, or `all=1` + `query`) or with `segment`."""
    segment = request.POST.get("segment")
    if segment:
        if not segment.isdigit():
            raise Http404("No such segment.")
        return _export(request, "people", {}, int(segment))
    try:
        selection = Selection.from_post(request.POST)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("imports:exports")
    return _export(request, "people", selection.to_json(), None)


@require_POST
@access.member_required  # a viewer may take out what they can see (docs/permissions.md)
def export_dnc(request: HttpRequest) -> HttpResponse:
    """POSTed from the Do Not Contact screen: `ids` (entries) or `query` (its filter)."""
    ids = [i for i in request.POST.getlist("ids") if i.isdigit()]
    return _export(request, "dnc", {"ids": ids, "query": request.POST.get("query", "")}, None)


@require_GET
@access.member_required
def export_detail(request: HttpRequest, pk: int) -> HttpResponse:
    job = access.get_scoped(request, ExportJob, pk)
    return render_page(
        request, "imports/export_detail.html", {"job": job, "nav": "imports"}, partial="progress"
    )


@require_GET
@access.member_required
def export_download(request: HttpRequest, pk: int) -> HttpResponse:
    job = access.get_scoped(request, ExportJob, pk)
    if not job.file_path:
        raise Http404("The export is not ready.")
    types = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}
    return FileResponse(
        default_storage.open(job.file_path, "rb"),
        as_attachment=True,
        filename=job.download_name,
        content_type=types[job.format],
    )
