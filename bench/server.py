"""Server benchmark: geocommune's API against stock pygeoapi, and against the in-process floor.

On the same data, with the same number of gunicorn workers, in one run:

1. generate (or reuse) the Géo'DAE-like CSV of ``bench/generate.py`` and ingest it once
   into ``bench/out/server-data-<rows>/`` (``geocommune --data DIR ingest defibrillateurs``);
   both are reused when present;
2. **ours**: ``geocommune --data DIR serve --no-demo --port P --workers W``;
3. **the anchor**: stock pygeoapi 0.24 with its own GeoJSON provider, on the published
   layer exported to GeoJSON with pyogrio, under ``gunicorn pygeoapi.flask_app:APP`` with
   the same worker count. That provider reads and parses the whole file on every request:
   it is the cost of serving the layer without an index, which is what the ratio measures;
4. **the floor**: the same queries through ``GeoPackageStore.query`` / ``get`` plus the
   JSON serialisation, in one process, without HTTP (child process, see ``--floor``);
5. for each workload (seeded URL lists), a bounded closed-loop load (``bench/load.py``):
   requests/s, p50/p99 latency, errors, the server tree's peak memory;
6. a Markdown table (``bench/RESULTS-server.md``, overwritten) with ratios — compare
   ratios, not absolute times, from one machine to another.

    .venv/bin/python bench/server.py [--rows 1000000] [--duration 10] [--connections 8] [--workers 2]

Benchmark script, never a test: it only listens on and talks to 127.0.0.1, and every
load is bounded in time and in number of requests. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import random
import shlex
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
if str(BENCH_DIR) not in sys.path:  # bench/load.py; appended, so that the ``server`` package still wins
    sys.path.append(str(BENCH_DIR))

LAYER = "defibrillateurs"
HOST = "127.0.0.1"
CRS_2154 = "http://www.opengis.net/def/crs/EPSG/0/2154"
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
URLS_PER_WORKLOAD = 256
KM_LAT = 1 / 111.32  # degrees of latitude per km


# -- workloads -----------------------------------------------------------------------------


@dataclass
class Workload:
    key: str
    title: str
    queries: list[dict[str, Any]]  # store-neutral: limit, offset, bbox, id, eq (name, value), crs

    def path(self, query: dict[str, Any]) -> str:
        base = f"/collections/{LAYER}/items"
        if "id" in query:
            return f"{base}/{quote(str(query['id']), safe='')}"
        params: list[tuple[str, str]] = []
        if "bbox" in query:
            params.append(("bbox", ",".join(f"{v:.6f}" for v in query["bbox"])))
        if "eq" in query:
            name, value = query["eq"]
            params.append(("filter", f"{name}='{str(value).replace(chr(39), chr(39) * 2)}'"))
        if "crs" in query:
            params.append(("crs", query["crs"]))
        if query.get("offset"):
            params.append(("offset", str(query["offset"])))
        params.append(("limit", str(query["limit"])))
        return f"{base}?{urlencode(params, quote_via=quote, safe=':/,')}"


@dataclass
class LayerFacts:
    count: int
    ids: list[str]
    points: list[tuple[float, float]]
    communes: list[str]


def layer_facts(gpkg: Path, seed: int, samples: int = URLS_PER_WORKLOAD) -> LayerFacts:
    """What the seeded workloads need, read with the stdlib (no geocommune import here)."""
    rng = random.Random(seed)
    connection = sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True)
    try:
        count, high = connection.execute(f'SELECT count(*), max(fid) FROM "{LAYER}"').fetchone()
        fids = [rng.randint(1, high) for _ in range(samples * 2)]
        marks = ",".join("?" * len(fids))
        ids = [row[0] for row in connection.execute(f'SELECT id FROM "{LAYER}" WHERE fid IN ({marks})', fids)]
        found = dict(connection.execute(
            f'SELECT id, minx || "," || miny FROM "rtree_{LAYER}_geom" WHERE id IN ({marks})', fids).fetchall())
        points = [tuple(float(v) for v in found[fid].split(",")) for fid in fids if fid in found]
        communes = sorted(row[0] for row in connection.execute(
            f'SELECT DISTINCT com_nom FROM "{LAYER}" WHERE com_nom IS NOT NULL'))
    finally:
        connection.close()
    rng.shuffle(ids)
    return LayerFacts(int(count), ids[:samples], points[:samples], communes)  # type: ignore[arg-type]


def _box(point: tuple[float, float], size_km: float) -> list[float]:
    lon, lat = point
    half_lat = size_km / 2 * KM_LAT
    half_lon = half_lat / max(math.cos(math.radians(lat)), 0.1)
    return [lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat]


def build_workloads(facts: LayerFacts, seed: int) -> list[Workload]:
    rng = random.Random(seed + 1)
    n = URLS_PER_WORKLOAD
    deepest = max(0, min(500_000, facts.count - 100))
    communes = [rng.choice(facts.communes) for _ in range(n)] if facts.communes else ["Paris"]
    return [
        Workload("W1", "première page (`limit=10`)", [{"limit": 10}]),
        Workload("W2", "bbox de ville ≈ 2 km, `limit=100`",
                 [{"bbox": _box(p, 2), "limit": 100} for p in facts.points]),
        Workload("W3", "bbox de département ≈ 50 km, `limit=1000`",
                 [{"bbox": _box(p, 50), "limit": 1000} for p in facts.points]),
        Workload("W4", "une entité par identifiant (`/items/{id}`)", [{"id": i} for i in facts.ids]),
        Workload("W5", f"page profonde (`offset` ≤ {_int(deepest)}, `limit=100`)",
                 [{"offset": rng.randint(0, deepest), "limit": 100} for _ in range(n)]),
        Workload("W6", "filtre CQL2 `com_nom='…'`, `limit=100`",
                 [{"eq": ("com_nom", c), "limit": 100} for c in communes]),
        Workload("W9", "sortie en Lambert-93 (`crs=…/EPSG/0/2154`), `limit=100`",
                 [{"crs": CRS_2154, "limit": 100}]),
    ]


# -- files ---------------------------------------------------------------------------------


def ensure_csv(work: Path, rows: int, seed: int) -> Path:
    source = work / f"geodae-{rows}-seed{seed}.csv"
    if source.is_file():
        print(f"Fichier réutilisé : {source}")
        return source
    start = time.perf_counter()
    subprocess.run([sys.executable, str(BENCH_DIR / "generate.py"), "--rows", str(rows), "--seed", str(seed),
                    "--out", str(source)], check=True, stdout=subprocess.DEVNULL)
    print(f"Fichier généré : {source} en {time.perf_counter() - start:.1f} s")
    return source


def geocommune_command() -> list[str]:
    candidate = Path(sys.executable).parent / "geocommune"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return [str(candidate)]
    return [sys.executable, "-m", "server.cli"]


def ensure_data(work: Path, rows: int, seed: int, source: Path) -> Path:
    """Ingest once; a published GeoPackage is reused (publication is atomic: present = complete)."""
    data = work / (f"server-data-{rows}" if seed == 42 else f"server-data-{rows}-seed{seed}")
    gpkg = data / f"{LAYER}.gpkg"
    if gpkg.is_file() and gpkg.stat().st_mtime >= source.stat().st_mtime:
        print(f"Couche publiée réutilisée : {gpkg}")
        return data
    data.mkdir(parents=True, exist_ok=True)
    log = data / "ingest.log"
    start = time.perf_counter()
    with log.open("wb") as out:
        proc = subprocess.run([*geocommune_command(), "--data", str(data), "ingest", LAYER, str(source.resolve())],
                              stdout=out, stderr=subprocess.STDOUT, cwd=data)
    if proc.returncode != 0 or not gpkg.is_file():
        sys.exit(f"échec de geocommune ingest (code {proc.returncode}), journal : {log}")
    print(f"Ingestion : {gpkg} en {time.perf_counter() - start:.1f} s")
    return data


def ensure_geojson(data: Path) -> tuple[Path, Path]:
    """The published layer as GeoJSON for the anchor (+ a 10-feature sample for its OpenAPI)."""
    folder = data / "anchor"
    full, sample = folder / f"{LAYER}.geojson", folder / f"{LAYER}-sample.geojson"
    gpkg = data / f"{LAYER}.gpkg"
    if full.is_file() and sample.is_file() and full.stat().st_mtime >= gpkg.stat().st_mtime:
        print(f"GeoJSON réutilisé : {full} ({full.stat().st_size / 2**20:.0f} Mio)")
        return full, sample
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, str(Path(__file__).resolve()), "--export-geojson", str(gpkg), str(full),
                    str(sample)], check=True)
    print(f"Export GeoJSON (pyogrio) : {full} ({full.stat().st_size / 2**20:.0f} Mio) "
          f"en {time.perf_counter() - start:.1f} s")
    return full, sample


def export_geojson(gpkg: Path, full: Path, sample: Path) -> None:
    """Child process: GeoPackage layer → GeoJSON (RFC 7946: lon/lat, 7 decimals, ``id`` as feature id)."""
    import pyogrio

    frame = pyogrio.read_dataframe(gpkg, layer=LAYER, use_arrow=True)
    options = {"RFC7946": "YES", "ID_FIELD": "id"}
    for target, part in ((sample, frame.head(10)), (full, frame)):
        partial = target.with_name(target.name + ".part")
        partial.unlink(missing_ok=True)
        pyogrio.write_dataframe(part, partial, driver="GeoJSON", layer=LAYER, layer_options=options)
        partial.replace(target)


def anchor_config(geojson: Path, port: int, extent: list[float]) -> dict[str, Any]:
    """A minimal pygeoapi configuration: one collection, pygeoapi's own GeoJSON provider."""
    return {
        "server": {
            "bind": {"host": HOST, "port": port},
            "url": f"http://{HOST}:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "gzip": False,
            "languages": ["fr"],
            "cors": False,
            "pretty_print": False,
            "limits": {"default_items": 10, "max_items": 10_000},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OpenStreetMap"},
            "admin": False,
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {"title": "Banc pygeoapi", "description": "Ancre du banc de geocommune",
                               "keywords": ["bench"], "keywords_type": "theme", "terms_of_service": "",
                               "url": "http://127.0.0.1/"},
            "license": {"name": "Licence Ouverte 2.0", "url": "https://www.etalab.gouv.fr/licence-ouverte-open-licence"},
            "provider": {"name": "geocommune bench", "url": "http://127.0.0.1/"},
            "contact": {"name": "geocommune bench", "role": "pointOfContact"},
        },
        "resources": {
            LAYER: {
                "type": "collection",
                "title": "Défibrillateurs",
                "description": "Couche publiée par geocommune, exportée en GeoJSON",
                "keywords": ["DAE"],
                "links": [],
                "extents": {"spatial": {"bbox": extent, "crs": CRS84}},
                "providers": [{
                    "type": "feature",
                    "name": "GeoJSON",
                    "data": str(geojson),
                    "id_field": "id",
                    "crs": [CRS84, CRS_2154],
                    "storage_crs": CRS84,
                }],
            }
        },
    }


