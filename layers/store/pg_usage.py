"""Usage counters of the PostGIS store: the table ``geocommune_usage`` in the store's schema.

Same rows as the SQLite counters (``usage.py``): ``day`` (date, UTC), ``layer``, ``kind``,
``format``, ``n`` — primary key on the first four. A batch is one ``INSERT … SELECT FROM
unnest(…) ON CONFLICT DO UPDATE SET n = n + excluded.n``: one statement, so atomic, and
exact when several workers or machines add to the same row at once (the conflicting
insert waits for the other's row lock, then adds to the committed value).

The table is created on the first write that finds it missing (not at start-up: the
server may start while the database is away, and a read-only replica never writes).

Writes are *not* retried on a lost connection, unlike the store's reads: an upsert whose
commit reached the server but whose answer was lost would be counted twice. The caller
keeps the batch and offers it again later (``server/usage/buffer.py``); at worst a batch
is counted twice after such a loss — never lost silently, never counted more than that.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Mapping

import psycopg

from .pg_pool import Connections, StoreUnavailableError
from .pg_query import ident
from .usage import UsageKey, UsageRow, UsageUnavailableError

USAGE_TABLE = "geocommune_usage"


class PgUsage:
    def __init__(self, connections: Connections, schema: str) -> None:
        self._connections = connections
        self.schema = schema
        self.table = f"{ident(schema)}.{ident(USAGE_TABLE)}"

    @classmethod
    def for_store(cls, store: Any) -> "PgUsage":
        # The PostGIS store's own pool (one per worker process, created on first use):
        # no second pool, no second set of connections for the counters. PostGISStore
        # exposes it as ``_connections`` only; read here, in the store package.
        return cls(store._connections, store.schema)

    def __repr__(self) -> str:
        return f"PgUsage({self.schema}.{USAGE_TABLE})"

    def _create(self, conn: psycopg.Connection) -> None:
        for statement in (
            f"CREATE SCHEMA IF NOT EXISTS {ident(self.schema)}",
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            " day date NOT NULL, layer text NOT NULL, kind text NOT NULL, format text NOT NULL,"
            " n bigint NOT NULL, PRIMARY KEY (day, layer, kind, format))",
        ):
            try:
                conn.execute(statement)
            except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable, psycopg.errors.DuplicateSchema):
                # Two workers creating it at the same instant: IF NOT EXISTS is not atomic
                # in PostgreSQL; the other one's creation is as good as ours.
                pass

    def add(self, counts: Mapping[UsageKey, int]) -> None:
        keys = [k for k, n in counts.items() if n]
        if not keys:
            return
        statement = (
            f"INSERT INTO {self.table} AS u (day, layer, kind, format, n) "
            "SELECT * FROM unnest(%s::date[], %s::text[], %s::text[], %s::text[], %s::bigint[]) "
            "ON CONFLICT (day, layer, kind, format) DO UPDATE SET n = u.n + excluded.n"
        )
        args = [
            [dt.date.fromisoformat(k.day) for k in keys],
            [k.layer for k in keys],
            [k.kind for k in keys],
            [k.format for k in keys],
            [int(counts[k]) for k in keys],
        ]
        try:
            with self._connections.connection() as conn:
                try:
                    conn.execute(statement, args)
                except psycopg.errors.UndefinedTable:
                    self._create(conn)
                    conn.execute(statement, args)
        except StoreUnavailableError:
            raise
        except psycopg.Error as exc:
            raise UsageUnavailableError(f"compteurs de fréquentation non écrits : {_first_line(exc)}") from None

    def read(self, first_day: dt.date, last_day: dt.date, layer: str | None = None) -> list[UsageRow]:
        sql = f"SELECT day, layer, kind, format, n FROM {self.table} WHERE day BETWEEN %s AND %s"
        args: list[Any] = [first_day, last_day]
        if layer is not None:
            sql += " AND layer = %s"
            args.append(layer)
        sql += ' ORDER BY layer COLLATE "C", day, kind COLLATE "C", format COLLATE "C"'

        def work(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
            try:
                return conn.execute(sql, args).fetchall()
            except psycopg.errors.UndefinedTable:  # nothing counted yet
                return []

        try:
            rows = self._connections.run(work)  # a read: retried once on a lost connection
        except StoreUnavailableError:
            raise
        except psycopg.Error as exc:
            raise UsageUnavailableError(f"compteurs de fréquentation illisibles : {_first_line(exc)}") from None
        return [UsageRow(day.isoformat(), layer_id, kind, fmt, int(n)) for day, layer_id, kind, fmt, n in rows]

    def close(self) -> None:
        """Nothing of its own: the pool is the store's, closed with it."""


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
