"""Import chunks written over several PostgreSQL connections at once, committed in file order.

Writing one chunk keeps one PostgreSQL backend busy (index upkeep, constraint checks) while the
worker's Python mostly waits for it; on a machine with two cores half of it sat idle. Here
IMPORT_STREAMS threads, each with its own connection, write one chunk each at the same time.

The chunks still commit one after the other in file order, so the job's resume point
(`resume_row`: the rows up to the last committed chunk) stays true: a killed worker leaves a
committed prefix of the file, never a chunk with a gap before it. Chunk n does its writes, runs
its deferred constraint checks, then waits until chunk n-1 has committed, and only then adds its
counters and commits; when n-1 failed, n rolls back.

That wait is a PostgreSQL advisory lock which chunk n-1 holds until it is through, so PostgreSQL
sees it: when n-1 needs a row n wrote first (one existing profile matched by rows of both
chunks), the deadlock detector stops one of them rather than both waiting forever. Any failure
stops the streams; the caller then writes the chunks not committed one at a time, where a
deadlock does not come back and any real error is raised as it would be without streams.
Rows that many chunks share, such as the companies a file names again and again, are made
before the chunk's transaction (`prepare`), each committed at once, so they cause no such wait.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import connection, connections, transaction

log = logging.getLogger(__name__)

# pg_advisory_lock(bigint): (ORDER_LOCK << 40) + (job id << 8) + chunk number mod 256. The
# app's other advisory locks use the two-integer form, another key space.
ORDER_LOCK = 7202


@dataclass
class Chunk:
    """One chunk on its way through a stream: `item` is what the caller's functions take."""

    number: int
    item: Any
    previous: Chunk | None
    locked: threading.Event = field(default_factory=threading.Event)
    finished: threading.Event = field(default_factory=threading.Event)
    committed: bool = False

    def give_up(self) -> None:
        """Let the next chunk look at this one (it did not commit unless `committed` says so)."""
        self.locked.set()
        self.finished.set()


class PredecessorFailed(Exception):
    """The chunk before this one did not commit: this one must not either."""


def _order_key(job_id: int, number: int) -> int:
    return (ORDER_LOCK << 40) + (job_id << 8) + number % 256


def chunks_write_streamed(
    *,
    job_id: int,
    chunks: Iterator[Any],
    streams: int,
    writer: Callable[[], tuple[Callable[[Any], None], Callable[[Any], Callable[[], None]]]],
    keep_going: Callable[[], bool],
) -> list[Any]:
    """Write `chunks` over `streams` connections; returns the items pulled but not committed,
    in order (empty when all were), for the caller to write one at a time.

    `writer()` is called once in each thread and returns that thread's (prepare, write):
    `prepare(item)` makes, outside the chunk's transaction, the rows other chunks may want too;
    `write(item)` does the chunk's writes in its transaction and returns a function that
    records it (the job's counters), called after the wait for the chunk before. `keep_going()`
    is asked before each chunk is handed out (a cancelled job stops)."""
    # One chunk waits for a free stream: at most streams + 2 chunks' rows in memory at once.
    todo: queue.Queue[Chunk | None] = queue.Queue(maxsize=1)
    failed = threading.Event()

    def work() -> None:
        # Every chunk handed out is taken and let go, whatever happens here: the next one waits
        # for it, and the caller writes again all that did not commit.
        try:
            prepare, write = writer()
        except BaseException:
            log.warning("import %s: a stream could not start", job_id, exc_info=True)
            prepare = write = None
            failed.set()
        try:
            while (chunk := todo.get()) is not None:
                if write is None or failed.is_set():
                    chunk.give_up()
                    continue
                try:
                    _chunk_write_ordered(job_id, chunk, prepare, write)
                except PredecessorFailed:
                    failed.set()
                except BaseException:
                    log.warning(
                        "import %s: chunk %s failed on its stream; the rest is written one at a time",
                        job_id,
                        chunk.number,
                        exc_info=True,
                    )
                    failed.set()
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, daemon=True) for _ in range(streams)]
    for thread in threads:
        thread.start()
    pulled: list[Chunk] = []
    previous = None
    try:
        for number, item in enumerate(chunks):
            previous = Chunk(number=number, item=item, previous=previous)
            pulled.append(previous)
            todo.put(previous)
            while pulled and pulled[0].finished.is_set() and pulled[0].committed:
                pulled.pop(0)  # committed: nothing to keep
            if failed.is_set() or not keep_going():
                break
    finally:
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
    return [chunk.item for chunk in pulled if not chunk.committed]


def _chunk_write_ordered(
    job_id: int, chunk: Chunk, prepare: Callable[[Any], None], write: Callable[[Any], Callable[[], None]]
) -> None:
    key, held = _order_key(job_id, chunk.number), False
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_lock(%s)", [key])
        held = True
        chunk.locked.set()
        prepare(chunk.item)
        with transaction.atomic(), connection.cursor() as cursor:
            record = write(chunk.item)
            # The deferred foreign key checks now, at the same time as the other streams' work,
            # not one chunk after the other at the commits.
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            before = chunk.previous
            if before is not None:
                before.locked.wait()
                previous_key = _order_key(job_id, before.number)
                cursor.execute("SELECT pg_advisory_lock_shared(%s)", [previous_key])
                cursor.execute("SELECT pg_advisory_unlock_shared(%s)", [previous_key])
                before.finished.wait()  # set before its lock is let go: no wait here
                if not before.committed:
                    raise PredecessorFailed
            record()
        chunk.committed, chunk.item = True, None  # written: its rows can go
    finally:
        chunk.give_up()  # the next chunk may look: committed or not, this one is through
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])