# -- servers ---------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def http_get(url: str, timeout: float, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers or {}), exc.read()


@dataclass
class Server:
    name: str
    base: str
    proc: subprocess.Popen
    log: Path

    def stop(self, grace: float = 15.0) -> None:
        """SIGTERM to the gunicorn master (graceful), then SIGKILL to its process group."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: the master and its workers only
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait(timeout=10)


def start_server(name: str, cmd: list[str], *, port: int, log: Path, cwd: Path, env: dict[str, str],
                 startup_timeout: float, headers: dict[str, str]) -> Server:
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("wb") as out:  # a file, never a pipe: a full pipe would block the server
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env={**os.environ, **env},
                                start_new_session=True)
    server = Server(name, f"http://{HOST}:{port}", proc, log)
    deadline = time.monotonic() + startup_timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            status, _, _ = http_get(f"{server.base}/conformance", 5, headers)
            if status == 200:
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    tail = "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:])
    raise RuntimeError(f"{name} n'a pas démarré en {startup_timeout:.0f} s (journal {log}) :\n{tail}")


def tree_cpu_seconds(root: int) -> float:
    from load import process_tree

    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in process_tree(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, IndexError, ValueError):
            continue
    return total / ticks


def wait_idle(server: Server, limit: float) -> float:
    """Wait (at most ``limit`` s) until the server tree stops burning CPU: requests the client
    gave up on are still being computed by sync workers and would weigh on the next workload."""
    start = time.monotonic()
    last = tree_cpu_seconds(server.proc.pid)
    while time.monotonic() - start < limit:
        time.sleep(0.5)
        now = tree_cpu_seconds(server.proc.pid)
        if now - last < 0.05:
            break
        last = now
    return time.monotonic() - start


# -- measuring ---------------------------------------------------------------------------------


@dataclass
class Measured:
    load: Any = None  # load.LoadResult
    note: str = ""  # replaces the figures when the workload was not measured
    probe: str = ""
    answer: tuple[Any, ...] | None = None  # (numberMatched, features returned, first id) of the first URL
    server_cpu_ms: float = math.nan  # CPU (user + system) of the server tree per answered request
    client_cpu_ms: float = math.nan  # CPU of this load-driving process per request sent

    @property
    def answer_text(self) -> str:
        if self.answer is None:
            return "—"
        matched, returned, first = self.answer
        return f"{'?' if matched is None else matched} / {returned} / {first or '—'}"


def summarise(body: bytes | None) -> tuple[Any, ...] | None:
    """What an answer says, to check that both servers answered the same question alike."""
    if not body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if document.get("type") == "Feature":
        return (None, 1, document.get("id"))
    features = document.get("features") or []
    return (document.get("numberMatched"), len(features), features[0].get("id") if features else None)


def probe(server: Server, workload: Workload, timeout: float, headers: dict[str, str]) -> tuple[str, bool]:
    """One request: does the server honour the workload (filter, CRS)? → (remark, supported)."""
    query = workload.queries[0]
    try:
        status, response_headers, body = http_get(server.base + workload.path(query), timeout, headers)
    except OSError as exc:
        return f"sonde : {type(exc).__name__}", True
    if status != 200:
        return f"sonde : HTTP {status}", status not in (400, 501)
    try:
        document = json.loads(body)
    except ValueError:
        return "sonde : réponse non JSON", True
    features = document.get("features", [document] if document.get("type") == "Feature" else [])
    if "eq" in query:
        name, value = query["eq"]
        if any((f.get("properties") or {}).get(name) != value for f in features):
            return "ignoré (renvoie tout)", False
    if "crs" in query:
        crs_header = {k.lower(): v for k, v in response_headers.items()}.get("content-crs", "")
        coords = [f["geometry"]["coordinates"] for f in features if f.get("geometry")]
        if coords and abs(coords[0][0]) < 1000:  # still degrees: not reprojected
            return f"ignoré (degrés ; Content-Crs {crs_header or 'absent'})", False
    return f"sonde : {len(features)} entité(s)", True


def measure_server(server: Server, workloads: list[Workload], args: argparse.Namespace, *, anchor: bool,
                   headers: dict[str, str], load_during: list[float]) -> dict[str, Measured]:
    from load import run_load

    timeout = args.anchor_timeout if anchor else args.request_timeout
    max_requests = args.anchor_max_requests if anchor else args.max_requests
    results: dict[str, Measured] = {}
    # Warm-up, a couple of requests per worker. Ours: first pages (SQLite files opened, metadata
    # read). The anchor has nothing to open ahead (its provider rereads the file on every
    # request, and the file is in the page cache since the export): /conformance, for the imports.
    warm = [server.base + ("/conformance" if anchor else workloads[0].path(workloads[0].queries[0]))]
    run_load(warm, duration=timeout, connections=args.workers, max_requests=2 * args.workers, timeout=timeout,
             headers=headers)
    wait_idle(server, timeout)
    for workload in workloads:
        measured = Measured()
        results[workload.key] = measured
        if anchor and workload.key not in args.anchor_only:
            measured.note = "non mesuré (`--anchor-workloads`)"
            continue
        if anchor and any(k in workload.queries[0] for k in ("eq", "crs")):
            measured.probe, supported = probe(server, workload, timeout, headers)
            if not supported:
                measured.note = measured.probe
                print(f"  {server.name} {workload.key} : {measured.note}", flush=True)
                wait_idle(server, timeout)
                continue
        urls = [server.base + workload.path(q) for q in workload.queries]
        print(f"  {server.name} {workload.key} ({workload.title}) : {args.duration:g} s…", end=" ", flush=True)
        server_cpu, client_cpu = tree_cpu_seconds(server.proc.pid), time.process_time()
        measured.load = run_load(urls, duration=args.duration, connections=args.connections,
                                 max_requests=max_requests, timeout=timeout, headers=headers,
                                 server_pids=[server.proc.pid], rss_limit_mib=args.max_rss_gib * 1024)
        client_cpu = time.process_time() - client_cpu
        r = measured.load
        measured.answer = summarise(r.first_body)
        load_during.append(os.getloadavg()[0])
        if r.stopped_by == "mémoire":
            measured.note = f"arrêté : RSS > {args.max_rss_gib:g} Gio"
            print(measured.note, flush=True)
            break
        if server.proc.poll() is not None:
            measured.note = "le serveur s'est arrêté"
            print(measured.note, flush=True)
            break
        # After wait_idle: the CPU spent on every request of this workload, late ones included.
        wait_idle(server, timeout)
        if r.ok:
            measured.server_cpu_ms = (tree_cpu_seconds(server.proc.pid) - server_cpu) * 1000 / r.ok
        if r.sent:
            measured.client_cpu_ms = client_cpu * 1000 / r.sent
        print(f"{r.req_per_s:.1f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, {r.errors} erreur(s), "
              f"CPU {measured.server_cpu_ms:.2f} ms/req, RSS {r.peak_rss_mib:.0f} Mio", flush=True)
    return results


# -- the floor ---------------------------------------------------------------------------------


def run_floor(spec_path: Path) -> None:
    """Child process: each workload's queries through the store, no HTTP; prints JSON."""
    import numpy as np
    import orjson
    import pyogrio
    import pyproj
    import shapely

    from layers.store import GeoPackageStore
    from layers.store.base import Comparison

    spec = json.loads(spec_path.read_text(encoding="utf-8"))
    store = GeoPackageStore(Path(spec["data"]))
    transformers: dict[str, pyproj.Transformer] = {}

    def reproject(result, crs: str):
        transformer = transformers.get(crs)
        if transformer is None:
            target = "EPSG:" + crs.rsplit("/", 1)[-1]  # …/def/crs/EPSG/0/2154 → EPSG:2154
            transformer = transformers[crs] = pyproj.Transformer.from_crs("OGC:CRS84", target, always_xy=True)

        def transform(coordinates: np.ndarray) -> np.ndarray:
            x, y = transformer.transform(coordinates[:, 0], coordinates[:, 1])
            return np.column_stack([x, y])

        return result.with_geometries(shapely.transform(result.geometries, transform))

    def once(query: dict[str, Any]) -> bytes:
        if "id" in query:
            return orjson.dumps(store.get(LAYER, query["id"]))
        where = Comparison(query["eq"][0], "=", query["eq"][1]) if "eq" in query else None
        result = store.query(LAYER, bbox=query.get("bbox"), limit=query["limit"], offset=query.get("offset", 0),
                             where=where)
        if "crs" in query:
            result = reproject(result, query["crs"])
        features = result.features
        return orjson.dumps({"type": "FeatureCollection", "features": features,
                             "numberMatched": result.number_matched, "numberReturned": len(features)})

    out: dict[str, Any] = {"gdal": pyogrio.__gdal_version_string__, "sqlite": sqlite3.sqlite_version, "floor": {}}
    for key, queries in spec["workloads"].items():
        for query in queries[:3]:  # warm-up: file opened, first pages in the page cache
            once(query)
        walls: list[float] = []
        cpus: list[float] = []
        budget_end = time.perf_counter() + spec["budget_s"]
        i = 0
        # The whole seeded list once at least (its mean is what the servers' CPU ms/req averages
        # over), then more within the time budget; never more than max_iterations.
        while i < spec["max_iterations"] and (i < len(queries) or time.perf_counter() < budget_end):
            query = queries[i % len(queries)]
            t0, c0 = time.perf_counter(), time.process_time()
            once(query)
            cpus.append(time.process_time() - c0)
            walls.append(time.perf_counter() - t0)
            i += 1
        walls.sort()
        cpus.sort()
        # CPU time, averaged (like the servers' CPU ms/req: total CPU / requests); the median hides
        # the long scans of a skewed workload (W6: a rare commune is found far down the table).
        out["floor"][key] = {"n": len(cpus), "mean_ms": sum(cpus) / len(cpus) * 1000,
                             "median_ms": cpus[len(cpus) // 2] * 1000, "wall_median_ms": walls[len(walls) // 2] * 1000}
    print(json.dumps(out))


def measure_floor(data: Path, workloads: list[Workload], budget_s: float, run_dir: Path) -> dict[str, Any]:
    spec = {"data": str(data), "budget_s": budget_s, "max_iterations": 2000,
            "workloads": {w.key: [{k: (list(v) if isinstance(v, tuple) else v) for k, v in q.items()}
                                  for q in w.queries] for w in workloads}}
    spec_path = run_dir / "floor.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(Path(__file__).resolve()), "--floor", str(spec_path)],
                          capture_output=True, text=True, cwd=run_dir, timeout=max(600, 20 * budget_s * len(workloads)))
    if proc.returncode != 0:
        raise RuntimeError(f"plancher en processus : échec\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


# -- report ---------------------------------------------------------------------------------------


def git_state() -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=REPO,
                              check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, cwd=REPO, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"
    return f"commit {head}" + (" + modifications non validées" if dirty else "")


def package_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "?"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _num(value: float, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:,.{digits}f}".replace(",", " ")


def _int(value: int) -> str:
    return f"{value:,}".replace(",", " ")


def _ratio(value: float) -> str:
    if value is None or math.isnan(value) or math.isinf(value):
        return "—"
    return f"{value:,.0f}×".replace(",", " ") if value >= 100 else f"{value:.2f}×" if value < 10 else f"{value:.1f}×"


@dataclass
class Row:
    key: str
    ours_rps: float = math.nan
    anchor_rps: float = math.nan
    ratio: float = math.nan
    ratio_text: str = "—"
    floor_ms: float = math.nan
    cpu_ms: float = math.nan
    vs_floor: float = math.nan
    cells: list[str] = field(default_factory=list)


def build_rows(workloads: list[Workload], ours: dict[str, Measured], anchor: dict[str, Measured] | None,
               floor: dict[str, Any]) -> list[Row]:
    rows = []
    for w in workloads:
        row = Row(w.key)
        o = ours.get(w.key, Measured())
        a = anchor.get(w.key, Measured()) if anchor is not None else None
        if o.load is not None and o.load.ok:
            row.ours_rps = o.load.req_per_s
            row.cpu_ms = o.server_cpu_ms
        f = floor.get(w.key)
        if f:
            row.floor_ms = f["mean_ms"]
            row.vs_floor = row.cpu_ms / row.floor_ms if row.floor_ms > 0 else math.nan
        if a is None:
            anchor_cell = "non mesuré (`--no-anchor`)"
        elif a.note:
            anchor_cell = a.note + (f" ({a.load.ok} rép. en {a.load.elapsed_s:.0f} s)" if a.load is not None else "")
        elif a.load is None:
            anchor_cell = "non mesuré"
        elif a.load.ok == 0:
            anchor_cell = f"0 réponse en {a.load.elapsed_s:.0f} s"
            # Fewer than 1 answer in that time: the ratio is at least ours × time.
            if not math.isnan(row.ours_rps):
                row.ratio_text = f"> {_ratio(row.ours_rps * a.load.elapsed_s)}"
        else:
            row.anchor_rps = a.load.req_per_s
            anchor_cell = _num(a.load.req_per_s, 2 if a.load.req_per_s < 10 else 1)
            if a.load.ok < 20:
                anchor_cell += f" ({a.load.ok} rép. en {a.load.elapsed_s:.0f} s)"
            if not math.isnan(row.ours_rps):
                row.ratio = row.ours_rps / a.load.req_per_s
                row.ratio_text = _ratio(row.ratio)
        ol = o.load
        row.cells = [
            f"**{w.key}**", w.title,
            _num(ol.req_per_s) if ol else (o.note or "—"),
            _num(ol.p50_ms) if ol else "—", _num(ol.p99_ms) if ol else "—",
            str(ol.errors) if ol else "—",
            anchor_cell,
            _num(a.load.p50_ms, 0) if a is not None and a.load is not None else "—",
            str(a.load.errors) if a is not None and a.load is not None else "—",
            row.ratio_text,
            _num(row.cpu_ms, 2), _num(a.server_cpu_ms, 0 if a.server_cpu_ms >= 100 else 2) if a is not None else "—",
            _num(row.floor_ms, 2), _ratio(row.vs_floor),
            f"{_num(ol.peak_rss_mib, 0) if ol else '—'} / "
            f"{_num(a.load.peak_rss_mib, 0) if a is not None and a.load is not None else '—'}",
        ]
        rows.append(row)
    return rows


def detail_lines(name: str, measured: dict[str, Measured]) -> list[str]:
    lines = []
    for key, m in measured.items():
        r = m.load
        if r is None:
            lines.append(f"| {name} | {key} | — | — | — | — | — | — | — | — | {m.note or m.probe or '—'} |")
            continue
        kinds = ", ".join(f"{k} : {v}" for k, v in r.error_kinds.items()) or "—"
        lines.append(f"| {name} | {key} | {r.sent} | {r.ok} | {r.elapsed_s:.1f} | {r.stopped_by} "
                     f"| {r.peak_rss_mib:.0f} | {r.peak_pss_mib:.0f} ({r.processes} proc.) | {_num(m.client_cpu_ms, 2)} "
                     f"| {m.answer_text} "
                     f"| {kinds}{' ; ' + m.probe if m.probe else ''} |")
    return lines


def same_answers(ours: dict[str, Measured], anchor: dict[str, Measured]) -> str:
    """Did both servers give the same first answer (numberMatched, count, first id)?"""
    same, different = [], []
    for key, m in ours.items():
        a = anchor.get(key)
        if a is None or m.answer is None or a.answer is None:
            continue
        # The stock GeoJSON provider omits numberMatched on single items; compare what both give.
        pairs = [(x, y) for x, y in zip(m.answer, a.answer) if x is not None and y is not None]
        (same if all(x == y for x, y in pairs) else different).append(key)
    text = f"mêmes réponses à la première URL (numberMatched, nombre d'entités, premier id) : {', '.join(same) or 'aucune'}"
    if different:
        text += f" ; **différentes : {', '.join(different)}** (voir le détail)"
    return text


def write_report(path: Path, *, command: str, args: argparse.Namespace, facts: LayerFacts, rows: list[Row],
                 ours: dict[str, Measured], anchor: dict[str, Measured] | None, floor: dict[str, Any],
                 machine: dict[str, str], geojson_mib: float, gpkg_mib: float) -> str:
    header = ("| charge | requête | nous req/s | p50 ms | p99 ms | erreurs | pygeoapi req/s | pygeoapi p50 ms "
              "| pygeoapi erreurs | nous / pygeoapi (débit) | nous CPU ms/req | pygeoapi CPU ms/req | plancher ms "
              "| nous CPU / plancher | RSS pic Mio nous / pygeoapi |\n"
              "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
    table = header + "".join("| " + " | ".join(r.cells) + " |\n" for r in rows)
    details = ["| serveur | charge | requêtes envoyées | réponses 200 | durée s | arrêt | RSS pic Mio | PSS pic Mio "
               "| client CPU ms/req | 1re URL : numberMatched / entités / 1er id | erreurs, sonde |",
               "|---|---|---:|---:|---:|---|---:|---:|---:|---|---|"]
    details += detail_lines("geocommune", ours)
    if anchor is not None:
        details += detail_lines("pygeoapi GeoJSON", anchor)
    machine_lines = "\n".join(f"- {k} : {v}" for k, v in machine.items())
    text = f"""# Banc du serveur — geocommune face à pygeoapi (fournisseur GeoJSON) et au plancher en processus

Commande : `{command}`

Écrit par `bench/server.py` (voir `bench/README.md`), remplacé à chaque exécution. Comparez les **rapports**,
pas les temps absolus : ils dépendent de la machine et de sa charge.

- Données : `{LAYER}`, {_int(facts.count)} entités publiées (fichier généré de {_int(args.rows)} lignes, graine {args.seed}) ;
  GeoPackage {gpkg_mib:.0f} Mio, export GeoJSON pour pygeoapi {_num(geojson_mib, 0)} Mio.
- Charge : {args.connections} connexions simultanées en boucle fermée, {args.duration:g} s au plus et
  {_int(args.max_requests)} requêtes au plus par charge (pygeoapi : {_int(args.anchor_max_requests)}) ;
  {args.workers} processus gunicorn (sync) pour chaque serveur ; `Accept-Encoding: {'gzip' if args.gzip else 'identity'}` ;
  délai par requête {args.request_timeout:g} s (nous), {args.anchor_timeout:g} s (pygeoapi).
- « nous / pygeoapi (débit) » : rapport des requêtes/s. « CPU ms/req » : temps CPU (utilisateur + système, lu
  dans `/proc`) de tout l'arbre de processus du serveur pendant la charge, divisé par les réponses 200 : le coût
  d'une requête, moins sensible que le débit à la charge de la machine. « plancher ms » : temps CPU moyen des mêmes
  requêtes par `GeoPackageStore.query`/`get` + sérialisation orjson, sans HTTP, dans un seul processus.
  « nous CPU / plancher » : ce que coûtent gunicorn, Flask, pygeoapi et notre couche HTTP au-delà du stockage.
- pygeoapi : ses réglages par défaut (pas de journal d'accès) ; le nôtre tel que livré (journal d'accès actif).
""" + f"""
## Résultats

{table}
## Détail

Contrôle : {same_answers(ours, anchor) if anchor is not None else "pygeoapi non mesuré"}.
RSS : somme sur le maître gunicorn et ses processus (les pages partagées après `fork` y comptent une fois par
processus) ; PSS : la même somme, pages partagées réparties (ce que l'arbre occupe vraiment).

{chr(10).join(details)}

## Machine

{machine_lines}
"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return text


# -- main -----------------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Mesure l'API de geocommune face à pygeoapi (fournisseur GeoJSON) et au plancher en processus.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="lignes du fichier généré (défaut : 1 000 000)")
    parser.add_argument("--seed", type=int, default=42, help="graine du générateur et des charges (défaut : 42)")
    parser.add_argument("--duration", type=float, default=10.0, help="secondes par charge et par serveur (défaut : 10)")
    parser.add_argument("--connections", type=int, default=8, help="connexions simultanées (défaut : 8)")
    parser.add_argument("--workers", type=int, default=2, help="processus gunicorn de chaque serveur (défaut : 2)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="requêtes au plus par charge (défaut : 100 000)")
    parser.add_argument("--workloads", default="W1,W2,W3,W4,W5,W6,W9", help="charges à mesurer (défaut : toutes)")
    parser.add_argument("--anchor-workloads", default=None,
                        help="charges mesurées sur pygeoapi (défaut : les mêmes ; à 1 M chacune coûte des minutes)")
    parser.add_argument("--anchor-max-requests", type=int, default=None,
                        help="requêtes au plus par charge sur pygeoapi (défaut : --max-requests)")
    parser.add_argument("--no-anchor", action="store_true", help="ne pas mesurer pygeoapi")
    parser.add_argument("--gzip", action="store_true", help="demander gzip (Accept-Encoding: gzip) aux deux serveurs")
    parser.add_argument("--request-timeout", type=float, default=30.0, help="délai d'une requête, notre serveur (s)")
    parser.add_argument("--anchor-timeout", type=float, default=180.0,
                        help="délai d'une requête à pygeoapi, qui relit tout le fichier à chaque requête (s, défaut : 180)")
    parser.add_argument("--max-rss-gib", type=float, default=12.0,
                        help="arrêter un serveur dont la somme des RSS dépasse cette taille (Gio, défaut : 12)")
    parser.add_argument("--work", type=Path, default=BENCH_DIR / "out", help="dossier des fichiers générés (défaut : bench/out)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS-server.md", help="fichier de résultats (Markdown)")
    parser.add_argument("--export-geojson", nargs=3, type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--floor", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.anchor_max_requests is None:
        args.anchor_max_requests = args.max_requests
    if min(args.rows, args.connections, args.workers, args.max_requests, args.anchor_max_requests) < 1 \
            or args.duration <= 0:
        parser.error("--rows, --duration, --connections, --workers et --max-requests doivent être positifs")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.export_geojson:
        export_geojson(*args.export_geojson)
        return 0
    if args.floor:
        run_floor(args.floor)
        return 0
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        sys.exit("aiohttp manque : .venv/bin/pip install -e '.[bench]'")

    command = " ".join([".venv/bin/python bench/server.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    source = ensure_csv(work, args.rows, args.seed)
    data = ensure_data(work, args.rows, args.seed, source)
    gpkg = data / f"{LAYER}.gpkg"
    facts = layer_facts(gpkg, args.seed)
    wanted = [k.strip().upper() for k in args.workloads.split(",") if k.strip()]
    workloads = [w for w in build_workloads(facts, args.seed) if w.key in wanted]
    if not workloads:
        sys.exit(f"aucune charge connue dans « {args.workloads} »")
    args.anchor_only = ({k.strip().upper() for k in args.anchor_workloads.split(",") if k.strip()}
                        if args.anchor_workloads else {w.key for w in workloads})
    run_dir = data / "run"
    run_dir.mkdir(exist_ok=True)
    headers = {"Accept": "application/geo+json, application/json;q=0.9",
               "Accept-Encoding": "gzip" if args.gzip else "identity"}
    nproc = os.cpu_count() or 1
    print(f"{facts.count} entités publiées ; charges : {', '.join(w.key for w in workloads)}\n", flush=True)

    # 1. ours
    load_ours: list[float] = []
    port = free_port()
    server = start_server("geocommune", [*geocommune_command(), "--data", str(data), "serve", "--no-demo",
                                          "--host", HOST, "--port", str(port), "--workers", str(args.workers)],
                          port=port, log=run_dir / "geocommune.log", cwd=run_dir, env={}, startup_timeout=180,
                          headers=headers)
    try:
        ours = measure_server(server, workloads, args, anchor=False, headers=headers, load_during=load_ours)
    finally:
        server.stop()

    # 2. the anchor: stock pygeoapi + its GeoJSON provider
    anchor: dict[str, Measured] | None = None
    load_anchor: list[float] = []
    geojson_mib = math.nan
    if not args.no_anchor:
        full, sample = ensure_geojson(data)
        geojson_mib = full.stat().st_size / 2**20
        import yaml

        extent = json.loads(sqlite3.connect(f"file:{gpkg}?mode=ro", uri=True).execute(
            "SELECT metadata FROM geocommune_metadata").fetchone()[0]).get("extent") or [-180, -90, 180, 90]
        port = free_port()
        config = run_dir / "pygeoapi.yml"
        sample_config = run_dir / "pygeoapi-sample.yml"
        openapi = run_dir / "pygeoapi-openapi.yml"
        config.write_text(yaml.safe_dump(anchor_config(full, port, extent), allow_unicode=True), encoding="utf-8")
        # The OpenAPI document only needs the fields: generated on a 10-feature sample of the
        # same layer (pygeoapi's provider would otherwise parse the whole file once more).
        sample_config.write_text(yaml.safe_dump(anchor_config(sample, port, extent), allow_unicode=True),
                                 encoding="utf-8")
        pygeoapi = Path(sys.executable).parent / "pygeoapi"
        subprocess.run([str(pygeoapi), "openapi", "generate", str(sample_config), "--output-file", str(openapi)],
                       check=True, capture_output=True, env={**os.environ, "PYGEOAPI_CONFIG": str(sample_config)},
                       timeout=300)
        cmd = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(args.workers),
               "--worker-class", "sync", "--timeout", str(int(args.anchor_timeout) + 30), "--graceful-timeout", "5",
               "--no-control-socket", "--log-level", "warning", "pygeoapi.flask_app:APP"]
        server = start_server("pygeoapi", cmd, port=port, log=run_dir / "pygeoapi.log", cwd=run_dir,
                              env={"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)},
                              startup_timeout=180, headers=headers)
        try:
            anchor = measure_server(server, workloads, args, anchor=True, headers=headers, load_during=load_anchor)
        finally:
            server.stop(grace=5)

    # 3. the floor
    print("  plancher en processus…", flush=True)
    floor_out = measure_floor(data, workloads, min(args.duration, 2.0), run_dir)
    floor = floor_out["floor"]

    rows = build_rows(workloads, ours, anchor, floor)
    machine = {
        "date (UTC)": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
        "nproc": f"{nproc} (CPU : {cpu_model()})",
        "mémoire": f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} Gio",
        "charge moyenne 1 min": (f"avant {load_before:.2f} ; pendant geocommune {max(load_ours or [math.nan]):.2f} (max) ; "
                                 f"pendant pygeoapi {max(load_anchor or [math.nan]):.2f} (max)"),
        "versions": (f"Python {platform.python_version()}, pygeoapi {package_version('pygeoapi')}, "
                     f"GDAL {floor_out.get('gdal', '?')} (pyogrio {package_version('pyogrio')}), "
                     f"SQLite {floor_out.get('sqlite', '?')}, gunicorn {package_version('gunicorn')}, "
                     f"Flask {package_version('flask')}, aiohttp {package_version('aiohttp')}, "
                     f"geocommune {package_version('geocommune')}"),
        "code mesuré": git_state(),
        "durée totale du banc": f"{time.perf_counter() - started:.0f} s",
    }
    text = write_report(args.out, command=command, args=args, facts=facts, rows=rows, ours=ours, anchor=anchor,
                        floor=floor, machine=machine, geojson_mib=geojson_mib,
                        gpkg_mib=gpkg.stat().st_size / 2**20)
    print()
    print(text)
    print(f"Résultats écrits dans {args.out}")
    ours_errors = sum(m.load.errors for m in ours.values() if m.load is not None)
    return 0 if all(m.load is not None and m.load.ok for m in ours.values()) and ours_errors == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
