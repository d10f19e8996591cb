"""Connections of the PostGIS store: one pool per process, and what to do when the database goes away.

* The pool (``psycopg_pool.ConnectionPool``, ``GEOCOMMUNE_PG_POOL`` connections at most) is
  created on first use in each process: the server forks its workers from a main process that may
  already have used the store, and a connection must never be shared by two processes.
* Every read runs in autocommit, one statement at a time (see ``postgis.py`` for why).
* A lost database gives ``StoreUnavailableError`` (the HTTP layer answers 503), quickly:
  once a failure is seen, later requests first try one direct connection (refused at once
  while the server is down) instead of waiting for the pool. As soon as that connection
  succeeds the pool is replaced by a fresh one, so the next request after the database is
  back succeeds — psycopg_pool's own reconnection backs off exponentially, which could keep
  a worker failing for minutes after the outage.
* A connection that broke between two requests (server restarted) is noticed by the query
  itself; reads are idempotent, so they are retried once on a checked pool.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator, TypeVar
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from layers.errors import StoreError

LOGGER = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_POOL_SIZE = 4
CONNECT_TIMEOUT = 3  # seconds, libpq's connect_timeout (a refused connection fails at once)
FIRST_WAIT = 1.0  # seconds to wait for a pooled connection before checking that the server is there
POOL_TIMEOUT = 5.0  # then, seconds to wait for a free pooled connection (all busy)
PROBE_HOLD_OFF = 0.2  # seconds during which a failed probe answers for the next requests


class StoreUnavailableError(StoreError):
    """The database cannot be reached (down, restarting, network): the API answers 503."""


def split_url(url: str) -> tuple[str, str]:
    """``postgresql://…?schema=x&sslmode=…`` → (libpq URL without ``schema``, schema).

    ``schema`` is ours (libpq refuses unknown parameters): where the layer tables and the
    metadata table live, ``public`` by default.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("postgresql", "postgres"):
        raise StoreError(f"adresse PostgreSQL invalide « {redact(url)} » (attendu : postgresql://…)")
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = next((v for k, v in query if k == "schema"), "") or "public"
    rest = [(k, v) for k, v in query if k != "schema"]
    return urlunsplit(parts._replace(query=urlencode(rest))), schema


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.rsplit("@", 1)
    return urlunsplit(parts._replace(netloc=netloc[0].split(":", 1)[0] + ":***@" + netloc[1]))


def unavailable(exc: BaseException | str) -> StoreUnavailableError:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return StoreUnavailableError(f"base de données injoignable : {detail}")


def is_connection_lost(exc: BaseException, conn: psycopg.Connection | None) -> bool:
    if conn is not None and (conn.broken or conn.closed):
        return True
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) and not isinstance(
        exc, psycopg.errors.QueryCanceled
    )


