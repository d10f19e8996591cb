"""The server benchmark, in one command: data, both stores, our server, the anchors, the floors, the report.

    .venv/bin/python bench/run.py [--sizes 10k,100k,1M] [--cycle-sizes 10k,200k] [--duration 10]
                                  [--connections 8] [--workers 2] [--stores gpkg,pg]

For each dataset (DAE points at each ``--sizes``, cycle paths at each ``--cycle-sizes``), in one
run, on the same data, with the same worker count, one server at a time:

1. ``scripts/bench-setup.sh`` (nginx, tipg's and pygeoapi-PostgreSQL's own venvs), a throw-away
   PostGIS cluster (``scripts/postgres.sh start bench/out/pg``); data generated and published
   into both stores (``datasets.py``, cached in ``bench/out/``);
2. ours on the GeoPackage store, ours on PostGIS, tipg and stock pygeoapi-PostgreSQL on the same
   PostGIS table, stock pygeoapi-GeoJSON on the layer exported to GeoJSON, nginx serving our
   saved responses (``anchors.py``); workloads W1–W9 (``workloads.py``), bounded loads
   (``measure.py``, ``load.py``);
3. the in-process floors of both stores and the cost of numberMatched (``floor.py``);
4. ``bench/RESULTS.md`` (``report.py``), overwritten.

A benchmark script, never a test: it only listens on and talks to 127.0.0.1; every load is
bounded in time and in requests. See bench/README.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import pickle
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from anchors import (Context, start_floor_http, start_nginx, start_ours, start_pygeoapi_geojson,  # noqa: E402
                     start_pygeoapi_pg, start_tipg)
from common import HEADERS, PG_SETTINGS, REPO, git_state, parse_size  # noqa: E402
from datasets import (Dataset, LayerFacts, ensure_geojson, ensure_gpkg, ensure_postgis,  # noqa: E402
                      ensure_source, layer_facts)
from measure import LoadSettings, ServerRun, measure_server, save_responses  # noqa: E402
from servers import Server, postmaster_pid  # noqa: E402
from workloads import ALL, URLS_PER_WORKLOAD, Workload, dialect  # noqa: E402
from workloads import build_workloads  # noqa: E402

ANCHORS = ("tipg", "pygeoapi-pg", "pygeoapi-geojson", "nginx", "floor", "floor-http")
# The workloads whose target compares our CPU per request with the floor's (issue 7): the ones
# the floor served over HTTP (floor_http.py) is measured on.
ABOVE_FLOOR_WORKLOADS = ("W1", "W2", "W4")
NGINX_FILES = 16  # saved responses per workload


@dataclass
class DatasetResult:
    ds: Dataset
    facts: LayerFacts
    workloads: list[Workload]
    runs: dict[str, ServerRun] = field(default_factory=dict)
    floors: dict[str, dict[str, Any]] = field(default_factory=dict)  # store → floor.py's output
    gpkg_mib: float = math.nan
    geojson_mib: float = math.nan


# -- setup ------------------------------------------------------------------------------------------


def run_setup(venvs: Path, skip: bool) -> dict[str, str]:
    """scripts/bench-setup.sh's « tool=version » lines (« indisponible: … » when it could not be had)."""
    if skip:
        found = {"nginx": "/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "indisponible: absent"}
        for name, venv in (("tipg", "venv-tipg"), ("pygeoapi-postgresql", "venv-pygeoapi")):
            python = venvs / venv / "bin" / "python"
            found[name] = "présent" if python.exists() else f"indisponible: {venv} absent (--skip-setup)"
        return found
    proc = subprocess.run(["bash", str(REPO / "scripts" / "bench-setup.sh"), str(venvs)], capture_output=True,
                          text=True, timeout=1800)
    sys.stderr.write(proc.stderr)
    return dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)


