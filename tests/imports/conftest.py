"""Fixtures of the import tests: files go to a temporary MEDIA_ROOT; helpers build odd files."""

from __future__ import annotations

import io

import pytest
from django.test import TestCase

from imports import services


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def csv_bytes(text: str, encoding: str = "utf-8") -> bytes:
    return text.encode(encoding)


def job_from(account, user, name: str, data: bytes, kind: str = "people"):
    return services.import_job_create(
        account=account, user=user, kind=kind, name=name, stream=io.BytesIO(data), size=len(data)
    )


def run(job, user=None, options=None, fields=None, new_fields=None):
    """Map (suggested or given), analyze and import a job in-process; returns the job."""
    from imports.models import ImportJob

    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_job_map(
            job=job, fields=fields if fields is not None else job.mapping, new_fields=new_fields
        )
    job = ImportJob.objects.get(pk=job.pk)
    if not job.is_analyzed:
        return job
    with TestCase.captureOnCommitCallbacks(execute=True):
        services.import_job_start(job=job, user=user, options=options or {})
    return ImportJob.objects.get(pk=job.pk)
