"""The in-process floor: the same queries through the store, plus JSON serialisation, no HTTP.

Run as a child process (``python bench/floor.py SPEC.json``), so that the benchmark's own
process never imports ``layers``: it opens the dataset through ``GeoPackageStore`` or
``PostGISStore`` exactly as a server worker does, runs each workload's seeded queries
(``query``/``get``/``nearest`` + orjson, reprojection for W9), and prints JSON: CPU ms per
query (mean, the servers' CPU ms/req being a mean too), plus, with ``count_cost``, what
``numberMatched`` costs: the same queries with and without the count.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

# This file's folder (bench/) holds modules with common names (common, datasets…): keep them out
# of the way of the libraries the store imports.
_HERE = str(Path(__file__).resolve().parent)
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != Path(_HERE)]


def tree_cpu_seconds(root: int | None) -> float:
    """CPU (user + system) of ``root`` and its children, e.g. the PostgreSQL backends' (their
    work for this process's queries is part of the floor's cost, as it is of a server's)."""
    if root is None:
        return 0.0
    total = 0
    pids = [root]
    try:
        for task in Path(f"/proc/{root}/task").iterdir():
            pids += [int(p) for p in (task / "children").read_text().split()]
    except OSError:
        return 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            continue
    return total / os.sysconf("SC_CLK_TCK")


def open_store(spec: dict[str, Any]):
    if spec["store"] == "pg":
        from layers.store.postgis import PostGISStore

        return PostGISStore(spec["url"])
    from layers.store import GeoPackageStore

    return GeoPackageStore(Path(spec["data"]))


def make_runner(store: Any, layer: str):
    import numpy as np
    import orjson
    import pyproj
    import shapely

    from layers.store.base import Comparison

    transformers: dict[str, Any] = {}

    def reproject(result, crs: str):
        transformer = transformers.get(crs)
        if transformer is None:
            target = "EPSG:" + crs.rsplit("/", 1)[-1]  # …/def/crs/EPSG/0/2154 → EPSG:2154
            transformer = transformers[crs] = pyproj.Transformer.from_crs("OGC:CRS84", target, always_xy=True)

        def transform(coordinates: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(coordinates[:, 0], coordinates[:, 1])
            return np.column_stack([x, y])

        return result.with_geometries(shapely.transform(result.geometries, transform))

    def once(query: dict[str, Any], count: bool = True) -> bytes:
        if "id" in query:
            return orjson.dumps(store.get(layer, query["id"]))
        if "near" in query:
            lon, lat = query["near"]
            features = [{**n.feature, "distance": round(float(n.distance), 2)}
                        for n in store.nearest(layer, lon, lat, k=1)]
            return orjson.dumps({"type": "FeatureCollection", "features": features, "numberReturned": len(features)})
        where = Comparison(query["eq"][0], "=", query["eq"][1]) if "eq" in query else None
        result = store.query(layer, bbox=query.get("bbox"), limit=query["limit"], offset=query.get("offset", 0),
                             where=where, count=count)
        if "crs" in query:
            result = reproject(result, query["crs"])
        features = result.features
        return orjson.dumps({"type": "FeatureCollection", "features": features,
                             "numberMatched": result.number_matched, "numberReturned": len(features)})

    return once


def measure(once, workloads: dict[str, list[dict[str, Any]]], budget_s: float, max_iterations: int,
            db_root: int | None) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, queries in workloads.items():
        for query in queries[:3]:  # warm-up: files and connections opened, first pages cached
            once(query)
        db_start = tree_cpu_seconds(db_root)
        cpus: list[float] = []
        walls: list[float] = []
        budget_end = time.perf_counter() + budget_s
        i = 0
        # The whole seeded list once at least (the servers' CPU ms/req averages over it), then
        # more within the time budget; never more than max_iterations.
        while i < max_iterations and (i < len(queries) or time.perf_counter() < budget_end):
            query = queries[i % len(queries)]
            t0, c0 = time.perf_counter(), time.process_time()
            once(query)
            cpus.append(time.process_time() - c0)
            walls.append(time.perf_counter() - t0)
            i += 1
        db_ms = (tree_cpu_seconds(db_root) - db_start) * 1000 / len(cpus) if db_root else float("nan")
        cpus.sort()
        walls.sort()
        out[key] = {"n": len(cpus), "mean_ms": sum(cpus) / len(cpus) * 1000, "median_ms": cpus[len(cpus) // 2] * 1000,
                    "wall_mean_ms": sum(walls) / len(walls) * 1000, "db_mean_ms": db_ms}
    return out


def count_cost(fresh, kinds: dict[str, list[dict[str, Any]]], per_kind: int) -> dict[str, Any]:
    """Wall time of a page with and without numberMatched (medians: one query's count is small
    beside the noise of a shared machine). The stores cache counts per store: every measured
    query gets a store of its own (``fresh()`` → (runner, store)), opened by an untimed page
    without count; the distinct queries of each kind, the unfiltered one ten times."""
    out: dict[str, Any] = {}
    for kind, queries in kinds.items():
        distinct = list({json.dumps(q, sort_keys=True): q for q in queries}.values())
        unfiltered = all("bbox" not in q and "eq" not in q for q in distinct)
        plan = [distinct[0]] * 10 if unfiltered else distinct[:per_kind]
        with_count: list[float] = []
        without: list[float] = []
        for query in plan:
            run, store = fresh()
            try:
                for _ in range(3):  # opens the store and its connection; the page's rows cached; no count computed
                    run(query, count=False)
                t0 = time.perf_counter()
                run(query, count=False)
                t1 = time.perf_counter()
                run(query, count=True)  # the first count of this query by this store
                t2 = time.perf_counter()
            finally:
                close = getattr(store, "close", None)
                if close is not None:
                    close()
            without.append(t1 - t0)
            with_count.append(t2 - t1)
        if with_count:
            diffs = sorted(w - o for w, o in zip(with_count, without))
            with_count.sort()
            without.sort()
            half = len(diffs) // 2
            out[kind] = {"n": len(diffs), "with_ms": with_count[half] * 1000, "without_ms": without[half] * 1000,
                         "cost_ms": diffs[half] * 1000, "median": True}
    return out


def _fresh(spec: dict[str, Any]):
    store = open_store(spec)
    return make_runner(store, spec["layer"]), store


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text(encoding="utf-8"))
    store = open_store(spec)
    once = make_runner(store, spec["layer"])
    out: dict[str, Any] = {"sqlite": sqlite3.sqlite_version}
    try:
        import pyogrio

        out["gdal"] = pyogrio.__gdal_version_string__
    except ImportError:
        out["gdal"] = "?"
    out["floor"] = measure(once, spec["workloads"], spec["budget_s"], spec["max_iterations"], spec.get("db_root"))
    if spec.get("count_kinds"):
        out["count_cost"] = count_cost(lambda: _fresh(spec), spec["count_kinds"], spec.get("count_per_kind", 30))
    if spec["store"] == "pg":  # versions for the report, on a connection of our own
        import psycopg

        with psycopg.connect(spec["url"].split("?", 1)[0]) as conn:
            out["postgresql"] = conn.execute("SHOW server_version").fetchone()[0]
            out["postgis"] = conn.execute("SELECT postgis_full_version()").fetchone()[0]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1]))
