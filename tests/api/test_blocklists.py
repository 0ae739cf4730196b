from __future__ import annotations

from dnc.models import DncEntryAccount
from tests.api.conftest import ApiClient, error_id

PHONE = "+385911234567"


def _add(client: ApiClient, *destinations: str, **extra):
    item = {"destinations": [{"to": d} for d in destinations], **extra}
    return client.post("/platform/1/blocklists", {"blocklist": [item]})


def _errors(response) -> dict:
    return response.json()["requestError"]["serviceException"]["validationErrors"]


def test_it_adds_destinations_with_202_and_a_report(api, account):
    response = api.post(
        "/platform/1/blocklists",
        {
            "blocklist": [
                {
                    "destinations": [
                        {"to": "+385 91 123 4567"},
                        {"to": "Jane@Acme.com"},
                        {"to": "nonsense!"},
                    ],
                    "sender": "Shop",
                    "channel": "SMS",
                    "campaign": "Spring",
                },
                {"destinations": [{"to": "Jane@Acme.com"}, {"to": "example.com"}]},
            ]
        },
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["created"], body["merged"], body["unchanged"]) == (3, 0, 0)
    assert [(r["blocklist"], r["to"]) for r in body["rejected"]] == [(0, "Jane@Acme.com"), (0, "nonsense!")]
    assert "Email channel" in body["rejected"][0]["reason"]
    assert set(DncEntryAccount.objects.filter(account=account).values_list("value", "channel")) == {
        (PHONE, "SMS"),
        ("jane@acme.com", "EMAIL"),
        ("example.com", "EMAIL"),
    }
    # Adding the same again is skipped, as Infobip does.
    again = _add(api, "00385911234567", sender="Shop", channel="SMS")
    assert again.status_code == 202 and again.json()["created"] == 0
    assert DncEntryAccount.objects.filter(account=account, value=PHONE).count() == 1


def test_it_refuses_more_than_50000_destinations_and_bad_items(api):
    too_many = _add(api, *[f"+3859112{i:05d}" for i in range(50_001)])
    assert too_many.status_code == 400 and "blocklist" in _errors(too_many)
    assert not DncEntryAccount.objects.exists()
    bad = api.post(
        "/platform/1/blocklists",
        {
            "blocklist": [
                {"destinations": [{"to": PHONE}], "channel": "CARRIER_PIGEON"},
                {"destinations": [{"to": PHONE}], "accountKey": "someone-else"},
            ]
        },
    )
    assert bad.status_code == 400 and error_id(bad) == "BAD_REQUEST"
    assert set(_errors(bad)) == {"blocklist[0].channel", "blocklist[1].accountKey"}
    empty_to = _add(api, "")
    assert empty_to.status_code == 400
    assert _add(api).status_code == 400


def test_it_lists_with_filters_and_pages(api, account):
    _add(api, PHONE, sender="Shop", channel="SMS", campaign="Spring")
    _add(api, "+385917654321", channel="WHATSAPP")
    _add(api, "jane@acme.com")
    everything = api.get("/platform/1/blocklists").json()
    assert everything["paging"] == {"page": 0, "size": 100, "totalPages": 1, "totalResults": 3}
    first = everything["results"][-1]
    assert first["destination"] == PHONE and first["sender"] == "Shop" and first["channel"] == "SMS"
    assert first["campaign"] == "Spring" and first["accountKey"] == str(account.pk)
    assert first["createdDate"].endswith("Z")

    def found(**params):
        return [r["destination"] for r in api.get("/platform/1/blocklists", **params).json()["results"]]

    assert found(destination="00385 91 123 4567") == [PHONE]
    assert found(channel="whatsapp") == ["+385917654321"]
    assert found(sender="Shop") == [PHONE]
    assert found(campaign="Spring") == [PHONE]
    assert found(channel="EMAIL") == ["jane@acme.com"]
    assert found(createdDateFrom="2999-01-01T00:00:00Z") == []
    assert len(found(createdDateTo="2999-01-01T00:00:00Z")) == 3
    paged = api.get("/platform/1/blocklists", page=1, size=2).json()
    assert len(paged["results"]) == 1 and paged["paging"]["totalPages"] == 2
    assert api.get("/platform/1/blocklists", size=1001).status_code == 400
    assert api.get("/platform/1/blocklists", createdDateFrom="yesterday").status_code == 400


def test_it_takes_any_iso_offset_in_created_date_filters(api):
    # ISO 8601 allows offsets PostgreSQL refuses (+16:32): compared in UTC, never a 500.
    _add(api, PHONE)
    assert (
        len(api.get("/platform/1/blocklists", createdDateFrom="0468-10-24T03:13:56+16:32").json()["results"])
        == 1
    )
    assert api.get("/platform/1/blocklists", createdDateTo="2999-01-01T00:00:00-17:59").json()["results"]
    refused = api.get("/platform/1/blocklists", createdDateFrom="0001-01-01T00:00:00+15:00")
    assert refused.status_code == 400 and "createdDateFrom" in refused.content.decode()


