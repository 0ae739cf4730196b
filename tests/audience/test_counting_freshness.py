"""Counts are never staler than the last write (DESIGN.md, "Counts"; issue #17).

For each write path: every count of a rule is warmed (People's summary card, the segment editor's
count fragment, a saved segment's count, the API's count), the write goes through its real URL
(or, for jobs, its real service), and the next count of each equals a fresh, uncached count.
Runs on SQLite with the local-memory cache and on PostgreSQL with Redis (REDIS_URL)."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections, transaction
from django.test import Client, TestCase
from django.urls import reverse

from audience import api_auth, counting
from audience import services as audience_services
from audience.models import Contact, Profile
from dnc import services as dnc_services
from dnc.models import DncEntry
from segments import selectors
from segments import services as segment_services
from tags import services as tag_services
from tags.models import Tag
from tests.imports.conftest import job_from, run

HTMX = {"HTTP_HX_REQUEST": "true"}


def rule_of(*conditions: dict, match: str = "all") -> dict:
    return {"version": 1, "attributes": {"match": match, "conditions": list(conditions)}}


DNC_SMS = rule_of({"attribute": "dnc", "operator": "is", "value": "SMS"})
LONDON = rule_of({"attribute": "city", "operator": "is", "value": "London"})
VIP = rule_of({"attribute": "tags", "operator": "is", "value": "VIP"})
UNTAGGED = rule_of({"attribute": "tags", "operator": "is_empty"})
HAS_PHONE = rule_of({"attribute": "phone", "operator": "is_not_empty"})
ACME = rule_of({"attribute": "company", "operator": "is", "value": "Acme Ltd"})
PURCHASED = {"version": 1, "events": [{"event": "Purchase", "performed": True}]}


class Counts:
    """Every cached count of a rule for one account, as its screens and the API show it."""

    def __init__(self, account, client: Client, user) -> None:
        self.account, self.client, self.user = account, client, user
        _, key = api_auth.api_key_create(account=account, name="counts")
        self.api = Client(HTTP_AUTHORIZATION=f"App {key}")
        self.segments: dict[str, int] = {}

    def _segment(self, rule: dict) -> int:
        text = json.dumps(rule, sort_keys=True)
        if text not in self.segments:
            segment = segment_services.segment_create(
                account=self.account, name=f"Segment {len(self.segments)}", rule=rule, user=self.user
            )
            self.segments[text] = segment.pk
        return self.segments[text]

    @staticmethod
    def _fragment(response) -> int:
        assert response.status_code == 200, response.content
        found = re.search(r'fs-4 fw-semibold">([\d,]+)</span>', response.content.decode())
        assert found, response.content.decode()
        return int(found.group(1).replace(",", ""))

    def shown(self, rule: dict, *, saved: bool = True) -> dict[str, int]:
        people = self.client.get("/people/count/", {"rule": json.dumps(rule)}).content.decode()
        found = re.search(r'data-count="(\d+)"', people)
        assert found, people
        shown = {
            "people": int(found.group(1)),
            "editor": self._fragment(
                self.client.post("/segments/count/", {"rule": json.dumps(rule)}, **HTMX)
            ),
            "api": self.api.post(
                "/api/people/3/segments/count", {"rule": rule}, content_type="application/json"
            ).json()["count"],
        }
        if saved:  # a saved segment naming a tag keeps the tag from being deleted or merged away
            url = reverse("segments:segment_count", args=[self._segment(rule)])
            shown["segment"] = self._fragment(self.client.get(url, **HTMX))
        return shown

    def fresh(self, rule: dict) -> int:
        self.account.refresh_from_db()  # a write through a URL may have changed its time zone
        return selectors.rule_count(account=self.account, rule=rule, cached=False)

    def check(self, rule: dict, write: Callable[[], object], *, saved: bool = True) -> None:
        """Warm every count, write, and see every count follow the write at once."""
        before = self.shown(rule, saved=saved)
        assert set(before.values()) == {self.fresh(rule)}
        write()
        fresh = self.fresh(rule)
        assert fresh != before["people"], "the write must change the count for the test to mean anything"
        assert self.shown(rule, saved=saved) == dict.fromkeys(before, fresh)


@pytest.fixture
def counts(account, owner, owner_client) -> Counts:
    return Counts(account, owner_client, owner)


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def person(account, n: int, **fields) -> Profile:
    return audience_services.profile_create(
        account=account, fields={"external_id": f"p{n}", **fields}, phones=[f"+38591{n:07d}"]
    )


@pytest.fixture
def people(account) -> list[Profile]:
    return [person(account, n, city="Paris") for n in range(6)]


def analyze() -> None:
    """A test database has no statistics: with estimates of one row per table PostgreSQL nests
    the Do Not Contact rule's semi-joins three deep (12 s for 78 profiles, past the count's
    timeout). A real one is analysed by autovacuum; here it is done by hand."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for table in ("audience_profile", "audience_contact", "dnc_dncentry", "dnc_dncentryaccount"):
                cursor.execute(f"ANALYZE {table}")


