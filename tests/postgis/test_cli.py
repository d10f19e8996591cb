"""Ingestion end to end into PostGIS, as a data team types it:
``geocommune --store postgresql://… ingest defibrillateurs FILE`` (real subprocess)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from layers.demo import write_demo
from layers.store import GeoPackageStore
from layers.store.postgis import PostGISStore

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str, cwd: Path, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "server.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)})


def test_ingest_demo_file_into_postgis(tmp_path, pg_url):
    demo = write_demo(tmp_path / "demo")
    source = demo["defibrillateurs"]
    assert source.name == "defibrillateurs-geodae.csv"

    out = run("--store", pg_url, "ingest", "defibrillateurs", str(source), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "entité(s) publiée(s)" in out.stdout

    listed = json.loads(run("--store", pg_url, "layers", "--json", cwd=tmp_path).stdout)
    row = next(r for r in listed if r["id"] == "defibrillateurs")
    assert row["published"] and row["count"] > 0 and row["source"] == source.name

    # Same file, same chain, GeoPackage store: the same layer, feature for feature.
    data = tmp_path / "data"
    assert run("--data", str(data), "ingest", "defibrillateurs", str(source), cwd=tmp_path).returncode == 0
    pg, gpkg = PostGISStore(pg_url), GeoPackageStore(data)
    try:
        assert pg.count("defibrillateurs") == gpkg.count("defibrillateurs") == row["count"]
        a = pg.query("defibrillateurs", limit=100_000, sortby=["id"])
        b = gpkg.query("defibrillateurs", limit=100_000, sortby=["id"])
        assert a.ids == b.ids and a.properties == b.properties and a.features == b.features
        assert pg.metadata("defibrillateurs")["field_types"] == gpkg.metadata("defibrillateurs")["field_types"]
    finally:
        pg.close()
        gpkg.close()

    # Re-ingestion replaces the layer atomically; an unreachable database is one clear line.
    again = run("--store", pg_url, "ingest", "defibrillateurs", str(source), cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    dead = run("--store", "postgresql://geocommune@127.0.0.1:1/geocommune", "ingest", "defibrillateurs",
               str(source), cwd=tmp_path)
    assert dead.returncode != 0 and "Traceback" not in dead.stderr
    assert "injoignable" in dead.stderr and len(dead.stderr.strip().splitlines()) <= 2, dead.stderr
