"""The permission matrix, proven by walking every URL pattern (docs/permissions.md).

- An outsider (admin of another account) gets 404 for every URL naming a row of this account, with
  GET and POST, and never sees this account's data on pages without a row in their URL.
- A viewer can't change anything: every POST answers 403 (or 405 where the URL takes no POST),
  except the few POSTs that only read (listed in READ_ONLY_POSTS).
- For every URL naming a row, with GET and POST: a member of another account of any role gets 404;
  a member of the row's account whose role is too low gets 403; the owner gets neither.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import get_resolver, reverse

from audience import api_auth, services
from audience.models import AttributeDefinition, Company, EventDefinition, Membership, Notification, Role
from communications.models import AudienceItem, Broadcast, Flow, FlowStep, Sender
from dnc.models import DncRemoveJob
from imports.models import ExportJob, ImportJob
from segments import services as segment_services
from tags import services as tag_services
from tags.models import TagBulkJob

SECRET = "Zyxwvut"  # a name only account A's rows carry
# The unsubscribe page is public: the signed token in its URL is the authority (tests/communications).
PUBLIC = {"home", "healthz", "login", "logout", "communications:unsubscribe"}
# POSTs a viewer may make because they change nothing: counts, previews, switching account,
# marking one's own notifications read, and exports (a viewer may export what they can see).
READ_ONLY_POSTS = {
    "audience:account_switch",
    "audience:notifications_read_all",
    "audience:people_columns",  # which columns this person sees: their own session, no data
    "segments:count",
    "segments:people_advanced_filter",
    "communications:audience_count",
    "dnc:export",
    "imports:export_people",
    "imports:export_dnc",
}


def body(response) -> bytes:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content)
    return response.content


def url_patterns():
    def walk(patterns, namespace=None):
        for pattern in patterns:
            if hasattr(pattern, "url_patterns"):
                # The webhooks take no login: the account's secret in the URL is the key
                # (tests/communications/test_inbound.py and test_delivery_reports.py).
                if pattern.namespace in ("admin", "api", "webhooks"):
                    continue
                yield from walk(pattern.url_patterns, pattern.namespace or namespace)
            else:
                yield (f"{namespace}:{pattern.name}" if namespace else pattern.name), pattern

    return list(walk(get_resolver().url_patterns))


@pytest.fixture
def media(settings, tmp_path):
    """An import's file, its rejected rows and an export's file, so their pages work for the owner."""
    settings.MEDIA_ROOT = tmp_path / "media"
    for path in ("imports/people.csv", "imports/rejected.csv", "exports/people.csv"):
        default_storage.save(path, ContentFile(b"first name,email\nAna,ana@example.com\n"))


@pytest.fixture
def rows(account, owner, teammate, media):
    profile = services.profile_create(
        account=account,
        fields={"first_name": SECRET, "last_name": SECRET},
        emails=[f"{SECRET.lower()}@example.com"],
    )
    company = Company.objects.create(account=account, name=f"{SECRET} Ltd")
    tag = tag_services.tag_create(account=account, name=f"{SECRET} tag")
    segment = segment_services.segment_create(
        account=account,
        name=f"{SECRET} segment",
        rule={
            "version": 1,
            "attributes": {
                "match": "all",
                "conditions": [{"attribute": "city", "operator": "is", "value": SECRET}],
            },
        },
    )
    flow = Flow.objects.create(account=account, name=f"{SECRET} flow")
    item = AudienceItem.objects.create(account=account, flow=flow, kind="tag", object_id=tag.pk)
    return {
        "profile": profile,
        "company": company,
        "tag": tag,
        "segment": segment,
        "attribute": AttributeDefinition.objects.create(account=account, name=f"{SECRET}_attr", type="text"),
        "event": EventDefinition.objects.create(account=account, name=f"{SECRET} event"),
        "member": Membership.objects.get(account=account, user=teammate),
        "notification": Notification.objects.create(account=account, user=owner, message=SECRET),
        "import": ImportJob.objects.create(
            account=account,
            created_by=owner,
            file_name=f"{SECRET}.csv",
            file_path="imports/people.csv",
            file_format="csv",
            headers=["first name", "email"],
            rejected_path="imports/rejected.csv",
        ),
        "export": ExportJob.objects.create(
            account=account, created_by=owner, kind="people", selection={}, file_path="exports/people.csv"
        ),
        "bulk": TagBulkJob.objects.create(account=account, created_by=owner, selection={"ids": []}),
        "dnc_removal": DncRemoveJob.objects.create(
            account=account, created_by=owner, filters={"contact": [SECRET]}
        ),
        "broadcast": Broadcast.objects.create(
            account=account, name=f"{SECRET} broadcast", channel="SMS", text="hi"
        ),
        "flow": flow,
        "sender": Sender.objects.create(account=account, channel="SMS", address=SECRET),
        "item": item,
        "step": FlowStep.objects.create(flow=flow, position=1, kind="exit"),
        "account": account,
        "api_key": api_auth.api_key_create(account=account, name=f"{SECRET} key")[0],
    }


def row_for(name: str, route: str, rows: dict):
    """Which of account A's rows a URL with a pk names."""
    app, _, view = name.partition(":")
    if view == "profile_panel" or (app == "audience" and view.startswith("profile")):
        return rows["profile"]
    if view == "company_panel" or view.startswith("company"):
        return rows["company"]
    table = {
        ("audience", "attribute"): "attribute",
        ("audience", "event_definition"): "event",
        ("audience", "member"): "member",
        ("audience", "notification"): "notification",
        ("audience", "account_switch"): "account",
        ("audience", "api_key"): "api_key",
        ("tags", "bulk_job"): "bulk",
        ("dnc", "remove_job"): "dnc_removal",
        ("tags", ""): "tag",
        ("segments", ""): "segment",
        ("imports", "export"): "export",
        ("imports", ""): "import",
        ("communications", "broadcast"): "broadcast",
        ("communications", "flow"): "flow",
        ("communications", "sender"): "sender",
    }
    for (table_app, prefix), key in table.items():
        if app == table_app and view.startswith(prefix):
            return rows[key]
    raise AssertionError(f"no row known for {name} ({route}); add it to row_for")