def test_delete_must_repeat_sender_and_channel(api, account):
    _add(api, PHONE, sender="Shop", channel="SMS")
    assert api.delete("/platform/1/blocklists", destination=PHONE).status_code == 404
    assert api.delete("/platform/1/blocklists", destination=PHONE, sender="Shop").status_code == 404
    assert DncEntryAccount.objects.filter(account=account).exists()
    removed = api.delete("/platform/1/blocklists", destination="00385911234567", sender="Shop", channel="sms")
    assert removed.status_code == 202
    assert not DncEntryAccount.objects.filter(account=account).exists()
    assert api.delete("/platform/1/blocklists", destination="not a contact!").status_code == 400


def test_check_answers_in_order_with_normalised_destinations(api):
    _add(api, PHONE, channel="SMS")
    _add(api, "blocked.example", channel="EMAIL")
    destinations = [
        "+385 91 123 4567",
        "00385911234567",
        "385911234567",
        "+385917654321",
        "bad",
        "ann@blocked.example",
        "ann@fine.example",
    ]
    response = api.post("/platform/1/blocklists/check", {"destinations": destinations, "channel": "SMS"})
    assert response.status_code == 200
    results = response.json()["results"]
    assert [r["to"] for r in results] == destinations
    assert [r["blocked"] for r in results] == [True, True, True, False, False, False, False]
    assert {r["destination"] for r in results[:3]} == {PHONE}
    assert results[4]["valid"] is False
    email = api.post("/platform/1/blocklists/check", {"destinations": destinations[5:], "channel": "EMAIL"})
    assert [r["blocked"] for r in email.json()["results"]] == [True, False]
    bad = api.post("/platform/1/blocklists/check", {"destinations": [PHONE], "channel": "FAX"})
    assert bad.status_code == 400 and "channel" in _errors(bad)


def test_a_read_only_key_lists_and_checks_but_cannot_change(read_api, api, account):
    _add(api, PHONE)
    assert read_api.get("/platform/1/blocklists").json()["paging"]["totalResults"] == 1
    check = read_api.post("/platform/1/blocklists/check", {"destinations": [PHONE], "channel": "SMS"})
    assert check.status_code == 200 and check.json()["results"][0]["blocked"] is True
    for response in (
        _add(read_api, "+385917654321"),
        read_api.delete("/platform/1/blocklists", destination=PHONE),
    ):
        assert response.status_code == 403 and error_id(response) == "FORBIDDEN"
    assert DncEntryAccount.objects.filter(account=account).count() == 1


def test_another_accounts_key_never_sees_nor_removes_our_entries(api, other_api, account):
    _add(api, PHONE, sender="Shop", channel="SMS")
    assert other_api.get("/platform/1/blocklists").json()["results"] == []
    assert other_api.get("/platform/1/blocklists", destination=PHONE).json()["results"] == []
    check = other_api.post("/platform/1/blocklists/check", {"destinations": [PHONE], "channel": "SMS"})
    assert check.json()["results"][0]["blocked"] is False
    gone = other_api.delete("/platform/1/blocklists", destination=PHONE, sender="Shop", channel="SMS")
    assert gone.status_code == 404
    assert DncEntryAccount.objects.filter(account=account).count() == 1
    wrong_account = _add(other_api, PHONE, accountKey=str(account.pk))
    assert wrong_account.status_code == 400
    assert DncEntryAccount.objects.count() == 1


def test_blocklists_need_a_key(db):
    for client in (ApiClient(None), ApiClient("wrong")):
        assert client.get("/platform/1/blocklists").status_code == 401
        assert _add(client, PHONE).status_code == 401
        assert (
            client.post(
                "/platform/1/blocklists/check", {"destinations": [PHONE], "channel": "SMS"}
            ).status_code
            == 401
        )


def test_check_validates_as_adding_does_and_says_why(api, account):
    destinations = ["+3859112", "+385 91 123 4567", "nobody@", "example.com"]
    results = api.post(
        "/platform/1/blocklists/check", {"destinations": destinations, "channel": "SMS"}
    ).json()["results"]
    assert [r["valid"] for r in results] == [False, True, False, False]
    assert results[0]["destination"] is None and results[0]["blocked"] is False
    assert results[0]["reason"] == "+3859112 is not a valid number for Croatia (+385): too short."
    assert "reason" not in results[1]
    added = _add(api, *destinations[:3])
    assert {r["to"]: r["reason"] for r in added.json()["rejected"]} == {
        "+3859112": results[0]["reason"],
        "nobody@": results[2]["reason"],
    }
    assert list(DncEntryAccount.objects.filter(account=account).values_list("value", flat=True)) == [PHONE]
