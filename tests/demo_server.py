"""The README's first command, as tests run it: ``geocommune serve`` on a fresh data folder
publishes the demo data on first run, then serves it (a real server on a free loopback port).

``serving_demo(folder)`` starts it, waits until every catalogue layer is listed by
``/collections``, yields its URL and its log, and stops it (its whole process group) —
whatever the test did. Used by the demo test, the DCAT test and the notebooks.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests

from tests.api.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent
DEMO_LAYERS = frozenset({"defibrillateurs", "amenagements-cyclables", "lieux-accessibles", "stationnement-velo"})
START_TIMEOUT = 240.0  # first run: the demo is generated and published before serving
STOP_TIMEOUT = 20.0


@dataclass(frozen=True)
class DemoServer:
    url: str
    log: Path
    process: subprocess.Popen


def stop(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)  # granian's main process and workers: a graceful stop
    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


def _wait_until_published(server: DemoServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.process.poll() is None:
        try:
            response = requests.get(f"{server.url}/collections?f=json", timeout=5)
            if response.status_code == 200 and {c["id"] for c in response.json()["collections"]} == DEMO_LAYERS:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.5)
    stop(server.process)
    pytest.fail(f"le serveur de démonstration n'a pas démarré :\n{server.log.read_text(errors='replace')[-3000:]}")


@contextmanager
def serving_demo(folder: Path, *, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[DemoServer]:
    """``geocommune --data folder/data serve`` (demo written to ``folder/demo``) until the block ends."""
    folder.mkdir(parents=True, exist_ok=True)
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "GEOCOMMUNE_DEMO_DIR": str(folder / "demo"),
                   "GEOCOMMUNE_STORE": "", "GEOCOMMUNE_URL": "", **(env or {})}
    environment.pop("PROMETHEUS_MULTIPROC_DIR", None)  # the server chooses its own
    port = free_port()
    log = folder / "serve.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.cli", "--data", str(folder / "data"), "serve", "--port", str(port),
             "--workers", str(workers)],
            cwd=folder, env=environment, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True,
        )
    server = DemoServer(f"http://127.0.0.1:{port}", log, process)
    try:
        _wait_until_published(server)
        yield server
    finally:
        stop(process)
