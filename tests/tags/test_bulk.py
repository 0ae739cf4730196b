from __future__ import annotations

from urllib.parse import urlencode

import pytest

from audience.jobs import JobStatus
from audience.models import Notification
from audience.selection import Selection
from tags import bulk, services
from tags.models import ProfileTag, Tag, TagBulkJob
from tests.factories import ProfileFactory


@pytest.fixture
def crowd(account, other_account, settings, monkeypatch):
    settings.BULK_SYNC_LIMIT = 5
    monkeypatch.setattr(bulk, "CHUNK", 7)  # several chunks for 40 profiles
    ProfileFactory(account=other_account, city="Paris")
    people = ProfileFactory.create_batch(30, account=account, city="Paris")
    ProfileFactory.create_batch(10, account=account, city="Rome")
    return people


def _tagged(tag: Tag) -> set[int]:
    return set(ProfileTag.objects.filter(tag=tag).values_list("profile_id", flat=True))


def test_it_adds_tags_on_all_matching_profiles_through_a_job(
    crowd, account, owner, django_capture_on_commit_callbacks
):
    vip = services.tag_create(account=account, name="VIP")
    with django_capture_on_commit_callbacks(execute=True):
        result = bulk.tag_bulk_change(
            account=account,
            user=owner,
            selection=Selection(filters={"city": ["Paris"]}),
            add=[vip],
            remove=[],
        )
    job = TagBulkJob.objects.get(pk=result.job.pk)
    assert job.status == JobStatus.DONE
    assert (job.total, job.processed, job.added) == (30, 30, 30)
    assert _tagged(vip) == {p.pk for p in crowd}
    note = Notification.objects.get(user=owner)
    assert "30 profiles" in note.message and note.url == f"/tags/jobs/{job.pk}/"


def test_it_removes_and_adds_in_one_job_and_a_rerun_reaches_the_same_state(
    crowd, account, owner, django_capture_on_commit_callbacks
):
    vip = services.tag_create(account=account, name="VIP")
    old = services.tag_create(account=account, name="Old")
    services.tags_add(account=account, tags=[old], profile_ids=[p.pk for p in crowd[:20]])
    selection = Selection(ids=[p.pk for p in crowd[:25]])
    with django_capture_on_commit_callbacks(execute=True):
        result = bulk.tag_bulk_change(
            account=account, user=owner, selection=selection, add=[vip], remove=[old]
        )
    job = TagBulkJob.objects.get(pk=result.job.pk)
    assert (job.processed, job.added, job.removed) == (25, 25, 20)
    assert _tagged(vip) == {p.pk for p in crowd[:25]} and not _tagged(old)
    # Running it again (a redelivered task) changes nothing.
    TagBulkJob.objects.filter(pk=job.pk).update(status=JobStatus.PENDING, last_profile_id=0, processed=0)
    bulk.tag_bulk_job_run(job_id=job.pk)
    assert _tagged(vip) == {p.pk for p in crowd[:25]} and not _tagged(old)
    assert ProfileTag.objects.filter(tag=vip).count() == 25


def test_it_resumes_an_interrupted_job_after_the_last_committed_chunk(crowd, account, owner):
    vip = services.tag_create(account=account, name="VIP")
    job = TagBulkJob.objects.create(
        account=account,
        created_by=owner,
        selection=Selection(filters={"city": ["Paris"]}).to_json(),
        add_tag_ids=[vip.pk],
        total=30,
        status=JobStatus.RUNNING,
        last_profile_id=crowd[13].pk,
        processed=14,
    )
    bulk.tag_bulk_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE and job.processed == 30
    assert _tagged(vip) == {p.pk for p in crowd[14:]}


def test_it_does_not_run_a_finished_or_cancelled_job(crowd, account, owner):
    vip = services.tag_create(account=account, name="VIP")
    job = TagBulkJob.objects.create(
        account=account,
        selection=Selection(filters={}).to_json(),
        add_tag_ids=[vip.pk],
        status=JobStatus.CANCELLED,
    )
    bulk.tag_bulk_job_run(job_id=job.pk)
    assert not _tagged(vip)


def test_it_changes_a_small_selection_now(crowd, account, owner):
    vip = services.tag_create(account=account, name="VIP")
    result = bulk.tag_bulk_change(
        account=account, user=owner, selection=Selection(ids=[p.pk for p in crowd[:3]]), add=[vip], remove=[]
    )
    assert result.job is None and result.added == 3
    assert not TagBulkJob.objects.exists()


def test_it_runs_manage_tags_from_people_through_the_job_page(
    crowd, account, teammate_client, django_capture_on_commit_callbacks
):
    services.tag_create(account=account, name="VIP")
    query = urlencode({"city": "Paris"})
    first = teammate_client.post("/tags/bulk/", {"all": "1", "query": query})
    assert first.status_code == 200
    body = first.content.decode()
    assert "All <strong>30</strong> profiles matching" in body
    assert 'data-testid="bulk-warning"' in body and "30 people" in body
    with django_capture_on_commit_callbacks(execute=True):
        response = teammate_client.post(
            "/tags/bulk/", {"all": "1", "query": query, "new": "Conference, vip", "apply": "1"}
        )
    job = TagBulkJob.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/tags/jobs/{job.pk}/"
    conference = Tag.objects.get(account=account, name="Conference")
    assert _tagged(conference) == {p.pk for p in crowd}
    assert _tagged(Tag.objects.get(account=account, name="VIP")) == {p.pk for p in crowd}
    page = teammate_client.get(job.get_absolute_url())
    assert "30 of 30 profiles" in page.content.decode()
    fragment = teammate_client.get(job.get_absolute_url(), headers={"HX-Request": "true"})
    assert fragment.content.decode().lstrip().startswith('<div id="job-progress"')
    assert "hx-trigger" not in fragment.content.decode()  # finished: no more polling
