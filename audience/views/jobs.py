"""The page of one long job (a Do Not Contact removal, a bulk tag change): what it does, its progress
polled while it runs (announced to screen readers), a Stop button, then its result and where to go
next. Every kind of job shows `templates/jobs/job_detail.html`; a view says only what differs."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.http import HttpRequest, HttpResponse

from audience.htmx import render_page
from audience.jobs import Job


@dataclass
class JobDetail:
    """One line of the job's description: a term with badges, or with text."""

    term: str
    badges: list[str] = field(default_factory=list)
    text: str = ""


@dataclass
class JobPage:
    title: str  # the <title>
    heading: str
    breadcrumbs: list[tuple[str, str]]  # (label, url or ""), the last one the page itself
    details: list[JobDetail]
    unit: str  # "N of M <unit>"
    cancel_url: str
    cancel_confirm: str
    result: str  # shown when the job is finished
    links: list[tuple[str, str]]  # (label, url) shown when the job is finished


def job_page(request: HttpRequest, job: Job, page: JobPage, *, nav: str) -> HttpResponse:
    """The job's page, or (for htmx's poll) only its progress card."""
    context = {"nav": nav, "job": job, "job_page": page}
    return render_page(request, "jobs/job_detail.html", context, partial="progress")