# -- Do Not Contact ---------------------------------------------------------------------------
def test_the_issue_reproduction_dnc_is_sms_after_50_dnc_entry_add(account, counts):
    crowd = [person(account, n) for n in range(78)]
    for profile in crowd[:28]:
        dnc_services.dnc_entry_add(accounts=[account], contact=profile.contacts.get().value, channel="SMS")
    analyze()
    assert counts.shown(DNC_SMS)["people"] == 28

    def add_50():
        for profile in crowd[28:]:
            dnc_services.dnc_entry_add(
                accounts=[account], contact=profile.contacts.get().value, channel="SMS"
            )

    counts.check(DNC_SMS, add_50)
    assert counts.fresh(DNC_SMS) == 78


def test_the_blocklist_api_add_and_remove(account, counts, people):
    phone = people[0].contacts.get().value

    def add():
        body = {"blocklist": [{"destinations": [{"to": phone}], "channel": "SMS"}]}
        response = counts.api.post("/api/platform/1/blocklists", body, content_type="application/json")
        assert response.status_code == 202 and response.json()["created"] == 1

    def remove():
        response = counts.api.delete(f"/api/platform/1/blocklists?destination={phone}&channel=SMS")
        assert response.status_code == 202, response.content

    counts.check(DNC_SMS, add)
    counts.check(DNC_SMS, remove)


def test_the_dnc_screen_add_and_remove(account, counts, people, owner_client):
    phone = people[1].contacts.get().value

    def add():
        data = {"new-contact": phone, "new-channel": "SMS", "new-accounts": [account.pk]}
        assert owner_client.post(reverse("dnc:add"), data).status_code in (200, 302)

    def remove():
        entry = DncEntry.objects.get(value=phone)
        assert owner_client.post(reverse("dnc:remove"), {"ids": [entry.pk]}).status_code == 302

    counts.check(DNC_SMS, add)
    counts.check(DNC_SMS, remove)


def test_a_dnc_entry_of_several_accounts_moves_each_of_them(account, other_account, owner, outsider):
    """One entry, two accounts: both accounts' cached counts follow it."""
    mine = Counts(account, _client(owner), owner)
    theirs = Counts(other_account, _client(outsider), outsider)
    person(account, 1)
    person(other_account, 1)
    before = (mine.shown(DNC_SMS), theirs.shown(DNC_SMS))
    dnc_services.dnc_entry_add(accounts=[account, other_account], contact="+385910000001", channel="SMS")
    assert mine.shown(DNC_SMS) == dict.fromkeys(before[0], 1)
    assert theirs.shown(DNC_SMS) == dict.fromkeys(before[1], 1)


def test_a_dnc_import(account, owner, counts, people):
    data = "Contact;Channel\n" + "".join(f"{p.contacts.get().value};SMS\n" for p in people[:3])

    def import_():
        job = run(
            job_from(account, owner, "dnc.csv", data.encode(), kind="dnc"), options={"accounts": [account.pk]}
        )
        assert job.created == 3, job.message

    counts.check(DNC_SMS, import_)


# -- People -----------------------------------------------------------------------------------
def test_a_people_import(account, owner, counts, people):
    data = "First name,City,External id\nAna,London,N1\nIvo,London,N2\n"

    def import_():
        # No default tag: a tag created at the start would move the generation by itself.
        job = run(job_from(account, owner, "people.csv", data.encode()), options={"default_tag": False})
        assert job.created == 2, job.message

    counts.check(LONDON, import_)