class Connections:
    """The per-process pool of one store, with fast failure and recovery (see module docstring)."""

    def __init__(self, conninfo: str, pool_size: int = DEFAULT_POOL_SIZE, *, name: str = "geocommune") -> None:
        self.conninfo = conninfo
        self.pool_size = max(1, int(pool_size))
        self.name = name
        self._pool: ConnectionPool | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._down = False
        self._last_probe_failure = 0.0
        self._last_error = ""
        # Pools inherited through fork: kept referenced, never closed nor collected — closing
        # would terminate the parent's server sessions through the shared sockets.
        self._inherited: list[ConnectionPool] = []

    # -- connections --------------------------------------------------------------------
    def connect(self, **kwargs: Any) -> psycopg.Connection:
        """A connection of its own, outside the pool (publication: long, rare)."""
        options = {"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "prepare_threshold": None,
                   "application_name": self.name, **kwargs}
        try:
            return psycopg.connect(self.conninfo, **options)
        except psycopg.Error as exc:
            raise unavailable(exc) from None

    def _new_pool(self) -> ConnectionPool:
        return ConnectionPool(
            self.conninfo,
            min_size=1,
            max_size=self.pool_size,
            # No auto-prepared statements: they would outlive a re-publication that changes a
            # column type, and they do not work behind PgBouncer in transaction mode.
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT, "prepare_threshold": None,
                    "application_name": self.name},
            timeout=POOL_TIMEOUT,
            reconnect_timeout=60.0,
            name=self.name,
            open=False,
        )

    def _forget_after_fork(self) -> None:
        if self._pid != os.getpid():
            # The lock may have been held by another thread at fork time: a new one.
            self._lock = threading.Lock()
            if self._pool is not None:
                self._inherited.append(self._pool)
            self._pool, self._pid, self._down = None, os.getpid(), False

    def _current_pool(self) -> ConnectionPool:
        self._forget_after_fork()
        pool = self._pool
        if pool is None:
            with self._lock:
                if self._pool is None:
                    pool = self._new_pool()
                    pool.open(wait=False)
                    self._pool = pool
                pool = self._pool
        return pool

    def _probe(self) -> None:
        """While the database is known to be down: one direct connection, or fail at once."""
        now = time.monotonic()
        if now - self._last_probe_failure < PROBE_HOLD_OFF:
            raise unavailable(self._last_error)
        try:
            probe = psycopg.connect(self.conninfo, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
        except psycopg.Error as exc:
            self._last_probe_failure, self._last_error = time.monotonic(), str(exc)
            raise unavailable(exc) from None
        probe.close()
        with self._lock:
            if self._down:  # back: a fresh pool, rather than the old one's back-off schedule
                old, self._pool, self._down = self._pool, None, False
                if old is not None:
                    old.close(timeout=0)
                LOGGER.warning("base de données de nouveau joignable : connexions rouvertes")

    def _mark_down(self, exc: BaseException) -> None:
        self._down = True
        self._last_error = str(exc)

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection]:
        """A pooled autocommit connection; ``StoreUnavailableError`` when there is none to give."""
        self._forget_after_fork()
        if self._down:
            self._probe()
        fresh = self._pool is None
        pool = self._current_pool()
        if fresh:  # a new pool connects in the background: is there a server to connect to?
            self._checked_probe()
        try:
            try:
                conn = pool.getconn(timeout=FIRST_WAIT)
            except PoolTimeout:
                # Either the database is gone (the pool cannot connect) or every connection is busy.
                self._checked_probe()
                conn = pool.getconn(timeout=POOL_TIMEOUT)
        except PoolTimeout:
            raise StoreUnavailableError(
                f"base de données saturée : aucune connexion libre après {POOL_TIMEOUT + FIRST_WAIT:g} s "
                f"({self.pool_size} par processus, GEOCOMMUNE_PG_POOL)"
            ) from None
        except psycopg.Error as exc:
            self._mark_down(exc)
            raise unavailable(exc) from None
        try:
            yield conn
        finally:
            pool.putconn(conn)  # a broken connection is discarded and replaced by the pool

    def _checked_probe(self) -> None:
        try:
            self._probe_once()
        except StoreUnavailableError as exc:
            self._mark_down(exc)
            raise

    def _probe_once(self) -> None:
        try:
            probe = psycopg.connect(self.conninfo, connect_timeout=CONNECT_TIMEOUT, autocommit=True)
        except psycopg.Error as exc:
            raise unavailable(exc) from None
        probe.close()

    def run(self, work: Callable[[psycopg.Connection], T]) -> T:
        """``work(connection)`` on a pooled connection; retried once if the connection was lost.

        For reads only (idempotent). A lost database raises ``StoreUnavailableError``.
        """
        for attempt in (1, 2):
            conn: psycopg.Connection | None = None
            try:
                with self.connection() as conn:
                    return work(conn)
            except StoreUnavailableError:
                raise
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                if not is_connection_lost(exc, conn):
                    raise
                # The server went away under this connection: is it still there?
                try:
                    self._probe_once()
                except StoreUnavailableError:
                    self._mark_down(exc)
                    raise unavailable(exc) from None
                if attempt == 2:
                    raise unavailable(exc) from None
                pool = self._pool
                if pool is not None:
                    pool.check()  # drop the other connections broken by a server restart
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None and self._pid == os.getpid():
            pool.close(timeout=1.0)