def start_cluster(work: Path) -> tuple[str, Path]:
    """The throw-away cluster under ``work/pg``, tuned once (PG_SETTINGS; restart when changed)."""
    import psycopg

    cluster = work / "pg"
    script = str(REPO / "scripts" / "postgres.sh")
    url = subprocess.run(["bash", script, "start", str(cluster)], capture_output=True, text=True, check=True,
                         timeout=900).stdout.strip().splitlines()[-1]
    with psycopg.connect(url, autocommit=True) as conn:
        current = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in PG_SETTINGS}
        changed = {k: v for k, v in PG_SETTINGS.items() if current[k] != v}
        for name, value in changed.items():
            conn.execute(f"ALTER SYSTEM SET {name} = '{value}'")
    if changed:
        subprocess.run(["bash", script, "stop", str(cluster)], check=True, timeout=300)
        url = subprocess.run(["bash", script, "start", str(cluster)], capture_output=True, text=True, check=True,
                             timeout=900).stdout.strip().splitlines()[-1]
    return url, cluster


def stop_cluster(cluster: Path) -> None:
    subprocess.run(["bash", str(REPO / "scripts" / "postgres.sh"), "stop", str(cluster)], timeout=300)


# -- one dataset --------------------------------------------------------------------------------------


def run_floor(ds: Dataset, store: str, data: Path, pg_url: str | None, db_root: int | None,
              workloads: list[Workload], args: argparse.Namespace, run_dir: Path) -> dict[str, Any]:
    kinds = {}
    by_key = {w.key: w for w in workloads}
    if ds.kind == "dae":  # numberMatched cost: unfiltered, bbox, filter
        for kind, key in (("sans filtre", "W1"), ("bbox 50 km", "W3"), ("filtre", "W6")):
            if key in by_key:
                kinds[kind] = by_key[key].queries
    spec = {"store": store, "data": str(data), "url": pg_url, "layer": ds.layer, "db_root": db_root,
            "budget_s": min(args.duration, 2.0), "max_iterations": 2000,
            "workloads": {w.key: w.queries for w in workloads}, "count_kinds": kinds, "count_per_kind": 30}
    spec_path = run_dir / f"floor-{store}.json"
    spec_path.write_text(json.dumps(spec), encoding="utf-8")
    proc = subprocess.run([sys.executable, str(BENCH_DIR / "floor.py"), str(spec_path)], capture_output=True,
                          text=True, cwd=run_dir, timeout=max(900, 30 * len(workloads) * args.duration))
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else f"code {proc.returncode}"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def measure_one(name: str, start, workloads: list[Workload], path_of, settings: LoadSettings, *,
                db_root: int | None, workers: int, warm_path: str = "/conformance",
                after=None) -> ServerRun:
    run = ServerRun(name)
    try:
        server: Server = start()
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        run.unavailable = str(exc).splitlines()[0][:300]
        print(f"  {name} : {run.unavailable}", flush=True)
        return run
    try:
        measure_server(server, workloads, path_of, settings, db_root=db_root, run=run, warm_path=warm_path,
                       workers=workers)
        if after is not None:
            after(server)
    finally:
        server.stop(grace=5)
    return run