def test_a_people_import_that_rewrites_and_tags(account, owner, counts, people):
    data = "City,External id\nLondon,p0\nLondon,p1\n"
    tag_services.tag_create(account=account, name="VIP")

    def import_():
        job = run(
            job_from(account, owner, "people.csv", data.encode()),
            options={"existing": "rewrite", "tags": ["VIP"], "default_tag": False},
        )
        assert job.updated == 2, job.message

    counts.check(LONDON, import_)


def test_the_profile_screens_create_edit_and_delete(account, counts, people, owner_client):
    def create():
        response = owner_client.post("/people/new/", {"type": "lead", "external_id": "L1", "city": "London"})
        assert response.status_code == 302

    def edit():
        data = {"type": "lead", "external_id": "p0", "city": "London", "phones": "+385910000000"}
        assert owner_client.post(f"/people/{people[0].pk}/edit/", data).status_code == 302

    def delete():
        assert owner_client.post(f"/people/{people[0].pk}/delete/").status_code == 302

    counts.check(LONDON, create)
    counts.check(LONDON, edit)
    counts.check(LONDON, delete)


def test_a_company_rename(account, counts, people, owner_client):
    company = audience_services.company_create(account=account, fields={"name": "Acme"})
    audience_services.profile_update(profile=people[0], fields={"company": company})

    def rename():
        response = owner_client.post(f"/companies/{company.pk}/edit/", {"name": "Acme Ltd"})
        assert response.status_code == 302, response.content

    counts.check(ACME, rename)


def test_the_persons_api(account, counts, people):
    api = counts.api

    def create():
        body = {"externalId": "A1", "city": "London", "tags": ["VIP"]}
        assert api.post("/api/people/2/persons", body, content_type="application/json").status_code == 200

    def batch_create():
        body = {"people": [{"externalId": f"B{n}", "city": "London"} for n in range(2)]}
        response = api.post("/api/people/2/persons/batch", body, content_type="application/json")
        assert response.status_code == 200, response.content

    def batch_update():
        query = {"type": "EXTERNAL_ID", "identifier": "p1"}
        body = {"people": [{"query": query, "update": {"city": "London"}}]}
        response = api.patch("/api/people/2/persons/batch", body, content_type="application/json")
        assert response.status_code == 200, response.content

    def batch_delete():
        body = {"people": [{"query": {"type": "EXTERNAL_ID", "identifier": "B0"}}]}
        response = api.delete("/api/people/2/persons/batch", body, content_type="application/json")
        assert response.status_code == 200, response.content

    def delete():
        response = api.delete("/api/people/2/persons?identifier=A1&type=EXTERNAL_ID")
        assert response.status_code == 200, response.content

    for write in (create, batch_create, batch_update, batch_delete, delete):
        counts.check(LONDON, write)


def test_the_events_api_and_the_event_summary(account, counts, people):
    audience_services.event_definition_create(account=account, name="Purchase")
    body = [{"definitionId": "Purchase", "identifier": {"id": str(people[0].pk), "type": "ID"}}]

    def send():
        response = counts.api.post("/api/people/3/events", body, content_type="application/json")
        assert response.status_code == 202, response.content

    counts.check(PURCHASED, send)


# -- Tags -------------------------------------------------------------------------------------
def test_the_profile_card_tags(account, counts, people, owner_client):
    url = f"/tags/profile/{people[0].pk}/"

    def add():
        assert owner_client.post(url, {"name": "VIP"}).status_code == 302

    def remove():
        tag = Tag.objects.get(account=account, name="VIP")
        assert owner_client.post(url, {"remove": tag.pk}).status_code == 302

    tag_services.tag_create(account=account, name="VIP")
    counts.check(VIP, add)
    counts.check(VIP, remove)


def test_manage_tags_now_and_as_a_job(account, counts, people, owner_client, settings):
    tag_services.tag_create(account=account, name="VIP")

    def now():
        data = {"ids": [people[0].pk], "add": [Tag.objects.get(name="VIP").pk], "apply": "1"}
        assert owner_client.post("/tags/bulk/", data).status_code == 302

    def job():
        settings.BULK_SYNC_LIMIT = 1
        data = {"all": "1", "query": "city=Paris", "add": [Tag.objects.get(name="VIP").pk], "apply": "1"}
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = owner_client.post("/tags/bulk/", data)
        assert response.status_code == 302 and "/tags/jobs/" in response["Location"]

    counts.check(VIP, now)
    counts.check(VIP, job)


