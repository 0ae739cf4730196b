"""The fast paths give the same answers as the slow ones: phones in E.164 shape, the analysis's
parsed rows reused by the import, the pre-validated Do Not Contact writer."""

from __future__ import annotations

import random

import pytest
from django.core.exceptions import ValidationError

from audience.contacts import normalize_phone
from audience.models import Profile
from dnc import services as dnc_services
from dnc.models import DncAudit, DncEntryAccount
from imports import services
from imports.models import ImportJob
from imports.phones import normalize_phone_fast
from imports.targets.dnc import DncTarget
from imports.targets.people import PeopleTarget
from tags.models import ProfileTag, Tag
from tests.imports.conftest import job_from

pytestmark = pytest.mark.django_db
CODES = [
    "1",
    "7",
    "44",
    "385",
    "49",
    "39",
    "33",
    "34",
    "31",
    "48",
    "420",
    "380",
    "61",
    "86",
    "91",
    "81",
    "55",
    "52",
    "353",
    "1242",
    "998",
    "979",
    "800",
    "870",
    "262",
    "599",
]


def _answer(function, raw):
    try:
        return function(raw)
    except ValidationError as error:
        return ("invalid", error.messages[0])


@pytest.mark.django_db(False)
def test_it_validates_phones_exactly_as_normalize_phone():
    rng = random.Random(3)
    samples = ["+385 91 234 5678", "00385912345678", "385912345678", "0912345678", "+3850912345678"]
    samples += ["+1 (202) 555-0143", "+44 7911 123456", "+39 06 6982 1234", "+7 912 345 67 89", "+1", ""]
    for _ in range(6000):
        code = rng.choice(CODES)
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(5, 12)))
        samples.append(rng.choice(["+", "00", "", "+ ", "0"]) + code + " " + digits)
    valid = 0
    for raw in samples:
        expected = _answer(normalize_phone, raw)
        assert _answer(normalize_phone_fast, raw) == expected, raw
        valid += not isinstance(expected, tuple)
    assert valid > 100  # the sample exercises the fast path, not only refusals


def test_it_imports_from_the_analysis_without_validating_again(account, owner, monkeypatch):
    data = b"Email,Phone,First name,Birth date\na@example.com,+385 91 234 5678,Ana,1990-02-03\nbad,,X,\n"
    job = job_from(account, owner, "p.csv", data)
    services.import_job_map(job=job, fields=job.mapping, analyze=False)
    services.import_job_analyze(job_id=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    assert job.analysis["clean_path"]

    def no_parse(self, row_no, cells):
        raise AssertionError("the import parsed a row again")

    monkeypatch.setattr(PeopleTarget, "parse", no_parse)
    services.import_job_start(job=job, user=owner, options={}, run=False)
    services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected, job.rows_read) == ("done", 1, 1, 2)
    profile = Profile.objects.get(account=account)
    assert str(profile.birth_date) == "1990-02-03" and profile.first_name == "Ana"
    assert set(profile.contacts.values_list("value", flat=True)) == {"a@example.com", "+385912345678"}
    tag = Tag.objects.get(account=account, name__startswith="Import ")
    assert ProfileTag.objects.filter(tag=tag, profile=profile).exists()


def test_it_reads_the_file_again_when_the_parsed_rows_are_gone(account, owner):
    from django.core.files.storage import default_storage

    job = job_from(account, owner, "p.csv", b"Email\na@example.com\nb@example.com\n")
    services.import_job_map(job=job, fields=job.mapping, analyze=False)
    services.import_job_analyze(job_id=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    default_storage.delete(job.analysis["clean_path"])
    services.import_job_start(job=job, user=owner, options={}, run=False)
    services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.created, job.rows_read) == ("done", 2, 2)


def test_it_parses_dnc_phone_rows_as_dnc_entry_parse_does(account):
    target = DncTarget(account=account, mapping=["contact", "sender", "channel"])
    rows = [
        ["+385 91 234 5678", "", "sms"],
        ["00385912345678", "+385 98 765 4321", ""],
        ["385912345678", "InfoSMS", "WHATSAPP"],
        ["ana@example.com", "", ""],
        ["example.com", "", "EMAIL"],
    ]
    for cells in rows:
        key = dnc_services.dnc_entry_parse(contact=cells[0], sender=cells[1], channel=cells[2])
        fields = target.parse(2, cells).fields
        assert (fields["kind"], fields["contact"], fields["sender"], fields["channel"]) == (
            key.kind,
            key.value,
            key.sender,
            key.channel,
        )
    for cells, code in (
        (["0912345678", "", ""], "contact"),
        (["+385912345678", "", "EMAIL"], "channel"),
        (["+385912345678", "", "FAX"], "channel"),
        (["+385912345678", "x" * 101, ""], "sender"),
    ):
        with pytest.raises(Exception) as caught:
            target.parse(2, cells)
        assert caught.value.code == code


def test_it_adds_pre_validated_dnc_entries_with_audit(account, other_account, owner):
    keys = [("phone", "+385912345678", "", "SMS"), ("email", "a@example.com", "", "EMAIL")]
    report = dnc_services.dnc_entries_add_normalized(
        accounts=[account], keys=keys + keys[:1], source="IMPORT", added_by=owner
    )
    assert (report.created, report.merged, report.unchanged) == (2, 0, 1)
    report = dnc_services.dnc_entries_add_normalized(
        accounts=[account, other_account], keys=keys, source="IMPORT", added_by=owner
    )
    assert (report.created, report.merged, report.unchanged) == (0, 2, 0)
    assert DncEntryAccount.objects.filter(account=other_account).count() == 2
    assert DncAudit.objects.filter(account_id=other_account.pk, action="add").count() == 2
    with pytest.raises(ValidationError):
        dnc_services.dnc_entries_add_normalized(accounts=[], keys=keys, source="IMPORT")


def test_it_imports_dnc_from_the_analysis(account, owner, monkeypatch):
    job = job_from(account, owner, "d.csv", b"Contact,Channel\n+385 91 234 5678,SMS\nbad,\n", kind="dnc")
    services.import_job_map(job=job, fields=job.mapping, analyze=False)
    services.import_job_analyze(job_id=job.pk)
    monkeypatch.setattr(DncTarget, "parse", lambda *args: pytest.fail("parsed again"))
    job = ImportJob.objects.get(pk=job.pk)
    services.import_job_start(job=job, user=owner, options={"accounts": [account.pk]}, run=False)
    services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.created, job.rejected, job.rows_read) == ("done", 1, 1, 2)
    assert list(DncEntryAccount.objects.filter(account=account).values_list("value", "channel")) == [
        ("+385912345678", "SMS")
    ]