def url_for(name: str, pattern, rows: dict) -> str:
    kwargs = {}
    for key in pattern.pattern.converters:
        if key == "item_pk":
            kwargs[key] = rows["item"].pk
        elif key == "step_pk":
            kwargs[key] = rows["step"].pk
        elif key == "which":  # a flow step's people list: waiting, passed or failed
            kwargs[key] = "waiting"
        elif key == "token":  # a signed unsubscribe token: one that is not ours names nothing
            kwargs[key] = "WzEsMV0:not-a-signature"
        else:
            kwargs[key] = row_for(name, str(pattern.pattern), rows).pk
    return reverse(name, kwargs=kwargs)


def test_every_url_is_known_to_the_walker(rows):
    for name, pattern in url_patterns():
        assert name, f"every URL needs a name: {pattern.pattern}"
        url_for(name, pattern, rows)


def test_an_outsider_gets_404_for_every_row_of_another_account(outsider_client, rows):
    checked = 0
    for name, pattern in url_patterns():
        if not pattern.pattern.converters:
            continue
        url = url_for(name, pattern, rows)
        for method in ("get", "post"):
            response = getattr(outsider_client, method)(url)
            assert response.status_code in (404, 405), (
                f"{method.upper()} {url} ({name}): {response.status_code}"
            )
            assert SECRET.encode() not in body(response), f"{method.upper()} {url} leaked data"
            checked += 1
    assert checked > 40


def test_an_outsider_sees_no_data_of_another_account_on_list_pages(outsider_client, rows):
    for name, pattern in url_patterns():
        if pattern.pattern.converters or name in PUBLIC:
            continue
        response = outsider_client.get(reverse(name))
        assert response.status_code < 500, f"GET {name}: {response.status_code}"
        assert SECRET.encode() not in body(response), f"GET {name} leaked another account's data"


def test_a_viewer_cannot_change_anything(viewer_client, rows):
    checked = 0
    for name, pattern in url_patterns():
        if name in PUBLIC or name in READ_ONLY_POSTS:
            continue
        url = url_for(name, pattern, rows)
        response = viewer_client.post(url, {"name": "changed", "ids": [rows["profile"].pk], "all": "1"})
        assert response.status_code in (403, 405), f"POST {url} ({name}) as viewer: {response.status_code}"
        checked += 1
    assert checked > 60
    rows["profile"].refresh_from_db()
    assert rows["profile"].first_name == SECRET