def test_the_tags_api(account, counts, people):
    tag_services.tag_create(account=account, name="VIP")
    body = {"people": [{"query": {"type": "EXTERNAL_ID", "identifier": "p2"}}]}

    def add():
        response = counts.api.patch("/api/people/2/tags/VIP/persons", body, content_type="application/json")
        assert response.status_code == 200 and response.json()["added"] == 1

    def remove():
        response = counts.api.delete("/api/people/2/tags/VIP/persons", body, content_type="application/json")
        assert response.status_code == 200 and response.json()["removed"] == 1

    counts.check(VIP, add)
    counts.check(VIP, remove)


def test_the_tags_screen_merge_and_delete(account, counts, people, owner_client):
    old = tag_services.tag_create(account=account, name="Old")
    vip = tag_services.tag_create(account=account, name="VIP")
    tag_services.tags_add(account=account, tags=[old], profile_ids=[people[0].pk, people[1].pk])

    def merge():
        response = owner_client.post(reverse("tags:merge", args=[old.pk]), {"target": vip.pk})
        assert response.status_code == 302, response.content

    def delete():
        assert owner_client.post(reverse("tags:delete"), {"ids": [vip.pk]}).status_code == 302

    counts.check(VIP, merge, saved=False)
    counts.check(UNTAGGED, delete, saved=False)


# -- The account ------------------------------------------------------------------------------
def test_a_time_zone_change_moves_relative_dates(account, counts, people, owner_client):
    """`was_within 1 day` is today and yesterday in the account's zone: UTC+14 and UTC-11 are
    never on the same date, so the profile born "today" in Kiritimati leaves the count."""
    audience_services.account_update(account=account, name=account.name, time_zone="Pacific/Kiritimati")
    audience_services.profile_update(profile=people[0], fields={"birth_date": account.today()})
    recent = rule_of(
        {"attribute": "birth_date", "operator": "was_within", "value": {"amount": 1, "unit": "days"}}
    )

    def move():
        data = {"name": account.name, "time_zone": "Pacific/Pago_Pago"}
        assert owner_client.post("/configuration/account/", data).status_code == 302

    counts.check(recent, move)


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(
            lambda c, a: c.post("/configuration/attributes/new/", {"name": "Score", "type": "text"}),
            id="attribute",
        ),
        pytest.param(lambda c, a: c.post("/configuration/events/new/", {"name": "Signup"}), id="event"),
    ],
)
def test_a_definition_moves_the_generation(account, owner_client, write):
    """A rule naming a definition compiles differently once it changes: its counts are dropped."""
    before = counting.data_generation(account.pk)
    assert write(owner_client, account).status_code == 302
    assert counting.data_generation(account.pk) > before


def test_definition_edits_tag_renames_and_company_tags_move_the_generation(account, owner_client):
    """Writes whose effect on a number no rule shows at once (a rule naming a definition or a
    tag compiles differently; company tags), each through its screen."""
    event = audience_services.event_definition_create(account=account, name="Signup")
    attribute = audience_services.attribute_definition_create(account=account, name="Score", type="text")
    tag = tag_services.tag_create(account=account, name="Vip")
    company = audience_services.company_create(account=account, fields={"name": "Acme"})
    steps = [
        (f"/configuration/events/{event.pk}/edit/", {"description": "x", "property_0": "plan"}),
        (f"/configuration/events/{event.pk}/delete/", {}),
        (reverse("audience:attribute_delete", args=[attribute.pk]), {}),
        (reverse("tags:rename", args=[tag.pk]), {"name": "VIP"}),
        (f"/tags/company/{company.pk}/", {"name": "Partner"}),
        (
            f"/tags/company/{company.pk}/",
            {"remove": tag_services.tag_get_or_create(account=account, name="Partner").pk},
        ),
    ]
    for url, data in steps:
        before = counting.data_generation(account.pk)
        response = owner_client.post(url, data)
        assert response.status_code == 302, (url, response.content.decode()[:2000])
        assert counting.data_generation(account.pk) > before, url


