"""A job that kills its worker every time it runs (the OOM killer, say) does not go round for
ever: the delivery after its JOB_MAX_ATTEMPTS-th start fails it, says so and tells its owner."""

from __future__ import annotations

from audience.jobs import JobStatus, gave_up_message
from audience.models import Notification
from audience.selection import Selection
from tags import bulk
from tags import services as tag_services
from tags.models import TagBulkJob
from tests.faults.conftest import wait_for
from tests.faults.test_worker_killed import ROWS, crowd, fresh, wait_done


def test_a_job_killed_at_each_attempt_gives_up_after_three(start_worker, account, owner, settings):
    crowd(account)
    settings.BULK_SYNC_LIMIT = 10
    vip = tag_services.tag_create(account=account, name="VIP")
    worker = start_worker(delay=0.3)
    result = bulk.tag_bulk_change(account=account, user=owner, selection=Selection(), add=[vip], remove=[])
    pk, done = result.job.pk, 0
    for attempt in (1, 2, 3):

        def started_and_committed(attempt: int = attempt, done: int = done) -> bool:
            job = fresh(TagBulkJob, pk)
            return job.attempts == attempt and job.processed > done

        # Killed once this attempt has committed a chunk of its own.
        wait_for(started_and_committed, 30, worker.tail)
        worker.kill_child()
        job = fresh(TagBulkJob, pk)
        assert job.status == JobStatus.RUNNING and job.processed < ROWS, "killed too late to matter"
        done = job.processed
    job = wait_done(worker, TagBulkJob, pk)
    assert (job.status, job.attempts, job.message) == (JobStatus.FAILED, 3, gave_up_message(3))
    assert job.processed == done < ROWS  # the committed prefix stays, nothing after it
    note = wait_for(lambda: Notification.objects.filter(user=owner).first(), 5, worker.tail)
    assert note.level == "danger" and note.message.startswith("The bulk tag change failed: Gave up after 3")