def test_a_viewer_can_read_every_page(viewer_client, rows):
    for name, pattern in url_patterns():
        if (
            name in PUBLIC
            or pattern.pattern.converters
            and name.endswith(("delete", "remove", "cancel", "send"))
        ):
            continue
        url = url_for(name, pattern, rows)
        response = viewer_client.get(url)
        assert response.status_code in (200, 302, 403, 404, 405), (
            f"GET {url} ({name}): {response.status_code}"
        )
        assert response.status_code != 500


def test_a_viewer_may_make_every_post_that_only_reads(viewer_client, rows):
    """docs/permissions.md: counts, previews, switching account, own notifications, exports."""
    refused = []
    for name, pattern in url_patterns():
        if name not in READ_ONLY_POSTS:
            continue
        url = url_for(name, pattern, rows)
        response = viewer_client.post(url, {"ids": [rows["profile"].pk]})
        if response.status_code == 403:
            refused.append(name)
    assert refused == []


def _user_in(account, role: str, username: str) -> Client:
    user = get_user_model().objects.create_user(username=username, password="x")
    services.membership_set(account=account, user=user, role=role)
    client = Client()
    client.force_login(user)
    return client


# A user's own rows: another member of the account gets 404 for them too.
OWN_ROWS = {"audience:notification_open"}
# Every URL that names a row (screens; the API's routes are in tests/api/test_row_access.py).
OBJECT_ROUTES = sorted(
    name for name, pattern in url_patterns() if pattern.pattern.converters and name not in PUBLIC
)


def test_the_object_routes_are_enumerated_from_the_url_patterns():
    assert len(OBJECT_ROUTES) > 40
    assert {"audience:profile_edit", "segments:delete", "communications:flow_step_edit"} <= set(OBJECT_ROUTES)


@pytest.mark.parametrize("name", OBJECT_ROUTES)
def test_a_row_answers_its_owner_403_to_a_too_low_role_and_404_to_any_outsider(
    name, rows, account, other_account, owner_client, teammate_client, viewer_client
):
    """docs/permissions.md: the row is looked up in the user's account first (another account's
    row is 404 whatever the role there), then the role is checked (403 only for a member of the
    row's account whose role can't do this)."""
    pattern = dict(url_patterns())[name]
    url = url_for(name, pattern, rows)
    roles = getattr(pattern.callback, "access_roles", tuple(Role.values))
    outsiders = {role: _user_in(other_account, role, f"outsider-{role}") for role in Role.values}
    # The viewer first: a marketer's POST may change or delete the row (the owner's checks come last).
    teammates = {Role.VIEWER: viewer_client, Role.MARKETER: teammate_client}
    for method in ("get", "post"):
        statuses = {}
        for role, client in outsiders.items():
            response = getattr(client, method)(url)
            assert SECRET.encode() not in body(response), f"{method.upper()} {url} leaked data"
            statuses[role] = response.status_code
        if set(statuses.values()) == {405}:  # the URL takes no such method, whoever asks
            assert getattr(viewer_client, method)(url).status_code == 405
            continue
        assert set(statuses.values()) == {404}, f"{method.upper()} {url} ({name}) by outsiders: {statuses}"
        for role, client in teammates.items():
            may_change = role in roles and (role != Role.VIEWER or name in READ_ONLY_POSTS)
            if method == "post" and may_change:
                continue  # the owner's POST below stands for theirs
            status = getattr(client, method)(url).status_code
            if role not in roles:
                assert status == 403, f"{method.upper()} {url} ({name}) as {role} of the account: {status}"
            elif method == "post" and role == Role.VIEWER and name not in READ_ONLY_POSTS:
                assert status == 403, f"POST {url} ({name}) as a viewer of the account: {status}"
            elif method == "get" and name not in OWN_ROWS:
                assert status not in (403, 404), f"GET {url} ({name}) as {role}: {status}"
    # Last, as it may delete the row.
    for method in ("get", "post"):
        status = getattr(owner_client, method)(url).status_code
        assert status not in (403, 404), f"{method.upper()} {url} ({name}) as its owner: {status}"