# -- Sending ----------------------------------------------------------------------------------
def test_a_sent_broadcast_moves_the_contacted_filter(account, owner, owner_client, people, settings):
    from audience.selection import Selection
    from communications import services as communications_services

    settings.COMMUNICATIONS_BACKEND = "communications.backends.MemoryBackend"
    url = "/people/count/?contacted_within=7"
    assert 'data-count="0"' in owner_client.get(url).content.decode()
    broadcast = communications_services.broadcast_create(
        account=account,
        user=owner,
        name="Sale",
        channel="SMS",
        sender="",
        text="Hi",
        audience=communications_services.AudienceSpec(selections=[Selection(ids=[people[0].pk])]),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        communications_services.broadcast_send(broadcast=broadcast, user=owner)
    assert 'data-count="1"' in owner_client.get(url).content.decode()


def test_a_delivery_report_moves_the_contacted_filter(account, owner, owner_client, people, settings):
    from audience.selection import Selection
    from communications import services as communications_services
    from communications import webhooks
    from communications.backends import message_key
    from tests.communications.webhook_helpers import post_json, report, reports_url

    settings.COMMUNICATIONS_BACKEND = "communications.backends.MemoryBackend"
    url = "/people/count/?contacted_within=7"
    broadcast = communications_services.broadcast_create(
        account=account,
        user=owner,
        name="Sale",
        channel="SMS",
        sender="",
        text="Hi",
        audience=communications_services.AudienceSpec(selections=[Selection(ids=[people[0].pk])]),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        communications_services.broadcast_send(broadcast=broadcast, user=owner)
    assert 'data-count="1"' in owner_client.get(url).content.decode()
    token = webhooks.webhook_token_rotate(account=account, user=None)
    rejected = report(message_key(broadcast.pk, people[0].pk), "REJECTED")
    assert post_json(reports_url(token), {"results": [rejected]}).status_code == 200
    assert 'data-count="0"' in owner_client.get(url).content.decode()


# -- The admin --------------------------------------------------------------------------------
def test_the_admin_deletes_and_adds(account, counts, people, admin_client):
    def delete_profile():
        response = admin_client.post(f"/admin/audience/profile/{people[0].pk}/delete/", {"post": "yes"})
        assert response.status_code == 302

    def delete_contacts():
        ids = list(Contact.objects.filter(profile__in=people[1:3]).values_list("pk", flat=True))
        data = {"action": "delete_selected", "_selected_action": ids, "post": "yes"}
        assert admin_client.post("/admin/audience/contact/", data).status_code == 302

    audience_services.profile_update(profile=people[0], fields={"city": "London"})
    counts.check(LONDON, delete_profile)
    counts.check(HAS_PHONE, delete_contacts)
    # Profile-tag links are read-only in the admin: they change through tags_add / tags_remove,
    # whose freshness the tag tests above cover.


# -- The commit ---------------------------------------------------------------------------------
def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.django_db(transaction=True)
def test_a_count_cached_between_the_write_and_its_commit_is_not_used(account):
    """Another request, which can't see the write before it commits, counts and caches the old
    number meanwhile: the generation moves again at the commit, so that number is never used."""
    if connection.vendor != "postgresql":
        pytest.skip("SQLite's in-memory test database can't be read by another connection during a write")
    seen = []

    def other_request() -> None:
        try:
            seen.append(selectors.rule_count(account=account, rule=LONDON))
        finally:
            connections.close_all()

    with transaction.atomic():
        audience_services.profile_create(account=account, fields={"city": "London"})
        thread = threading.Thread(target=other_request)
        thread.start()
        thread.join()
    assert seen == [0]
    assert selectors.rule_count(account=account, rule=LONDON) == 1


@pytest.mark.django_db(transaction=True)
def test_an_import_written_over_several_connections(account, owner, monkeypatch, settings):
    """The chunks commit on the streams' own connections (imports.streams): each moves the
    generation on its connection, at the write and at its commit."""
    if connection.vendor != "postgresql":
        pytest.skip("import streams are PostgreSQL's")
    from imports import runs as import_runs
    from imports import services as import_services

    monkeypatch.setattr(import_runs, "CHUNK", 20)
    settings.IMPORT_STREAMS = 2
    counts = Counts(account, _client(owner), owner)
    data = "First name,City,External id\n" + "".join(f"P{n},London,S{n}\n" for n in range(100))

    def import_():
        job = job_from(account, owner, "people.csv", data.encode())
        import_services.import_job_map(job=job, fields=job.mapping, analyze=False)
        import_services.import_job_analyze(job_id=job.pk)
        job.refresh_from_db()
        import_services.import_job_start(job=job, user=owner, options={"default_tag": False}, run=False)
        assert import_services.import_job_run(job_id=job.pk).created == 100

    counts.check(LONDON, import_)
