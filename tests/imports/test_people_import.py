from __future__ import annotations

import pytest

from audience.models import AttributeDefinition, Contact, Profile
from imports.models import ImportJob
from tags.models import ProfileTag, Tag
from tests.imports.conftest import job_from, run

pytestmark = pytest.mark.django_db

PEOPLE = (
    "First name,Last name,Phone,Email,City,External id\n"
    "Ana,Horvat,+385 91 234 5678,ana@example.com,Zagreb,A1\n"
    "Ivo,Kos,0912345678,ivo@example.com,Split,A2\n"
    "Mia,Novak,,MIA@example.com,Rijeka,A3\n"
    "Dup,Person,00385912345678,,Zagreb,\n"
    ",,,,,\n"
    "Zed,Nobody,,,Osijek,\n"
)


def test_it_counts_honestly(account, owner):
    job = run(job_from(account, owner, "people.csv", PEOPLE.encode()))
    assert job.status == "done"
    assert job.analysis["rows"] == 5  # the blank line is not a row
    assert job.analysis["reasons"] == {
        "Invalid phone": 1,
        "Duplicate inside the file": 1,
        "No phone, email or external id": 1,
    }
    assert (job.created, job.updated, job.unchanged, job.rejected) == (2, 0, 0, 3)
    assert job.created + job.updated + job.unchanged + job.rejected == job.rows_read == 5
    ana = Profile.objects.get(account=account, external_id="A1")
    assert sorted(ana.contacts.values_list("value", flat=True)) == ["+385912345678", "ana@example.com"]
    assert Contact.objects.filter(account=account, value="mia@example.com").exists()


def test_it_reports_rejected_rows_with_reasons(account, owner):
    from django.core.files.storage import default_storage

    job = run(job_from(account, owner, "people.csv", PEOPLE.encode()))
    text = default_storage.open(job.rejected_path).read().decode("utf-8-sig")
    lines = text.strip().splitlines()
    assert lines[0].endswith("Row,Reason")
    assert len(lines) == 4
    assert "not in international format" in text and "Same phone +385912345678 as row 2" in text


def test_it_is_idempotent_on_a_rerun(account, owner):
    run(job_from(account, owner, "people.csv", PEOPLE.encode()))
    again = run(job_from(account, owner, "people.csv", PEOPLE.encode()), options={"existing": "rewrite"})
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 2, 3)
    assert Profile.objects.filter(account=account).count() == 2
    assert Contact.objects.filter(account=account).count() == 3


def test_it_keeps_existing_profiles_when_told_to(account, owner):
    run(job_from(account, owner, "a.csv", b"External id,City\nA1,Zagreb\n"))
    job = run(
        job_from(account, owner, "b.csv", b"External id,City\nA1,Split\nA2,Pula\n"),
        options={"existing": "keep"},
    )
    assert job.analysis["existing_changed"] == 1
    assert (job.created, job.updated, job.unchanged) == (1, 0, 1)
    assert Profile.objects.get(account=account, external_id="A1").city == "Zagreb"


def test_it_rewrites_existing_profiles_when_told_to(account, owner):
    run(job_from(account, owner, "a.csv", b"External id,City,First name\nA1,Zagreb,Ana\n"))
    job = run(
        job_from(account, owner, "b.csv", b"External id,City,First name,Email\nA1,Split,,a@example.com\n"),
        options={"existing": "rewrite", "type": "customer"},
    )
    assert (job.created, job.updated, job.unchanged) == (0, 1, 0)
    profile = Profile.objects.get(account=account, external_id="A1")
    assert (profile.city, profile.first_name, profile.type) == (
        "Split",
        "Ana",
        "customer",
    )  # empty cell erases nothing
    assert list(profile.contacts.values_list("value", flat=True)) == ["a@example.com"]


def test_a_rewrite_writes_each_kind_of_value_and_only_what_changed(account, owner):
    """One chunk: a row that only adds a contact, one that changes a date, a company and a typed
    custom attribute (merged with the stored ones), and one that changes nothing."""
    from audience.models import AttributeDefinition

    AttributeDefinition.objects.create(account=account, name="orders", type="integer")
    run(
        job_from(
            account,
            owner,
            "a.csv",
            b"External id,Birth date,Company,Orders\nA1,1990-01-02,Acme,3\nA2,1980-05-06,Acme,4\nA3,,,\n",
        )
    )
    a2 = Profile.objects.get(account=account, external_id="A2")
    a2.attributes = {**a2.attributes, "note": "kept"}
    a2.save()
    job = run(
        job_from(
            account,
            owner,
            "b.csv",
            b"External id,Email,Birth date,Company,Orders\n"
            b"A1,one@example.com,,,\nA2,,1981-07-08,Beta,5\nA3,,,,\n",
        ),
        options={"existing": "rewrite"},
    )
    assert (job.created, job.updated, job.unchanged, job.rejected) == (0, 2, 1, 0)
    a1, a2 = (Profile.objects.get(account=account, external_id=x) for x in ("A1", "A2"))
    assert list(a1.contacts.values_list("value", flat=True)) == ["one@example.com"]
    assert (str(a1.birth_date), a1.company.name, a1.attributes) == ("1990-01-02", "Acme", {"orders": 3})
    assert (str(a2.birth_date), a2.company.name) == ("1981-07-08", "Beta")
    assert a2.attributes == {"orders": 5, "note": "kept"}
    assert a2.modified_at > a1.created_at


