"""A channel backend for the fault tests: each delivery is one line appended to a file, so the
test process can see what a worker (in another process, maybe killed) handed over."""

from __future__ import annotations

import os

from communications.backends import BaseBackend, Outgoing


class FileBackend(BaseBackend):
    def send(self, messages: list[Outgoing]) -> dict[int, str]:
        with open(os.environ["FAULTS_DELIVERIES"], "a", encoding="utf-8") as handle:
            handle.writelines(f"{m.broadcast_id} {m.profile_id} {m.destination}\n" for m in messages)
            handle.flush()
            os.fsync(handle.fileno())
        return {}
