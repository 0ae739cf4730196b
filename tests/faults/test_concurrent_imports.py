"""Two imports of the same file started at once, on a worker with two pool processes, end in the
same state as one import."""

from __future__ import annotations

from audience.jobs import JobStatus
from imports import services
from imports.models import ImportJob
from tests.faults.test_worker_killed import (
    ROWS,
    fresh,
    import_in_process,
    people_csv,
    people_state,
    upload,
    wait_done,
)

OPTIONS = {"tags": ["Fair"], "default_tag": False}


def test_two_imports_of_the_same_file_at_once_end_as_one(start_worker, account, other_account, owner):
    worker = start_worker(concurrency=2, delay=0.05)
    jobs = [upload(account, owner, people_csv()) for _ in range(2)]
    for job in jobs:
        services.import_job_map(job=job, fields=job.mapping)
    for job in jobs:
        assert wait_done(worker, ImportJob, job.pk).is_analyzed
    for job in jobs:
        services.import_job_start(job=fresh(ImportJob, job.pk), user=owner, options=OPTIONS)
    first, second = (wait_done(worker, ImportJob, job.pk) for job in jobs)
    assert (first.status, second.status) == (JobStatus.DONE, JobStatus.DONE), (first.message, second.message)
    for job in (first, second):
        assert job.rows_read == job.processed == ROWS and job.rejected == 0
        assert job.created + job.updated + job.unchanged == ROWS
    assert first.created + second.created == ROWS  # each profile was created by one of them
    reference = import_in_process(other_account, None, people_csv(), "people", options=OPTIONS)
    assert people_state(account) == people_state(other_account) == (ROWS, 2 * ROWS, ROWS)
    assert reference.created == ROWS
