"""The People screens: the list (quick filters, search, sort, keyset pages, selection), its
summary card, the profile card with its events timeline, and creating, editing and deleting."""

from __future__ import annotations

import json

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from audience import access, replicas, selectors, services
from audience.attributes import attribute_value_display
from audience.filters import ProfileFilterSet
from audience.forms import ProfileForm, form_apply_errors
from audience.htmx import render_page
from audience.models import Profile

COLUMNS = [
    ("name", "Name"),
    ("type", "Type"),
    ("city", "City"),
    ("country", "Country"),
    ("created", "Created"),
]


# Columns a person may hide from the People list (Name stays), remembered in their session.
HIDEABLE_COLUMNS = [
    ("contacts", "Contacts"),
    ("type", "Type"),
    ("city", "City"),
    ("country", "Country"),
    ("created", "Created"),
    ("company", "Company"),
    ("tags", "Tags"),
]
HIDDEN_COLUMNS_KEY = "people_hidden_columns"


def hidden_columns(request: HttpRequest) -> set[str]:
    known = {key for key, _ in HIDEABLE_COLUMNS}
    return {key for key in request.session.get(HIDDEN_COLUMNS_KEY, []) if key in known}


def _sort_links(current: str) -> list[dict]:
    """The column headers; the template links each to `{% querystring sort=target after=None before=None %}`."""
    links = []
    for key, label in COLUMNS:
        active = current.lstrip("-") == key
        descending = current.startswith("-")
        # A first click sorts names, places and types A→Z and dates newest first.
        target = (key if descending else f"-{key}") if active else (f"-{key}" if key == "created" else key)
        links.append(
            {
                "key": key,
                "label": label,
                "active": active,
                "descending": active and descending,
                "target": target,
            }
        )
    return links


@require_GET
@access.member_required
@replicas.replica_view
def people(request: HttpRequest) -> HttpResponse:
    filterset = ProfileFilterSet(request.GET or None, account=request.account)
    error = None
    try:
        page = selectors.profile_list(account=request.account, query=request.GET)
    except ValidationError as invalid:
        error = " ".join(invalid.messages)
        page = selectors.Page(rows=[], sort=selectors.parse_sort(request.GET.get("sort")))
    hidden = hidden_columns(request)
    # Tags live in a higher app; views may read across apps (one query for the page).
    from tags import selectors as tag_selectors

    tag_names = tag_selectors.tag_names_for_profiles([p.pk for p in page.rows])
    for row in page.rows:
        row.tag_names = tag_names.get(row.pk, [])
    context = {
        "nav": "people",
        "filter_form": filterset.form,
        "page": page,
        "error": error,
        "filtered": bool(selectors.people_filters(request.GET) or request.GET.get("rule")),
        "columns": _sort_links(page.sort),
        "hidden": hidden,
        "column_choices": [
            {"key": key, "label": label, "shown": key not in hidden} for key, label in HIDEABLE_COLUMNS
        ],
    }
    return render_page(request, "audience/profile_list.html", context, partial="results")


@require_POST
@access.member_required
def people_columns(request: HttpRequest) -> HttpResponse:
    """Which columns of the People list this person sees: the boxes ticked are shown, the rest
    hidden, in their session; back to the list they were on (htmx follows the redirect)."""
    shown = set(request.POST.getlist("show"))
    request.session[HIDDEN_COLUMNS_KEY] = [key for key, _ in HIDEABLE_COLUMNS if key not in shown]
    query = request.POST.get("query", "")
    target = f"{reverse('audience:people')}{'?' + query if query else ''}"
    if request.headers.get("HX-Request") == "true":
        # htmx loads the list again in place (people.js opens the menu again where it was).
        response = HttpResponse(status=204)
        location = {"path": target, "target": "#people-results", "swap": "outerHTML"}
        response["HX-Location"] = json.dumps(location)
        return response
    return redirect(target)


@require_GET
@access.member_required
@replicas.replica_view
def people_count(request: HttpRequest) -> HttpResponse:
    """The summary card: loaded by htmx so the list never waits for a count."""
    error = None
    try:
        count = selectors.profile_count(account=request.account, query=request.GET)
    except ValidationError as invalid:
        count, error = 0, " ".join(invalid.messages)
    context = {"count": count, "error": error}
    return render_page(request, "audience/profile_count.html", context)


@require_GET
@access.member_required
def profile(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_profile(request, pk)
    event_name = request.GET.get("event", "")
    events = selectors.profile_events(
        profile=person, name=event_name, after=request.GET.get("after"), before=request.GET.get("before")
    )
    custom = [
        (
            name,
            attribute_value_display(d.type, value) if d else str(value),
            d.get_type_display() if d else "Text",
        )
        for d, name, value in selectors.profile_custom_attributes(profile=person)
    ]
    context = {
        "nav": "people",
        "profile": person,
        "contacts": list(person.contacts.all()),
        "custom_attributes": custom,
        "events": events,
        "event_name": event_name,
        "event_names": selectors.profile_event_names(profile=person),
    }
    return render_page(request, "audience/profile_detail.html", context, partial="events")


@require_http_methods(["GET", "POST"])
@access.editor_required
def profile_create(request: HttpRequest) -> HttpResponse:
    form = ProfileForm(request.POST or None, account=request.account)
    if request.method == "POST" and form.is_valid():
        try:
            person = services.profile_create(account=request.account, **form.service_kwargs())
        except ValidationError as error:
            form_apply_errors(form, error, aliases=form.error_aliases())
        else:
            messages.success(request, f"{person.display_name} was created.")
            return redirect(person)
    status = 400 if form.errors else 200
    return render_page(request, "audience/profile_form.html", {"nav": "people", "form": form}, status=status)


@require_http_methods(["GET", "POST"])
@access.editor_required(row=Profile)
def profile_edit(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_profile(request, pk)
    form = ProfileForm(request.POST or None, instance=person, account=request.account)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(profile=person, **form.service_kwargs())
        except ValidationError as error:
            form_apply_errors(form, error, aliases=form.error_aliases())
        else:
            messages.success(request, f"{person.display_name} was saved.")
            return redirect(person)
    context = {"nav": "people", "form": form, "profile": Profile.objects.get(pk=person.pk)}
    return render_page(request, "audience/profile_form.html", context, status=400 if form.errors else 200)


@require_POST
@access.editor_required(row=Profile)
def profile_delete(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_profile(request, pk)
    name = person.display_name
    services.profile_delete(profile=person)
    messages.success(request, f"{name} was deleted.")
    return redirect("audience:people")
