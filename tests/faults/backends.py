"""A channel backend for the fault tests: each hand-off is one line appended to a file, so the
test process can see what a worker (in another process, maybe killed) handed over.

Each line ends with the process id of the worker process that handed the message over. It
honours the idempotency key as a provider must: a message whose key it delivered before is
written as a `dedup` line, not delivered again. FAULTS_SEND_DELAY sleeps after the hand-off, before
Audience can commit its outcome, so a test can kill the worker in that window.
"""

from __future__ import annotations

import os
import time

from communications.backends import BaseBackend, Outgoing


class FileBackend(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        with open(os.environ["FAULTS_DELIVERIES"], "a+", encoding="utf-8") as handle:
            handle.seek(0)
            delivered = {line.split()[1] for line in handle if line.startswith("delivered ")}
            for m in messages:
                kind = "dedup" if m.key in delivered else "delivered"
                delivered.add(m.key)
                handle.write(f"{kind} {m.key} {m.profile_id} {m.destination} {os.getpid()}\n")
            handle.flush()
            os.fsync(handle.fileno())
        time.sleep(float(os.environ.get("FAULTS_SEND_DELAY", "0")))
        return {}