def run_dataset(ds: Dataset, args: argparse.Namespace, tools: dict[str, str], cluster_url: str | None,
                cluster: Path | None) -> DatasetResult:
    work = args.work
    print(f"\n== {ds.label} ==", flush=True)
    source = ensure_source(ds, work)
    data = ensure_gpkg(ds, work, source)
    pg_url = ensure_postgis(ds, work, source, cluster_url) if cluster_url else None
    gpkg = data / f"{ds.layer}.gpkg"
    facts = layer_facts(ds, gpkg, URLS_PER_WORKLOAD)
    workloads = build_workloads(ds, facts, set(args.workloads))
    result = DatasetResult(ds, facts, workloads, gpkg_mib=gpkg.stat().st_size / 2**20)
    run_dir = work / "runs" / ds.key
    run_dir.mkdir(parents=True, exist_ok=True)
    db_root = postmaster_pid(cluster) if cluster else None
    ctx = Context(ds, args.workers, run_dir, data, pg_url, facts.extent, args.venvs / "venv-tipg",
                  args.venvs / "venv-pygeoapi",
                  args.anchor_timeout)
    headers = {**HEADERS, "Accept-Encoding": "gzip" if args.gzip else "identity"}
    ours = LoadSettings(args.duration, args.connections, args.max_requests, args.request_timeout, args.max_rss_gib,
                        headers)
    anchor = LoadSettings(args.duration, args.connections, args.anchor_max_requests, args.anchor_timeout,
                          args.max_rss_gib, headers)
    www = run_dir / "nginx-www"
    saved: dict[str, list[str]] = {}

    def keep_responses(server: Server) -> None:
        saved.update(save_responses(server, workloads, dialect("ours", ds), www, NGINX_FILES, args.request_timeout))

    if "gpkg" in args.stores:
        result.runs["ours-gpkg"] = measure_one("ours-gpkg", lambda: start_ours(ctx, "gpkg"), workloads,
                                               dialect("ours", ds), ours, db_root=None, workers=args.workers,
                                               after=keep_responses if "nginx" in args.anchors else None)
    if "pg" in args.stores and pg_url:
        result.runs["ours-pg"] = measure_one("ours-pg", lambda: start_ours(ctx, "pg"), workloads, dialect("ours", ds),
                                             ours, db_root=db_root, workers=args.workers,
                                             after=keep_responses if "nginx" in args.anchors and not saved else None)
    for name, tool, start in (("tipg", "tipg", lambda: start_tipg(ctx)),
                              ("pygeoapi-pg", "pygeoapi-postgresql", lambda: start_pygeoapi_pg(ctx))):
        if name not in args.anchors:
            continue
        if not pg_url:
            result.runs[name] = ServerRun(name, unavailable="non mesuré : PostGIS écarté (--stores)")
        elif tools.get(tool, "indisponible").startswith("indisponible"):
            result.runs[name] = ServerRun(name, unavailable=tools.get(tool, "indisponible: installation non tentée"))
        else:
            result.runs[name] = measure_one(name, start, workloads, dialect(name, ds), anchor, db_root=db_root,
                                            workers=args.workers)
    if "pygeoapi-geojson" in args.anchors:
        if ds.size > args.geojson_max_size:
            result.runs["pygeoapi-geojson"] = ServerRun(
                "pygeoapi-geojson", unavailable=f"non mesuré au-delà de {args.geojson_max_size} entités (--geojson-max-size)")
        else:
            full, sample = ensure_geojson(ds, data)
            result.geojson_mib = full.stat().st_size / 2**20
            # It rereads the whole file on every request: a few requests say enough, and a long
            # queue would only keep the next workloads waiting for its workers to drain it.
            few = LoadSettings(args.duration, args.connections, min(args.anchor_max_requests, args.geojson_max_requests),
                               args.anchor_timeout, args.max_rss_gib, headers)
            result.runs["pygeoapi-geojson"] = measure_one(
                "pygeoapi-geojson", lambda: start_pygeoapi_geojson(ctx, full, sample), workloads,
                dialect("pygeoapi-geojson", ds), few, db_root=None, workers=args.workers)
    if "nginx" in args.anchors:
        if tools.get("nginx", "indisponible").startswith("indisponible") or not Path("/usr/sbin/nginx").exists():
            result.runs["nginx"] = ServerRun("nginx", unavailable=tools.get("nginx", "indisponible"))
        else:
            static = [Workload(w.key, w.title, [{"static": p} for p in saved[w.key]]) for w in workloads if w.key in saved]
            result.runs["nginx"] = measure_one("nginx", lambda: start_nginx(ctx, www), static, lambda q: q["static"],
                                               ours, db_root=None, workers=args.workers, warm_path="/ready")
    if "floor-http" in args.anchors:
        served = [Workload(w.key, w.title, [{"static": f"/{w.key}/{i}"} for i in range(len(w.queries))])
                  for w in workloads if w.key in ABOVE_FLOOR_WORKLOADS]
        for store in args.stores:
            name = f"floor-http-{store}"
            if store == "pg" and not pg_url:
                continue
            spec = run_dir / f"{name}.json"
            spec.write_text(json.dumps({"store": store, "data": str(data), "url": pg_url, "layer": ds.layer,
                                        "workloads": {w.key: w.queries for w in workloads}}), encoding="utf-8")
            result.runs[name] = measure_one(name, lambda store=store, spec=spec: start_floor_http(ctx, store, spec), served,
                                            lambda q: q["static"], ours, db_root=db_root if store == "pg" else None,
                                            workers=args.workers, warm_path="/ready")
    if "floor" in args.anchors:
        print("  planchers en processus…", flush=True)
        if "gpkg" in args.stores:
            result.floors["gpkg"] = run_floor(ds, "gpkg", data, None, None, workloads, args, run_dir)
        if pg_url:
            result.floors["pg"] = run_floor(ds, "pg", data, pg_url, db_root, workloads, args, run_dir)
    return result


