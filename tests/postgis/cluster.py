"""A throw-away PostgreSQL/PostGIS cluster for tests (scripts/postgres.sh), usable from any
test folder: ``Cluster.create()`` … ``cluster.destroy()``; ``schema_url`` gives each test a
schema of its own. ``acquire_shared`` / ``release_shared``: the one cluster of a test process
that the session fixtures of several folders (tests/postgis, tests/api) share."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "postgres.sh"
# Installing the Debian packages (first run on a fresh machine) may take minutes; starting an
# installed cluster takes seconds.
START_TIMEOUT = 900
STOP_TIMEOUT = 60


@dataclass
class Cluster:
    """A throw-away PostgreSQL cluster owned by the test session."""

    folder: Path
    url: str

    def start(self) -> str:
        out = subprocess.run(["bash", str(SCRIPT), "start", str(self.folder)], capture_output=True, text=True,
                             timeout=START_TIMEOUT)
        if out.returncode != 0:
            raise RuntimeError(f"scripts/postgres.sh start a échoué :\n{out.stderr}")
        self.url = out.stdout.strip().splitlines()[-1]
        return self.url

    def stop(self) -> None:
        subprocess.run(["bash", str(SCRIPT), "stop", str(self.folder)], capture_output=True, text=True,
                       timeout=STOP_TIMEOUT, check=False)

    @classmethod
    def create(cls, prefix: str = "geocommune-pg-") -> "Cluster":
        # Under /tmp, not pytest's tmp_path: run as root, the server runs as "postgres", which
        # cannot enter pytest's private (0700) root-owned folders.
        folder = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
        cluster = cls(folder, "")
        try:
            cluster.start()
        except BaseException:
            cluster.destroy()
            raise
        return cluster

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


def schema_url(url: str, schema: str) -> str:
    return f"{url}?schema={schema}"


def drop_schema(url: str, schema: str) -> None:
    with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


# -- the cluster shared by a test process's sessions ---------------------------------------------

_shared: Cluster | None = None
_users = 0


def acquire_shared() -> Cluster:
    """The process's shared cluster, started on first use (one per pytest-xdist worker)."""
    global _shared, _users
    if _shared is None:
        _shared = Cluster.create()
    _users += 1
    return _shared


def release_shared() -> None:
    """Stop the shared cluster when its last user (session fixture) lets it go."""
    global _shared, _users
    _users = max(0, _users - 1)
    if _users == 0 and _shared is not None:
        cluster, _shared = _shared, None
        cluster.destroy()


def skip_requested() -> bool:
    """``GEOCOMMUNE_TEST_PG_SKIP=1``: the PostgreSQL tests (and PostGIS variants) are skipped."""
    return os.environ.get("GEOCOMMUNE_TEST_PG_SKIP") == "1"