def test_it_rejects_a_row_matching_two_profiles(account, owner):
    run(job_from(account, owner, "a.csv", b"External id,Email\nA1,a@example.com\nA2,b@example.com\n"))
    job = run(
        job_from(account, owner, "b.csv", b"External id,Email\nA1,b@example.com\n"),
        options={"existing": "rewrite"},
    )
    assert job.rejected == 1 and job.analysis["reasons"] == {"Matches two different profiles": 1}


def test_it_tags_imported_people_with_the_default_tag(account, owner):
    job = run(
        job_from(account, owner, "a.csv", b"Email\na@example.com\nb@example.com\n"), options={"tags": ["VIP"]}
    )
    names = set(Tag.objects.filter(account=account).values_list("name", flat=True))
    default = job.options["default_tag_name"]
    assert default.startswith("Import ") and names == {default, "VIP"}
    assert ProfileTag.objects.filter(tag__name=default).count() == 2


def test_it_can_leave_the_default_tag_out(account, owner):
    run(job_from(account, owner, "a.csv", b"Email\na@example.com\n"), options={"default_tag": False})
    assert not Tag.objects.filter(account=account).exists()


def test_it_types_custom_attributes_and_adds_new_fields(account, owner):
    AttributeDefinition.objects.create(account=account, name="Spend", type="decimal")
    job = job_from(
        account,
        owner,
        "a.csv",
        b"Email,Spend,Joined,Plan\na@example.com,12.5,2024-01-31,gold\nb@example.com,lots,,\n",
    )
    assert job.mapping[1] == "custom.Spend"
    job = run(job, new_fields={2: ("Joined", "date"), 3: ("Plan", "text")})
    assert job.rejected == 1 and job.created == 1
    profile = Profile.objects.get(account=account, contacts__value="a@example.com")
    assert profile.attributes == {"Spend": 12.5, "Joined": "2024-01-31", "Plan": "gold"}


def test_it_needs_a_key_column(account, owner):
    from django.core.exceptions import ValidationError

    from imports import services

    job = job_from(account, owner, "a.csv", b"City,First name\nZagreb,Ana\n")
    with pytest.raises(ValidationError, match="at least one column"):
        services.import_job_map(job=job, fields=["city", "first_name"])


def test_it_matches_rows_again_when_the_account_changed_since_the_analysis(account, owner):
    """The analysis found every row new, so the import writes them without matching first; a
    profile given one of the file's emails in between is matched all the same, not doubled."""
    from imports import services

    job = job_from(account, owner, "people.csv", PEOPLE.encode())
    services.import_job_map(job=job, fields=job.mapping, analyze=False)
    services.import_job_analyze(job_id=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    assert (job.analysis["new"], job.analysis["existing"]) == (2, 0)
    already = Profile.objects.create(account=account, first_name="Already")
    Contact.objects.create(account=account, profile=already, kind="email", value="mia@example.com")
    services.import_job_start(job=job, user=owner, options={}, run=False)
    job = services.import_job_run(job_id=job.pk)
    assert (job.status, job.created, job.updated, job.unchanged, job.rejected) == ("done", 1, 0, 1, 3)
    assert Profile.objects.filter(account=account).count() == 2
    assert Contact.objects.filter(account=account, value="mia@example.com").get().profile == already
    assert ProfileTag.objects.filter(profile=already).exists()  # the default tag, as a matched row


def test_it_resumes_after_an_interruption_without_duplicates(account, owner, monkeypatch):
    from imports import runs, services

    monkeypatch.setattr(runs, "CHUNK", 2)
    rows = "".join(f"p{i}@example.com,Name{i}\n" for i in range(7))
    job = job_from(account, owner, "a.csv", ("Email,First name\n" + rows).encode())
    services.import_job_map(job=job, fields=job.mapping, analyze=False)
    services.import_job_analyze(job_id=job.pk)
    job = ImportJob.objects.get(pk=job.pk)
    services.import_job_start(job=job, user=owner, options={}, run=False)
    # A worker died after committing two chunks (four rows): the row says running, resume at 4.
    from imports.targets.people import PeopleTarget

    calls = {"n": 0}
    original = PeopleTarget.import_chunk

    def dying_write(self, records):
        calls["n"] += 1
        if calls["n"] == 3:
            raise SystemExit("worker killed")
        return original(self, records)

    monkeypatch.setattr(PeopleTarget, "import_chunk", dying_write)
    with pytest.raises(SystemExit):
        services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.resume_row, job.created) == ("running", 4, 4)
    monkeypatch.setattr(PeopleTarget, "import_chunk", original)
    services.import_job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.created, job.rows_read) == ("done", 7, 7)
    assert Profile.objects.filter(account=account).count() == 7
