"""The ingestion benchmark runs end to end on a small file and reports a ratio."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.skipif(shutil.which("ogr2ogr") is None, reason="ogr2ogr absent (paquet gdal-bin, installé par scripts/setup.sh)")
def test_bench_ingest_small(tmp_path):
    results = tmp_path / "RESULTS-ingest.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "ingest.py"), "--rows", "2000",
         "--out", str(tmp_path / "out"), "--results", str(results)],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    match = re.search(r"ratio_time=(\d+(?:\.\d+)?) ratio_memory=(\d+(?:\.\d+)?)", proc.stdout)
    assert match and float(match.group(1)) > 0 and float(match.group(2)) > 0, proc.stdout
    assert (tmp_path / "out" / "geodae-2000-seed42.csv").is_file()
    table = results.read_text(encoding="utf-8")
    assert table.startswith("# ") and re.search(r"^\| .* \| 2 000 \|", table, flags=re.MULTILINE)


def test_bench_server_small(tmp_path):
    """bench/server.py end to end on 2 000 rows: both servers start, every workload runs, the table is
    written. Correctness only: no timing is asserted (a loaded machine would make it flaky)."""
    results = tmp_path / "RESULTS-server.md"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "server.py"), "--rows", "2000", "--duration", "1",
         "--connections", "2", "--workers", "1", "--work", str(tmp_path / "out"), "--out", str(results)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-4000:]}\nstderr:\n{proc.stderr[-4000:]}"
    table = results.read_text(encoding="utf-8")
    assert table.startswith("# ") and "bench/server.py --rows 2000" in table
    w1 = re.search(r"^\| \*\*W1\*\* \|(.*)\|$", table, flags=re.MULTILINE)
    assert w1, table
    cells = [c.strip() for c in w1.group(1).split("|")]
    assert float(cells[1].replace(" ", "")) > 0, cells  # our requests/s: a number, measured
    assert cells[4] == "0", cells  # no error from our server
    assert "ignoré (renvoie tout)" in table  # stock GeoJSON provider on W6, detected by the probe
