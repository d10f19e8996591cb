"""The map in a real browser: the demo's four layers published in a temporary folder,
the server on a free loopback port (``tests/map/serve.py``), and Debian's Chromium
(``/usr/bin/chromium``) driven by Playwright — never a downloaded browser.

Tile requests are answered with a 1×1 PNG (no network, deterministic); any other request
leaving 127.0.0.1 is refused and recorded, so a test can assert there was none.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from layers.store import GeoPackageStore

PROJECT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-quic",
]
TILE_HOSTS = {"tile.openstreetmap.org", "data.geopf.fr"}
# The smallest valid PNG (1×1, transparent).
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf0000000301010018dd8db00000000049454e44ae426082"
)
START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class MapServer:
    url: str
    data: Path
    store: GeoPackageStore
    process: subprocess.Popen
    log: Path


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def start_map_server(data: Path, basemap: str = "osm") -> tuple[str, subprocess.Popen, Path]:
    port = free_port()
    log = data.parent / f"map-server-{port}.log"
    env = {**os.environ, "GEOCOMMUNE_DATA": str(data), "GEOCOMMUNE_HOST": "127.0.0.1",
           "GEOCOMMUNE_PORT": str(port), "GEOCOMMUNE_WORKERS": "2", "GEOCOMMUNE_URL": "",
           "GEOCOMMUNE_STORE": "", "GEOCOMMUNE_BASEMAP": basemap}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as sink:
        process = subprocess.Popen([sys.executable, "-m", "tests.map.serve"], cwd=PROJECT, env=env,
                                   stdout=sink, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(f"le serveur s'est arrêté au démarrage :\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if requests.get(url + "/carte", timeout=2).status_code == 200:
                return url, process, log
        except requests.ConnectionError:
            pass
        if time.monotonic() > deadline:
            _stop(process)
            pytest.fail(f"le serveur n'a pas répondu en {START_TIMEOUT} s :\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.2)


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory) -> Path:
    """The demo's four layers, published by the CLI as a user would (``geocommune demo``)."""
    root = tmp_path_factory.mktemp("map")
    data = root / "data"
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "--data", str(data), "demo", "--out", str(root / "demo")],
        cwd=PROJECT, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return data


@pytest.fixture(scope="session")
def map_server(demo_data) -> MapServer:
    url, process, log = start_map_server(demo_data)
    try:
        yield MapServer(url, demo_data, GeoPackageStore(demo_data), process, log)
    finally:
        _stop(process)


@pytest.fixture(scope="session")
def browser():
    if not CHROMIUM.exists():
        pytest.skip("Chromium absent (/usr/bin/chromium) : apt-get install chromium (scripts/setup.sh)")
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=BROWSER_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watched:
    """A page and what it did: console messages, failed requests, every request sent."""

    page: object
    console: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    third_party: list[str] = field(default_factory=list)
    tiles: int = 0

    @property
    def errors(self) -> list[str]:
        return [text for kind, text in self.console if kind in ("error", "pageerror")]

    def api_requests(self, path: str) -> list[str]:
        return [u for u in self.requests if urlsplit(u).path == path]


@pytest.fixture
def open_map(browser, map_server):
    """``open_map(path, **context_options)`` → a ``Watched`` page, loaded, every layer drawn."""
    contexts = []

    def opener(path: str = "/carte", *, wait: bool = True, init_script: str | None = None, **options) -> Watched:
        options.setdefault("viewport", {"width": 1280, "height": 800})
        context = browser.new_context(**options)
        contexts.append(context)
        page = context.new_page()
        watched = Watched(page)
        page.on("console", lambda m: watched.console.append((m.type, m.text)))
        page.on("pageerror", lambda e: watched.console.append(("pageerror", str(e))))
        page.on("request", lambda r: watched.requests.append(r.url))
        def failed(request):
            # Tiles may fail or be cancelled (Leaflet aborts the tiles of a zoom level it leaves).
            if (urlsplit(request.url).hostname or "") not in TILE_HOSTS:
                watched.failed.append((request.url, request.failure or ""))

        page.on("requestfailed", failed)

        def outside(route):
            host = urlsplit(route.request.url).hostname or ""
            if host in TILE_HOSTS or host.endswith(".tile.openstreetmap.org"):
                watched.tiles += 1
                route.fulfill(status=200, content_type="image/png", body=PNG_1PX)
            else:
                watched.third_party.append(route.request.url)
                route.abort()

        page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), outside)
        if init_script:
            page.add_init_script(init_script)
        page.goto(map_server.url + path)
        if wait:
            wait_drawn(page)
        return watched

    yield opener
    for context in contexts:
        context.close()


def wait_drawn(page, timeout: float = 15_000) -> None:
    """Until every layer on the map has drawn the current view and nothing is in flight."""
    page.wait_for_function(
        "() => window.GeoCommune && GeoCommune.state() && GeoCommune.state().started &&"
        " Object.values(GeoCommune.debug().layers).every(l => !l.onMap || (l.draws > 0 && !l.inflight))",
        timeout=timeout,
    )


def debug(page) -> dict:
    return page.evaluate("GeoCommune.debug()")
