"""bin/loadtest.py: its statistics and report, and its simulated users against a live server.

The live-server test runs the script's own data preparation and user loop for two seconds with
one user (SQLite's in-memory test database is shared by the server's threads, so one user keeps it
sequential); `make loadtest` is the real run against gunicorn.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import threading
from pathlib import Path

import pytest
import requests
from django.db import connection

SCRIPT = Path(__file__).resolve().parent.parent / "bin" / "loadtest.py"
spec = importlib.util.spec_from_file_location("loadtest", SCRIPT)
loadtest = importlib.util.module_from_spec(spec)
# dataclasses look their module up in sys.modules while the file runs.
sys.modules.setdefault("loadtest", loadtest)
spec.loader.exec_module(loadtest)


def _response(status: int, location: str = "") -> requests.Response:
    response = requests.Response()
    response.status_code = status
    if location:
        response.headers["Location"] = location
    return response


def test_it_interpolates_percentiles():
    assert loadtest.percentile([4, 1, 3, 2], 50) == 2.5
    assert loadtest.percentile([1, 2, 3, 4], 0) == 1
    assert loadtest.percentile([1, 2, 3, 4], 100) == 4
    assert loadtest.percentile(list(range(1, 101)), 95) == pytest.approx(95.05)
    assert loadtest.percentile([7], 99) == 7
    assert loadtest.percentile([], 50) == 0.0


def test_it_classifies_responses():
    assert loadtest.classify(_response(200)) is None
    assert loadtest.classify(_response(302, "/segments/1/")) is None
    assert loadtest.classify(_response(500)) == "HTTP 500"
    assert loadtest.classify(_response(403)) == "HTTP 403"
    assert "session lost" in loadtest.classify(_response(302, "/login/?next=/people/"))
    assert "expected a redirect" in loadtest.classify(_response(200), expect_redirect=True)


def test_it_counts_a_page_that_refuses_valid_input_as_an_error():
    recorder = loadtest.Recorder()
    target = loadtest.Target("", [], "", 1, 1, [], [], [])
    user = loadtest.User(target, "u", recorder, seed=1, think=0.0)
    refused, counting = _response(200), _response(200)
    refused._content = b"<ul data-rule-errors><li>attributes: unknown</li></ul>"
    counting._content = "<div>Still counting…</div>".encode()

    assert "refused valid input" in user.refused("rule_count", refused)
    assert user.refused("rule_count", counting) is None
    assert user.refused("job_poll", refused) is None
    assert recorder.notes == {"rule_count: still counting": 1}


def test_it_reports_throughput_latencies_and_errors():
    recorder = loadtest.Recorder()
    for ms in (10, 20, 30, 40):
        recorder.add("people", ms / 1000)
    recorder.add("job_poll", 0.005)
    recorder.add("job_poll", 0.050, "HTTP 500", "GET /imports/exports/1/")
    recorder.add("login", 1.0)
    recorder.note("rule_count: still counting")

    summary = recorder.summary(window=2.0)

    assert summary["requests"] == 6  # sign-in is outside the timed window
    assert summary["throughput_rps"] == 3.0
    assert summary["errors"] == 1
    assert summary["kinds"]["people"]["p50_ms"] == 25.0
    assert summary["kinds"]["people"]["max_ms"] == 40.0
    assert summary["kinds"]["job_poll"]["errors"] == 1
    assert summary["kinds"]["login"]["count"] == 1
    assert summary["error_samples"] == ["job_poll GET /imports/exports/1/: HTTP 500"]
    results = {
        "machine": {
            "date": "2026-01-01T00:00:00+00:00",
            "cpus": 2,
            "python": "3.11",
            "django": "5.2",
            "database": "PostgreSQL",
            "load_before": "1.00 1.00 1.00",
            "load_after": "2.00 1.00 1.00",
        },
        "config": {
            "users": 2,
            "duration": 2.0,
            "workers": 5,
            "think": 0.0,
            "profiles": 100,
            "cache": "Redis",
        },
        "cpu": {"gunicorn_workers_s": 1.0, "client_s": 0.5},
        **summary,
    }
    markdown = loadtest.report_markdown(results)
    assert "**6 requests in 2.0 s = 3.0 req/s, 1 errors.**" in markdown
    assert "| people | 4 | 0 | 25.0 | 25.0 | 38.5 | 39.7 | 40.0 |" in markdown
    assert "- job_poll GET /imports/exports/1/: HTTP 500" in markdown
    assert "rule_count: still counting: 1" in markdown


def _run(rps: float, p95: float, *, standby: dict | None = None) -> dict:
    recorder = loadtest.Recorder()
    recorder.add("people", p95 / 1000)
    recorder.add("rule_count", 0.010)
    machine = {"date": "2026-01-01T00:00:00+00:00", "cpus": 2, "load_before": "1.00", "load_after": "2.00"}
    config = {"users": 50, "duration": 60.0, "workers": 5, "think": 0.0, "profiles": 100, "cache": "Redis"}
    summary = recorder.summary(window=2.0)
    summary["throughput_rps"] = rps
    return {"machine": machine, "config": config, **({"standby": standby} if standby else {}), **summary}


def test_it_puts_the_primary_and_the_replica_run_side_by_side():
    standby = {"url": "postgres://127.0.0.1:5433/x", "health": "ok", "transactions": 1200, "rows": 34000}
    markdown = loadtest.comparison_markdown(_run(25.3, 300.0), _run(31.0, 200.0, standby=standby))

    assert "50 users (seeds 0–49)" in markdown
    assert "| primary alone | 2 | 25.3 | 0 |" in markdown
    assert "| with one standby | 2 | 31.0 | 0 |" in markdown
    assert "| 1,200 | 34,000 |" in markdown
    assert "| people | 300.0 | 200.0 |" in markdown
    assert "Replica: postgres://127.0.0.1:5433/x" in markdown


def test_it_points_a_replica_url_at_another_port_of_the_same_host():
    assert (
        loadtest.replica_url_for("postgres://postgres:secret@127.0.0.1:5432/audience_x", 5433)
        == "postgres://postgres:secret@127.0.0.1:5433/audience_x"
    )
    assert loadtest.replica_url_for("postgres://db/a", 5433) == "postgres://db:5433/a"


def test_it_generates_rules_the_engine_accepts(db):
    from audience import demo
    from segments import selectors

    account = demo.seed_demo(profiles=0, events_per_profile=0, seed=1, account_name="Rules").account
    rng = random.Random(5)
    for _ in range(40):
        assert (
            selectors.rule_validate(
                account=account, rule=loadtest.random_rule(rng, ["London", "Paris", "Berlin"])
            )
            == []
        )


@pytest.mark.slow
def test_it_runs_users_against_a_live_server_without_errors(live_server):
    target = loadtest.prepare(users=2, profiles=120, events_per_profile=1)
    target = loadtest.replace(target, base_url=live_server.url)
    recorder = loadtest.Recorder()
    users = 2 if connection.vendor == "postgresql" else 1

    window = loadtest.run_users(target, recorder, users=users, duration=2, think=0.0, stop=threading.Event())

    summary = recorder.summary(window=window)
    assert summary["errors"] == 0, summary["error_samples"]
    assert summary["kinds"]["login"]["count"] == 2 * users
    for kind in ("people", "people_count", "rule_count", "job_poll"):
        assert summary["kinds"][kind]["count"] > 0
