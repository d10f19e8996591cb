"""The benchmark's data: generated files, published once into both stores, and their facts.

A ``Dataset`` is one layer at one size and seed: DAE points (``generate.py``, Géo'DAE CSV) or
cycle paths (``generate_cycle.py``, GeoPackage in the national schema's shape). Each is
generated once into ``bench/out/`` (name keyed by size and seed), then published with
``geocommune ingest``:

* into a GeoPackage data folder (``bench/out/server-data-N`` for DAE, seed 42, the folder the
  older benchmark used; ``bench/out/cycle-data-N-seedS`` otherwise);
* into the throw-away PostGIS cluster of ``bench/out/pg``, one schema per dataset
  (``bench_dae_100000_s42``…), with ``GEOCOMMUNE_STORE=postgresql://…?schema=…``.

Both are reused while the generated file and the publishing code (``layers/``'s last commit) are
unchanged (publication is atomic: present = whole).
The facts the seeded workloads need (ids, positions, property values) are read from the
GeoPackage with the stdlib: the same rows are in PostGIS.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from common import BENCH_DIR, geocommune_command, size_label

LAYERS = {"dae": "defibrillateurs", "cycle": "amenagements-cyclables"}
# The property W6 filters on: a commune, as a resident would ask ("the DAE of Lyon").
FILTER_FIELD = {"dae": "com_nom", "cycle": "code_com_d"}


@dataclass(frozen=True)
class Dataset:
    kind: str  # "dae" | "cycle"
    size: int
    seed: int

    @property
    def layer(self) -> str:
        return LAYERS[self.kind]

    @property
    def label(self) -> str:
        return f"{'DAE' if self.kind == 'dae' else 'aménagements cyclables'} {size_label(self.size)}"

    @property
    def key(self) -> str:
        return f"{self.kind}-{self.size}-s{self.seed}"

    @property
    def schema(self) -> str:
        return f"bench_{self.kind}_{self.size}_s{self.seed}"

    @property
    def table(self) -> str:
        return self.layer  # ours: the table is named like the layer

    @property
    def filter_field(self) -> str:
        return FILTER_FIELD[self.kind]


@dataclass
class LayerFacts:
    count: int
    ids: list[str]
    points: list[tuple[float, float]]
    values: list[str]  # distinct values of the W6 filter field
    extent: list[float]


# -- generated files ---------------------------------------------------------------------------


def ensure_source(ds: Dataset, work: Path) -> Path:
    if ds.kind == "dae":
        source, script = work / f"geodae-{ds.size}-seed{ds.seed}.csv", "generate.py"
    else:
        source, script = work / f"cycle-{ds.size}-seed{ds.seed}.gpkg", "generate_cycle.py"
    if source.is_file():
        return source
    start = time.perf_counter()
    subprocess.run([sys.executable, str(BENCH_DIR / script), "--rows", str(ds.size), "--seed", str(ds.seed),
                    "--out", str(source)], check=True, stdout=subprocess.DEVNULL)
    print(f"Fichier généré : {source} en {time.perf_counter() - start:.1f} s", flush=True)
    return source


def _ingest(ds: Dataset, data: Path, source: Path, env: dict[str, str], log: Path) -> None:
    data.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.run([*geocommune_command(), "--data", str(data), "ingest", ds.layer, str(source.resolve())],
                              stdout=out, stderr=subprocess.STDOUT, cwd=data, env={**os.environ, **env})
    if proc.returncode != 0:
        sys.exit(f"échec de geocommune ingest {ds.layer} (code {proc.returncode}), journal : {log}")
    print(f"Ingestion {ds.label} ({'PostGIS' if env else 'GeoPackage'}) en {time.perf_counter() - start:.1f} s",
          flush=True)


def publication_stamp(source: Path) -> str:
    """What a cached publication depends on: the generated file and the code that publishes it
    (the last commit touching ``layers/``, which writes both stores: a new write order or layout
    must be measured, not an old table)."""
    try:
        code = subprocess.run(["git", "log", "-1", "--format=%h", "--", "layers"], capture_output=True, text=True,
                              cwd=BENCH_DIR.parent, timeout=30).stdout.strip() or "?"
    except (OSError, subprocess.SubprocessError):
        code = "?"
    return f"{source.name} {int(source.stat().st_mtime)} layers@{code}"


def ensure_gpkg(ds: Dataset, work: Path, source: Path) -> Path:
    """The GeoPackage data folder holding the published layer."""
    if ds.kind == "dae":
        data = work / (f"server-data-{ds.size}" if ds.seed == 42 else f"server-data-{ds.size}-seed{ds.seed}")
    else:
        data = work / f"cycle-data-{ds.size}-seed{ds.seed}"
    gpkg = data / f"{ds.layer}.gpkg"
    marker = data / "published-by.txt"
    stamp = publication_stamp(source)
    if not (gpkg.is_file() and marker.is_file() and marker.read_text(encoding="utf-8") == stamp):
        _ingest(ds, data, source, {}, data / "ingest.log")
        marker.write_text(stamp, encoding="utf-8")
    if not gpkg.is_file():
        sys.exit(f"couche non publiée : {gpkg}")
    return data


def store_url(cluster_url: str, ds: Dataset) -> str:
    return f"{cluster_url}?schema={ds.schema}"


def ensure_postgis(ds: Dataset, work: Path, source: Path, cluster_url: str) -> str:
    """Publish into the dataset's schema unless it already holds this file's layer; its store URL."""
    import psycopg

    url = store_url(cluster_url, ds)
    stamp = publication_stamp(source)
    marker_dir = work / "pg-published"
    marker = marker_dir / f"{ds.schema}.txt"
    published = False
    if marker.is_file() and marker.read_text(encoding="utf-8") == stamp:
        with psycopg.connect(cluster_url, autocommit=True) as conn:
            row = conn.execute("SELECT to_regclass(%s)", [f'{ds.schema}."{ds.table}"']).fetchone()
            published = row is not None and row[0] is not None
    if not published:
        data = work / "pg-ingest" / ds.key
        _ingest(ds, data, source, {"GEOCOMMUNE_STORE": url}, data / "ingest.log")
        with psycopg.connect(cluster_url, autocommit=True) as conn:
            conn.execute(f'ANALYZE {ds.schema}."{ds.table}"')  # fresh statistics for every server alike
        marker_dir.mkdir(parents=True, exist_ok=True)
        marker.write_text(stamp, encoding="utf-8")
    return url


# -- facts ---------------------------------------------------------------------------------------


def layer_facts(ds: Dataset, gpkg: Path, samples: int) -> LayerFacts:
    """What the seeded workloads need, read with the stdlib from the published GeoPackage."""
    rng = random.Random(ds.seed)
    layer = ds.layer
    connection = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    try:
        count, high = connection.execute(f'SELECT count(*), max(fid) FROM "{layer}"').fetchone()
        fids = [rng.randint(1, high) for _ in range(samples * 2)]
        marks = ",".join("?" * len(fids))
        ids = [row[0] for row in connection.execute(f'SELECT id FROM "{layer}" WHERE fid IN ({marks})', fids)]
        found = dict(connection.execute(
            f'SELECT id, minx || "," || miny FROM "rtree_{layer}_geom" WHERE id IN ({marks})', fids).fetchall())
        points = [tuple(float(v) for v in found[fid].split(",")) for fid in fids if fid in found]
        field = ds.filter_field
        values = sorted(row[0] for row in connection.execute(
            f'SELECT DISTINCT "{field}" FROM "{layer}" WHERE "{field}" IS NOT NULL'))
        meta = json.loads(connection.execute("SELECT metadata FROM geocommune_metadata").fetchone()[0])
    finally:
        connection.close()
    rng.shuffle(ids)
    extent = meta.get("extent") or [-180, -90, 180, 90]
    return LayerFacts(int(count), ids[:samples], points[:samples], values, list(extent))  # type: ignore[arg-type]


# -- the GeoJSON file of the stock pygeoapi anchor --------------------------------------------------


def ensure_geojson(ds: Dataset, data: Path) -> tuple[Path, Path]:
    """The published layer as GeoJSON (+ a 10-feature sample, for the anchor's OpenAPI document)."""
    folder = data / "anchor"
    full, sample = folder / f"{ds.layer}.geojson", folder / f"{ds.layer}-sample.geojson"
    gpkg = data / f"{ds.layer}.gpkg"
    if full.is_file() and sample.is_file() and full.stat().st_mtime >= gpkg.stat().st_mtime:
        return full, sample
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(Path(__file__).resolve()), str(gpkg), ds.layer, str(full), str(sample)],
                   check=True)
    print(f"Export GeoJSON : {full} ({full.stat().st_size / 2**20:.0f} Mio) en {time.perf_counter() - start:.1f} s",
          flush=True)
    return full, sample


def export_geojson(gpkg: Path, layer: str, full: Path, sample: Path) -> None:
    """Child process: GeoPackage layer → GeoJSON (RFC 7946: lon/lat, 7 decimals, ``id`` as feature id)."""
    import pyogrio

    frame = pyogrio.read_dataframe(gpkg, layer=layer, use_arrow=True)
    options = {"RFC7946": "YES", "ID_FIELD": "id"}
    for target, part in ((sample, frame.head(10)), (full, frame)):
        partial = target.with_name(target.name + ".part")
        partial.unlink(missing_ok=True)
        pyogrio.write_dataframe(part, partial, driver="GeoJSON", layer=layer, layer_options=options)
        partial.replace(target)


if __name__ == "__main__":  # the export runs in a child process: pyogrio's memory is given back
    export_geojson(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
