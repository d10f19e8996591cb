"""The production server's process model (``server/run.py``, granian): the runtime files are
written once by the main process, each worker serves from them, and a worker that dies is
replaced without a restart of the others."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
import requests

from layers.store import GeoPackageStore

from .conftest import FIELDS, LAYER, _stop, layer_frame, start_server

pytestmark = pytest.mark.gpkg_only


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _workers(pid: int) -> set[int]:
    """The server's 2 workers, or nothing while there are not 2."""
    children = _children(pid)
    return children if len(children) == 2 else set()


def _wait_for(condition, what: str, timeout: float = 60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"{what} : toujours pas au bout de {timeout} s")


def test_a_dead_worker_is_replaced_and_the_files_are_not_rewritten(tmp_path):
    data = tmp_path / "data"
    GeoPackageStore(data).publish(LAYER, layer_frame(), {"licence": "lo-2.0"}, FIELDS)
    url, process, log = start_server(data, workers=2)
    try:
        runtime = data / ".runtime"
        written = {name: (runtime / name).stat().st_mtime_ns for name in ("pygeoapi.yml", "openapi.yml")}
        workers = _wait_for(lambda: _workers(process.pid), "2 processus de travail")
        victim = min(workers)
        os.kill(victim, signal.SIGKILL)
        replaced = _wait_for(lambda: (found := _workers(process.pid)) and victim not in found and found,
                             "remplacement du processus tué")
        assert len(replaced & workers) == 1  # the other worker was left alone
        # Both workers answer (several requests: each connection may reach either worker).
        for _ in range(10):
            response = requests.get(f"{url}/collections/{LAYER}/items", params={"f": "json", "limit": 2}, timeout=10)
            assert response.status_code == 200 and len(response.json()["features"]) == 2
        assert process.poll() is None
        assert {name: (runtime / name).stat().st_mtime_ns for name in written} == written
    finally:
        _stop(process)
    assert process.returncode == 0
    assert "Traceback" not in log.read_text(errors="replace")


def test_the_machines_environment_is_not_read_as_request_headers(tmp_path):
    """granian builds each request's WSGI environ from the process environment: variables
    named like request headers (``HTTP_PROXY``…) must not reach the application as such."""
    data = tmp_path / "data"
    GeoPackageStore(data).publish(LAYER, layer_frame(), {"licence": "lo-2.0"}, FIELDS)
    env = {"HTTP_ACCEPT_LANGUAGE": "en", "HTTP_ACCEPT": "text/html", "HTTP_IF_NONE_MATCH": "*",
           "QUERY_STRING": "limit=1"}
    url, process, log = start_server(data, workers=1, extra_env=env)
    try:
        for path in (f"/collections/{LAYER}/items?limit=3", f"/collections/{LAYER}", "/"):
            response = requests.get(url + path, headers={"Accept": "application/json"}, timeout=10)
            assert response.status_code == 200, path  # not a 304 for If-None-Match: *
            assert response.headers["Content-Language"] == "fr", path  # not the environment's "en"
            assert response.headers["Content-Type"].startswith("application/"), path
        assert len(requests.get(url + f"/collections/{LAYER}/items?limit=3", timeout=10).json()["features"]) == 3
    finally:
        _stop(process)