# -- command line ---------------------------------------------------------------------------------------


def _list(text: str, allowed: tuple[str, ...], what: str, parser: argparse.ArgumentParser) -> list[str]:
    items = [t.strip() for t in text.split(",") if t.strip()]
    unknown = [t for t in items if t not in allowed]
    if unknown:
        parser.error(f"{what} inconnu(s) : {', '.join(unknown)} (possibles : {', '.join(allowed)})")
    return items


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Banc du serveur : geocommune (GeoPackage, PostGIS) face à tipg, "
                                            "pygeoapi (PostgreSQL, GeoJSON), nginx et au plancher en processus.")
    p.add_argument("--sizes", default="10k,100k,1M", help="tailles de la couche DAE (défaut : 10k,100k,1M)")
    p.add_argument("--cycle-sizes", default="10k,200k", help="tailles des aménagements cyclables (défaut : 10k,200k ; vide : aucun)")
    p.add_argument("--seed", type=int, default=42, help="graine des données et des charges (défaut : 42)")
    p.add_argument("--duration", type=float, default=10.0, help="secondes par charge et par serveur (défaut : 10)")
    p.add_argument("--connections", type=int, default=8, help="connexions simultanées (défaut : 8)")
    p.add_argument("--workers", type=int, default=2, help="processus de chaque serveur (défaut : 2)")
    p.add_argument("--max-requests", type=int, default=100_000, help="requêtes au plus par charge (défaut : 100 000)")
    p.add_argument("--workloads", default=",".join(ALL), help="charges (défaut : W1 à W9)")
    p.add_argument("--stores", default="gpkg,pg", help="nos stockages mesurés (défaut : gpkg,pg)")
    p.add_argument("--anchors", default=",".join(ANCHORS), help=f"repères mesurés (défaut : {','.join(ANCHORS)})")
    p.add_argument("--geojson-max-size", type=parse_size, default=parse_size("100k"),
                   help="pygeoapi-GeoJSON relit tout le fichier à chaque requête : pas au-delà de cette taille (défaut : 100k)")
    p.add_argument("--anchor-max-requests", type=int, default=None, help="requêtes au plus par charge sur un repère")
    p.add_argument("--geojson-max-requests", type=int, default=8,
                   help="requêtes au plus par charge sur pygeoapi-GeoJSON (défaut : 8)")
    p.add_argument("--anchor-timeout", type=float, default=120.0, help="délai d'une requête à un repère (s, défaut : 120)")
    p.add_argument("--request-timeout", type=float, default=30.0, help="délai d'une requête à notre serveur (s)")
    p.add_argument("--max-rss-gib", type=float, default=12.0, help="arrêter un serveur dont l'arbre dépasse ce RSS (Gio)")
    p.add_argument("--gzip", action="store_true", help="demander gzip à tous les serveurs")
    p.add_argument("--skip-setup", action="store_true", help="ne pas lancer scripts/bench-setup.sh")
    p.add_argument("--report-only", type=Path, metavar="PICKLE",
                   help="réécrire le rapport depuis les mesures d'une exécution (bench/out/last-run.pickle), sans mesurer")
    p.add_argument("--work", type=Path, default=BENCH_DIR / "out", help="fichiers générés, venvs, cluster (défaut : bench/out)")
    p.add_argument("--venvs", type=Path, default=BENCH_DIR / "out",
                   help="où créer les virtualenvs de tipg et de pygeoapi-PostgreSQL (défaut : bench/out)")
    p.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS.md", help="rapport (défaut : bench/RESULTS.md)")
    args = p.parse_args(argv)
    try:
        args.size_list = [parse_size(s) for s in args.sizes.split(",") if s.strip()]
        args.cycle_list = [parse_size(s) for s in args.cycle_sizes.split(",") if s.strip()]
    except ValueError:
        p.error("--sizes / --cycle-sizes : des nombres, suffixes k et M permis (ex. 10k,100k,1M)")
    args.workloads = _list(args.workloads.upper(), ALL, "charge(s)", p)
    args.stores = _list(args.stores, ("gpkg", "pg"), "stockage(s)", p)
    args.anchors = _list(args.anchors, ANCHORS, "repère(s)", p)
    if args.anchor_max_requests is None:
        args.anchor_max_requests = args.max_requests
    if min(args.connections, args.workers, args.max_requests, args.anchor_max_requests) < 1 or args.duration <= 0:
        p.error("--duration, --connections, --workers et --max-requests doivent être positifs")
    args.work = args.work.resolve()
    args.venvs = args.venvs.resolve()
    return args


