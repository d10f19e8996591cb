"""The benchmarks run end to end on small data. Correctness only: no timing is ever asserted
(a loaded machine would make that flaky; speed is bench/RESULTS.md's business)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SERVERS = ["geocommune (GeoPackage)", "geocommune (PostGIS)", "tipg", "pygeoapi PostgreSQL", "pygeoapi GeoJSON",
           "nginx (fichiers)"]
WORKLOADS = ["W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9"]


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


def _section(report: str, title_start: str) -> str:
    start = report.index(title_start)
    end = report.find("\n## ", start + 1)
    return report[start:end if end > 0 else len(report)]


def test_bench_run_small(tmp_path):
    """bench/run.py, the one command, on a tiny dataset: both stores, every anchor that could be
    installed, W1–W9; the report has a row for every server in every workload's table. (DAE only:
    the cycle-path datasets take the same code path; their generator is checked below.)"""
    results = tmp_path / "RESULTS.md"
    # Generated data and the throw-away PostGIS cluster in bench/out/smoke (a folder PostgreSQL's
    # user can reach, unlike pytest's tmp_path); tipg's and pygeoapi's venvs shared with the real
    # bench (bench/out), created once (scripts/bench-setup.sh is idempotent).
    work = REPO / "bench" / "out" / "smoke"
    proc = subprocess.run(
        [sys.executable, str(REPO / "bench" / "run.py"), "--sizes", "2000", "--cycle-sizes", "",
         "--duration", "0.5", "--connections", "2", "--workers", "1", "--anchor-timeout", "30",
         "--work", str(work), "--out", str(results)],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert proc.returncode == 0, f"stdout:\n{proc.stdout[-6000:]}\nstderr:\n{proc.stderr[-4000:]}"
    report = results.read_text(encoding="utf-8")
    assert report.startswith("# ") and "bench/run.py --sizes 2000" in report

    dae = _section(report, "## DAE 2k")
    for key in WORKLOADS:
        table = _section(dae, f"### {key} ")
        table = table[:table.find("\n### ", 1)] if "\n### " in table[1:] else table
        for server in SERVERS:
            row = re.search(rf"^\| {re.escape(server)} \|(.*)\|$", table, flags=re.MULTILINE)
            assert row, f"{key}: no row for {server}\n{table}"
            cells = [c.strip() for c in row.group(1).split("|")]
            if server.startswith("geocommune"):
                assert float(cells[0].replace(" ", "")) > 0, (key, server, cells)  # requests/s: measured
                assert cells[3] == "0", (key, server, cells)  # no error from our server
            elif server in ("tipg", "pygeoapi PostgreSQL") and "indisponible" in row.group(1):
                # An anchor that cannot be installed here is reported, with its reason.
                assert re.search(rf"\*\*{re.escape(server)}\*\* : non mesuré : indisponible", report), report[-3000:]
    # The floor served bare by granian (bench/floor_http.py) on the workloads of the above-floor target.
    for key in ("W1", "W2", "W4"):
        table = _section(dae, f"### {key} ")
        for store in ("GeoPackage", "PostGIS"):
            row = re.search(rf"^\| plancher servi par granian \({store}\) \|(.*)\|$", table, flags=re.MULTILINE)
            assert row, f"{key}: no row for the floor served over HTTP ({store})\n{table}"
            assert float(row.group(1).split("|")[0].replace(" ", "")) > 0, (key, store, row.group(1))
    serving = _section(dae, "### Ce que coûte le service HTTP")
    assert re.search(r"^\| W4 \| GeoPackage \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \|", serving, flags=re.MULTILINE), serving
    # What the anchors cannot do is said, not measured: no nearest resource, GeoJSON provider without CQL2.
    w8 = _section(dae, "### W8 ")
    assert re.search(r"^\| pygeoapi GeoJSON \|.*non pris en charge", w8, flags=re.MULTILINE), w8
    assert "ignoré (renvoie tout)" in _section(dae, "### W6 ")
    # The report's fixed parts: targets, numberMatched cost, floors, settings and versions of every anchor.
    for heading in ("## Objectifs", "## Coût de numberMatched", "### Plancher en processus", "## Réglages des serveurs",
                    "## Versions", "## Machine"):
        assert heading in report, heading
    assert re.search(r"^- PostgreSQL 1\d", report, flags=re.MULTILINE), _section(report, "## Versions")


def test_bench_cycle_generator_is_ingestible(tmp_path):
    """bench/generate_cycle.py writes LineStrings of 5 to 50 vertices in the national cycle schema's
    shape, which `geocommune ingest amenagements-cyclables` publishes whole."""
    import pyogrio
    import shapely

    source = tmp_path / "cycle.gpkg"
    subprocess.run([sys.executable, str(REPO / "bench" / "generate_cycle.py"), "--rows", "300", "--seed", "7",
                    "--out", str(source)], check=True, capture_output=True, timeout=120)
    frame = pyogrio.read_dataframe(source)
    vertices = shapely.get_num_coordinates(frame.geometry.values)
    assert len(frame) == 300 and set(frame.geometry.geom_type) == {"LineString"}
    assert vertices.min() >= 5 and vertices.max() <= 50
    assert frame.crs.to_epsg() == 2154 and frame["id_local"].is_unique
    cli = Path(sys.executable).parent / "geocommune"
    proc = subprocess.run([str(cli), "--data", str(tmp_path / "data"), "ingest", "amenagements-cyclables", str(source)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "GEOCOMMUNE_STORE": ""})
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(r"300 entité\(s\) publiée\(s\), 0 ligne\(s\) non publiée\(s\)", proc.stdout), proc.stdout
