"""A real Celery worker for the fault tests, with work slowed down so a test can kill it mid-job.

Run as `python tests/faults/worker.py worker …` (the arguments of `celery -A audience`). Before the
pool forks, FAULTS_CHUNK makes every job's chunk small and FAULTS_DELAY sleeps after each committed
chunk; nothing else changes, so the jobs run the production code paths.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "audience.settings")

import django  # noqa: E402

django.setup()

from communications import flows  # noqa: E402
from communications import services as sending  # noqa: E402
from imports import exports, runs  # noqa: E402
from tags import bulk  # noqa: E402

CHUNK = int(os.environ.get("FAULTS_CHUNK", "0"))
DELAY = float(os.environ.get("FAULTS_DELAY", "0"))


def _slow_after_each(module, name: str) -> None:
    """Sleep after each call of module.name (a chunk that committed)."""
    original = getattr(module, name)

    def slow(*args, **kwargs):
        result = original(*args, **kwargs)
        time.sleep(DELAY)
        return result

    setattr(module, name, slow)


def _slow_between_items(module, name: str) -> None:
    """Sleep before each item after the first of the generator module.name (between batches)."""
    original = getattr(module, name)

    def slow(*args, **kwargs):
        for index, item in enumerate(original(*args, **kwargs)):
            if index:
                time.sleep(DELAY)
            yield item

    setattr(module, name, slow)


if CHUNK:
    runs.CHUNK = exports.BATCH = bulk.CHUNK = sending.SEND_CHUNK = flows.CHUNK = CHUNK
if DELAY:
    _slow_between_items(runs, "_import_chunks")
    _slow_between_items(exports, "_keyset")
    _slow_after_each(bulk, "_chunk_apply")
    _slow_after_each(sending, "_broadcast_chunk")

if __name__ == "__main__":
    from audience.celery import app

    app.worker_main(sys.argv[1:])
