"""The README's first command on a fresh data folder: ``geocommune serve`` publishes the
demo data on first run, then serves it — checked over HTTP against the real server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.api.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_serve_publishes_demo_on_first_run_and_serves_it(tmp_path):
    port = free_port()
    env = {**os.environ, "GEOCOMMUNE_DEMO_DIR": str(tmp_path / "demo"), "PYTHONPATH": str(ROOT)}
    log = open(tmp_path / "serve.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "server.cli", "--data", str(tmp_path / "data"), "serve", "--port", str(port),
         "--workers", "1"],
        cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        collections = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = requests.get(f"{url}/collections?f=json", timeout=5)
                if response.status_code == 200:
                    collections = response.json()["collections"]
                    break
            except requests.ConnectionError:
                time.sleep(0.5)
        assert collections is not None, (tmp_path / "serve.log").read_text()
        ids = {c["id"] for c in collections}
        assert ids == {"defibrillateurs", "amenagements-cyclables", "lieux-accessibles", "stationnement-velo"}
        dae = next(c for c in collections if c["id"] == "defibrillateurs")
        assert dae["title"].startswith("Défibrillateurs")  # French by default
        assert "Retirés avant publication" in dae["description"]
        items = requests.get(f"{url}/collections/defibrillateurs/items?f=json&limit=5", timeout=10).json()
        assert items["numberMatched"] > 1000 and len(items["features"]) == 5
        props = items["features"][0]["properties"]
        assert not [k for k in props if k.startswith(("tel", "expt_tel")) or "mail" in k]
        cycles = requests.get(f"{url}/collections/amenagements-cyclables/items?f=json&limit=1", timeout=10).json()
        lon, lat = cycles["features"][0]["geometry"]["coordinates"][0]
        assert 4.5 < lon < 6.0 and 45.5 < lat < 46.8  # Lambert-93 source, served in WGS84 around Bourg-en-Bresse
        log_text = (tmp_path / "serve.log").read_text()
        assert "démo" in log_text and "127.0.0.1" in log_text
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        log.close()
