"""What every module of the server benchmark shares: constants, ports, HTTP, formatting, versions.

The benchmark measures geocommune from outside: nothing here imports ``layers`` or ``server``
(the in-process floor, ``floor.py``, does so in a child process only).
"""

from __future__ import annotations

import math
import os
import platform
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from importlib import metadata
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
HOST = "127.0.0.1"
CRS_2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
# The throw-away cluster every PostGIS-backed server reads (set once by run.py, same for all).
# jit off: PostgreSQL's JIT compiles plans of large estimated cost (a COUNT over 1M rows) on
# every query, tens of ms that an interactive API configures away.
PG_SETTINGS = {"shared_buffers": "1GB", "effective_cache_size": "8GB", "work_mem": "16MB", "jit": "off",
               "max_connections": "200"}
HEADERS = {"Accept": "application/geo+json, application/json;q=0.9", "Accept-Encoding": "identity"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers or HEADERS)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read()


def geocommune_command() -> list[str]:
    candidate = Path(sys.executable).parent / "geocommune"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return [str(candidate)]
    return [sys.executable, "-m", "server.cli"]


# -- versions and machine -------------------------------------------------------------------


def package_version(name: str, python: Path | None = None) -> str:
    """Version of an installed distribution, in this interpreter or in another venv's."""
    if python is None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "?"
    try:
        out = subprocess.run([str(python), "-c", f"from importlib.metadata import version; print(version({name!r}))"],
                             capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return out.stdout.strip() or "?"


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=REPO, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"commit {head}" + (" + modifications non validées" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


# -- formatting (French: space as thousands separator) -------------------------------------------


def is_nan(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


def num(value: float | None, digits: int = 1) -> str:
    if is_nan(value):
        return "—"
    return f"{value:,.{digits}f}".replace(",", " ")


def integer(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def ratio(value: float | None) -> str:
    if is_nan(value):
        return "—"
    assert value is not None
    if value >= 100:
        return f"{value:,.0f}×".replace(",", " ")
    return f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


def size_label(size: int) -> str:
    """10000 → 10k, 1000000 → 1M (the report's and the cache's names)."""
    if size >= 1_000_000 and size % 1_000_000 == 0:
        return f"{size // 1_000_000}M"
    if size >= 1000 and size % 1000 == 0:
        return f"{size // 1000}k"
    return str(size)


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "")
    factor = 1
    if text.endswith("k"):
        factor, text = 1000, text[:-1]
    elif text.endswith("m"):
        factor, text = 1_000_000, text[:-1]
    value = int(float(text) * factor)
    if value < 1:
        raise ValueError(text)
    return value
