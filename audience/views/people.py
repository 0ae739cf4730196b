from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from audience import access
from audience.htmx import render_page
from audience.models import Profile


@require_GET
@access.member_required
def people(request: HttpRequest) -> HttpResponse:
    profiles = Profile.objects.for_account(request.account).order_by("-id")
    rows = list(profiles.prefetch_related("contacts")[:50])
    return render_page(request, "audience/profile_list.html", {"profiles": rows})


@require_GET
@access.member_required
def profile(request: HttpRequest, pk: int) -> HttpResponse:
    person = access.get_profile(request, pk)
    return render_page(request, "audience/profile_detail.html", {"profile": person})