def save_run(path: Path, **run: Any) -> None:
    """The run's measures, to rewrite the report without measuring again (``--report-only``)."""
    for result in run["results"]:  # the kept answers (megabytes for W7) were only needed to summarise them
        for server in result.runs.values():
            for measured in server.results.values():
                if measured.load is not None:
                    measured.load.first_body = None
    with path.open("wb") as out:
        pickle.dump(run, out)


def main(argv: list[str] | None = None) -> int:
    from report import write_report  # noqa: PLC0415 — after sys.path is set

    args = parse_args(argv)
    if args.report_only:  # the last run's measures (bench/out/last-run.pickle), the report rewritten
        with args.report_only.open("rb") as source:
            saved = pickle.load(source)  # noqa: S301 — a file this command wrote itself
        saved["args"].out = args.out
        write_report(args.out, **saved)
        print(f"Rapport réécrit dans {args.out}")
        return 0
    try:
        import aiohttp  # noqa: F401
    except ImportError:
        sys.exit("aiohttp manque : .venv/bin/pip install -e '.[bench]'")
    command = " ".join([".venv/bin/python bench/run.py", *map(shlex.quote, sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    load_before = os.getloadavg()[0]
    code = git_state()  # the code measured: the tree as it is when the run starts
    args.work.mkdir(parents=True, exist_ok=True)
    tools = run_setup(args.venvs, args.skip_setup)
    print("Outils : " + " ; ".join(f"{k} {v}" for k, v in tools.items()), flush=True)
    needs_pg = "pg" in args.stores or any(a in args.anchors for a in ("tipg", "pygeoapi-pg"))
    cluster_url, cluster = (start_cluster(args.work) if needs_pg else (None, None))
    datasets = [Dataset("dae", n, args.seed) for n in args.size_list] + [Dataset("cycle", n, args.seed) for n in args.cycle_list]
    results: list[DatasetResult] = []
    try:
        for ds in datasets:
            results.append(run_dataset(ds, args, tools, cluster_url, cluster))
            if len(results) < len(datasets):  # a long run keeps what it measured if it stops midway
                partial = dict(command=command, args=args, results=results, tools=tools, load_before=load_before,
                               elapsed_s=time.perf_counter() - started, pending=[d.label for d in datasets[len(results):]],
                               code=code)
                write_report(args.out, **partial)
                save_run(args.work / "last-run.pickle", **partial)
    finally:
        if cluster is not None:
            stop_cluster(cluster)
    final = dict(command=command, args=args, results=results, tools=tools, load_before=load_before,
                 elapsed_s=time.perf_counter() - started, code=code)
    text = write_report(args.out, **final)
    save_run(args.work / "last-run.pickle", **final)
    print(f"\nRésultats écrits dans {args.out}")
    ours_ok = all(m.load is not None and m.load.ok > 0 and m.load.errors == 0
                  for r in results for name in ("ours-gpkg", "ours-pg") if name in r.runs
                  for m in r.runs[name].results.values())
    missing = [f"{r.ds.key}/{name}" for r in results for name in ("ours-gpkg", "ours-pg")
               if name.split("-")[1] in args.stores and (name not in r.runs or r.runs[name].unavailable)]
    if missing:
        print(f"notre serveur n'a pas été mesuré : {', '.join(missing)}", file=sys.stderr)
    return 0 if ours_ok and not missing and text else 1


if __name__ == "__main__":
    raise SystemExit(main())
