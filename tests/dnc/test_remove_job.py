""" "Remove all N matching the filter" on the Do Not Contact screen: a job, audited."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audience.models import Notification
from dnc import services
from dnc.models import AuditAction, DncAudit, DncEntryAccount, DncRemoveJob, Source

LIST = reverse("dnc:list")
REMOVE = reverse("dnc:remove")


@pytest.fixture
def wrong_import(account, other_account):
    services.dnc_entries_add(
        accounts=[account],
        entries=[{"contact": f"+3859123456{n:02d}"} for n in range(30)],
        source=Source.IMPORT,
    )
    services.dnc_entries_add(accounts=[account], entries=[{"contact": "+385919999999"}], source=Source.MO)
    services.dnc_entries_add(
        accounts=[other_account], entries=[{"contact": "+385912345600"}], source=Source.IMPORT
    )


def values(account) -> set[str]:
    return set(DncEntryAccount.objects.filter(account=account).values_list("value", flat=True))


@pytest.mark.parametrize("who", ["owner_client", "teammate_client"])
def test_it_removes_all_matching_the_filter_as_an_audited_job(
    request, who, account, other_account, wrong_import, django_capture_on_commit_callbacks, monkeypatch
):
    from dnc import bulk

    monkeypatch.setattr(bulk, "CHUNK", 7)  # several chunks
    client = request.getfixturevalue(who)
    assert "Remove all 30 matching" in client.get(LIST, {"source": "IMPORT"}).content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(REMOVE, {"all": "1", "query": "source=IMPORT&sort=contact"})
    job = DncRemoveJob.objects.get()
    assert response.status_code == 302 and response["Location"] == job.get_absolute_url()
    assert (job.status, job.total, job.processed, job.filters) == ("done", 30, 30, {"source": ["IMPORT"]})
    assert values(account) == {"+385919999999"}
    assert values(other_account) == {"+385912345600"}
    audits = DncAudit.objects.filter(action=AuditAction.REMOVE, account_id=account.pk)
    assert audits.count() == 30 and set(audits.values_list("how", flat=True)) == {"ui"}
    assert set(audits.values_list("username", flat=True)) == {"alice" if who == "owner_client" else "bob"}
    page = client.get(job.get_absolute_url()).content.decode()
    assert "Removed 30 entries" in page
    assert Notification.objects.filter(url=job.get_absolute_url()).exists()


def test_it_refuses_to_start_when_nothing_matches(owner_client, wrong_import):
    response = owner_client.post(REMOVE, {"all": "1", "query": "source=API"}, follow=True)
    assert "nothing to remove" in response.content.decode()
    assert not DncRemoveJob.objects.exists()


def test_it_forbids_a_viewer_to_remove_all(viewer_client, account, wrong_import):
    assert viewer_client.post(REMOVE, {"all": "1", "query": ""}).status_code == 403
    assert len(values(account)) == 31


def test_it_removes_for_an_outsider_only_their_entries(
    outsider_client, account, other_account, wrong_import, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        outsider_client.post(REMOVE, {"all": "1", "query": ""})
    assert values(other_account) == set()
    assert len(values(account)) == 31


def test_it_hides_a_removal_job_from_another_account(
    owner_client, outsider_client, wrong_import, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(REMOVE, {"all": "1", "query": "source=MO"})
    job = DncRemoveJob.objects.get()
    assert outsider_client.get(job.get_absolute_url()).status_code == 404
    assert outsider_client.post(reverse("dnc:remove_job_cancel", args=[job.pk])).status_code == 404


def test_it_stops_a_queued_removal(owner_client, account, wrong_import):
    owner_client.post(REMOVE, {"all": "1", "query": "source=IMPORT"})  # queued, not run (no commit)
    job = DncRemoveJob.objects.get()
    owner_client.post(reverse("dnc:remove_job_cancel", args=[job.pk]))
    from dnc import bulk

    bulk.dnc_remove_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == "cancelled" and len(values(account)) == 31
