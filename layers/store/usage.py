"""Usage counters kept in the store: how many API requests and downloads, per day, layer,
kind of resource and format — and nothing else.

A row is ``(day, layer, kind, format, n)``: the day in UTC (ISO ``YYYY-MM-DD``), the layer
id, the kind (``items``, ``item``, ``queryables``… or ``download``), the format (``json``,
``html``, ``csv``…) and the count. No address, no user agent, no URL, no time of day: the
table cannot hold personal data because it has no column for it.

Increments are upserts (``n = n + excluded.n``) of a whole batch in one transaction, so
several processes (server workers, several machines on one PostgreSQL) add up exactly.

Two implementations, chosen by the layer store beside them (``usage_for``):

* ``SQLiteUsage``: the GeoPackage store's counters, in ``<data dir>/usage.sqlite`` (WAL
  mode). A file of its own, not a table in a layer's GeoPackage: those are replaced whole
  at each publication (``os.replace``), which would lose the counts.
* ``PgUsage`` (``pg_usage.py``): the table ``geocommune_usage`` in the PostGIS store's
  schema, through the store's own connection pool.
"""

from __future__ import annotations

import datetime as dt
import os
import random
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Protocol, runtime_checkable

from layers.errors import StoreError

USAGE_FILE = "usage.sqlite"
COLUMNS = ("day", "layer", "kind", "format", "n")
BUSY_TIMEOUT_MS = 5000  # another worker's write in progress: wait for it rather than fail


@dataclass(frozen=True, slots=True)
class UsageKey:
    day: str  # YYYY-MM-DD, UTC
    layer: str
    kind: str
    format: str


@dataclass(frozen=True, slots=True)
class UsageRow:
    day: str
    layer: str
    kind: str
    format: str
    n: int


@runtime_checkable
class UsageStore(Protocol):
    def add(self, counts: Mapping[UsageKey, int]) -> None:
        """Add ``counts`` to the stored ones, all or nothing (raises ``StoreError`` on failure)."""
        ...

    def read(self, first_day: dt.date, last_day: dt.date, layer: str | None = None) -> list[UsageRow]:
        """The rows from ``first_day`` to ``last_day`` included, of one layer or all."""
        ...

    def close(self) -> None: ...


class UsageUnavailableError(StoreError):
    """The counters cannot be written or read (database locked too long, disk full…)."""


# -- SQLite (beside the GeoPackage store) ---------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage (
    day TEXT NOT NULL,
    layer TEXT NOT NULL,
    kind TEXT NOT NULL,
    format TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (day, layer, kind, format)
) WITHOUT ROWID
"""
_SQLITE_UPSERT = (
    "INSERT INTO usage (day, layer, kind, format, n) VALUES (?, ?, ?, ?, ?) "
    "ON CONFLICT (day, layer, kind, format) DO UPDATE SET n = n + excluded.n"
)


class SQLiteUsage:
    """Counters in ``<data dir>/usage.sqlite``.

    A connection per process (opened on first use, again after a fork: a SQLite
    connection must never cross one), used by one thread at a time (a worker's threads
    share it: its flush and the ``/stats`` reads)."""

    def __init__(self, data_dir: Path | str) -> None:
        self.path = Path(data_dir) / USAGE_FILE
        self._connection: sqlite3.Connection | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"SQLiteUsage({str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        if self._connection is not None:
            return self._connection
        self.path.parent.mkdir(exist_ok=True)  # the data folder, never its parents
        # isolation_level=None: transactions are ours (BEGIN IMMEDIATE below);
        # check_same_thread=False: the server's flush may run on its timer thread.
        connection = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None,
                                     check_same_thread=False)
        connection.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        # Two workers opening a new file at the same moment (both flushing at their exit)
        # race to switch it to WAL and create the table; SQLite answers "database is locked"
        # to one of them at once, without waiting (busy_timeout does not cover the journal
        # mode change). Retried until the same deadline.
        deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
        while True:
            try:
                # WAL: readers (/stats) never block the workers' writes, and a write is one append.
                connection.execute("PRAGMA journal_mode = WAL")
                connection.execute("PRAGMA synchronous = NORMAL")  # durable at checkpoints; counts, not records
                connection.execute(_SQLITE_SCHEMA)
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    connection.close()
                    raise
                time.sleep(random.uniform(0.005, 0.03))
        self._connection = connection
        return connection

    def _run(self, work: Any) -> Any:
        if self._pid != os.getpid():
            # Forked: the parent's connection and lock stay the parent's (never closed here).
            self._connection, self._lock, self._pid = None, threading.Lock(), os.getpid()
        with self._lock:
            try:
                return work(self._connect())
            except sqlite3.Error as exc:
                self._drop()
                raise UsageUnavailableError(
                    f"compteurs de fréquentation inaccessibles ({self.path.name}) : {exc}"
                ) from None

    def add(self, counts: Mapping[UsageKey, int]) -> None:
        rows = [(k.day, k.layer, k.kind, k.format, int(n)) for k, n in counts.items() if n]
        if not rows:
            return

        def work(connection: sqlite3.Connection) -> None:
            # IMMEDIATE: take the write lock now (waiting up to busy_timeout for another
            # worker) rather than fail on upgrade from a read lock half-way.
            connection.execute("BEGIN IMMEDIATE")
            try:
                connection.executemany(_SQLITE_UPSERT, rows)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")

        self._run(work)

    def read(self, first_day: dt.date, last_day: dt.date, layer: str | None = None) -> list[UsageRow]:
        sql = "SELECT day, layer, kind, format, n FROM usage WHERE day BETWEEN ? AND ?"
        args: list[Any] = [first_day.isoformat(), last_day.isoformat()]
        if layer is not None:
            sql += " AND layer = ?"
            args.append(layer)
        sql += " ORDER BY layer, day, kind, format"
        rows = self._run(lambda connection: connection.execute(sql, args).fetchall())
        return [UsageRow(*row) for row in rows]

    def _drop(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and self._pid == os.getpid():
            try:
                connection.close()
            except sqlite3.Error:
                pass

    def close(self) -> None:
        if self._pid != os.getpid():
            self._connection = None  # the parent's
            return
        with self._lock:
            self._drop()


def usage_for(store: Any) -> UsageStore:
    """The counters that go with a layer store: SQLite beside a GeoPackage store, a table in
    a PostGIS store's schema (same pool)."""
    data_dir = getattr(store, "data_dir", None)
    if data_dir is not None:
        return SQLiteUsage(data_dir)
    from .pg_usage import PgUsage  # psycopg only when PostGIS is used

    return PgUsage.for_store(store)
