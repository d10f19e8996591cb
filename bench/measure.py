"""Measuring one running server on every workload: a probe, a bounded load, its CPU and memory.

For each workload: the server's URLs (its dialect; ``None`` = the server cannot express it),
one probe request when the workload needs a feature an anchor may lack (CQL2 filter, output
CRS) — a server that ignores it is marked « ignoré », not measured —, then a closed-loop load
(``load.run_load``: bounded in time and requests). CPU per answered request is read from
``/proc`` for the server's process tree and, for servers on PostGIS, for the database's
backends (the postmaster's tree) separately; the 1-minute load average is sampled after each.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from common import http_get
from load import LoadResult, run_load
from servers import Server, tree_cpu_seconds, wait_idle
from workloads import Workload


@dataclass
class Measured:
    load: LoadResult | None = None
    note: str = ""  # replaces the figures when the workload was not measured
    probe: str = ""
    answer: tuple[Any, ...] | None = None  # (numberMatched, features returned) of the first URL
    server_cpu_ms: float = math.nan  # CPU of the server tree per answered request
    db_cpu_ms: float = math.nan  # CPU of the PostgreSQL backends per answered request (servers on PostGIS)
    client_cpu_ms: float = math.nan

    @property
    def ok(self) -> bool:
        return self.load is not None and self.load.ok > 0 and not self.note

    @property
    def total_cpu_ms(self) -> float:
        return self.server_cpu_ms + (0.0 if math.isnan(self.db_cpu_ms) else self.db_cpu_ms)


@dataclass
class ServerRun:
    """One server's results on one dataset."""

    name: str
    results: dict[str, Measured] = field(default_factory=dict)
    loadavg: list[float] = field(default_factory=list)
    settings: list[str] = field(default_factory=list)
    unavailable: str = ""  # why the server was not measured at all


def summarise(body: bytes | None) -> tuple[Any, ...] | None:
    if not body:
        return None
    try:
        document = json.loads(body)
    except ValueError:
        return None
    if document.get("type") == "Feature":
        return (None, 1)
    features = document.get("features") or []
    return (document.get("numberMatched"), len(features))


def probe(url: str, query: dict[str, Any], timeout: float) -> tuple[str, bool]:
    """One request: does the server honour the workload (filter, CRS)? → (remark, supported)."""
    try:
        status, response_headers, body = http_get(url, timeout)
    except OSError as exc:
        return f"sonde : {type(exc).__name__}", True
    if status != 200:
        return f"refusé (HTTP {status})", status not in (400, 404, 422, 501)
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
        first = coords[0] if coords else None
        while isinstance(first, list) and first and isinstance(first[0], list):
            first = first[0]  # a LineString's first vertex
        if first and abs(first[0]) < 1000:  # still degrees: not reprojected
            return f"ignoré (degrés ; Content-Crs {crs_header or 'absent'})", False
    return f"sonde : {len(features)} entité(s)", True


@dataclass
class LoadSettings:
    duration: float
    connections: int
    max_requests: int
    timeout: float
    max_rss_gib: float
    headers: dict[str, str]


def measure_server(server: Server, workloads: list[Workload], path_of: Callable[[dict[str, Any]], str | None],
                   settings: LoadSettings, *, db_root: int | None, run: ServerRun, warm_path: str = "/conformance",
                   workers: int = 1) -> ServerRun:
    """Every workload on ``server``, one after the other; ``run`` collects the results."""
    timeout = settings.timeout
    run.settings = server.settings
    # Warm-up: the first query of every workload, a few times per worker (modules imported,
    # files and connections opened, per-process caches and indexes built — the PostGIS store's
    # point index takes ~1 s per worker at 1M points on its first bbox query). Every server
    # gets the same; the steady state is what is measured. Several connections per worker:
    # with one listening socket per worker (granian, SO_REUSEPORT) the kernel spreads them.
    warm = [server.base + warm_path]
    for workload in workloads:
        first = next((path_of(q) for q in workload.queries[:1] if path_of(q)), None)
        if first:
            warm.append(server.base + first)
    run_load(warm, duration=timeout, connections=4 * workers, max_requests=4 * workers * len(warm), timeout=timeout,
             headers=settings.headers)
    wait_idle([server.proc.pid, db_root], timeout)
    for workload in workloads:
        measured = Measured()
        run.results[workload.key] = measured
        paths = [path_of(q) for q in workload.queries]
        if any(p is None for p in paths):
            measured.note = "non pris en charge"
            continue
        urls = [server.base + p for p in paths if p]
        query = workload.queries[0]
        if any(k in query for k in ("eq", "crs")):
            measured.probe, supported = probe(urls[0], query, timeout)
            if not supported:
                measured.note = measured.probe
                print(f"  {server.name} {workload.key} : {measured.note}", flush=True)
                wait_idle([server.proc.pid, db_root], timeout)
                continue
        print(f"  {server.name} {workload.key} ({workload.title}) : {settings.duration:g} s…", end=" ", flush=True)
        server_cpu, db_cpu, client_cpu = tree_cpu_seconds(server.proc.pid), tree_cpu_seconds(db_root), time.process_time()
        measured.load = r = run_load(urls, duration=settings.duration, connections=settings.connections,
                                     max_requests=settings.max_requests, timeout=timeout, headers=settings.headers,
                                     server_pids=[server.proc.pid], rss_limit_mib=settings.max_rss_gib * 1024)
        client_cpu = time.process_time() - client_cpu
        measured.answer = summarise(r.first_body)
        run.loadavg.append(os.getloadavg()[0])
        if r.stopped_by == "mémoire":
            measured.note = f"arrêté : RSS > {settings.max_rss_gib:g} Gio"
            print(measured.note, flush=True)
            break
        if server.proc.poll() is not None:
            measured.note = "le serveur s'est arrêté"
            print(measured.note, flush=True)
            break
        # After wait_idle: the CPU spent on every request of this workload, late ones included.
        wait_idle([server.proc.pid, db_root], timeout)
        if r.ok:
            measured.server_cpu_ms = (tree_cpu_seconds(server.proc.pid) - server_cpu) * 1000 / r.ok
            if db_root is not None:
                measured.db_cpu_ms = (tree_cpu_seconds(db_root) - db_cpu) * 1000 / r.ok
        if r.sent:
            measured.client_cpu_ms = client_cpu * 1000 / r.sent
        db = f" + PG {measured.db_cpu_ms:.2f}" if db_root is not None else ""
        print(f"{r.req_per_s:.1f} req/s, p50 {r.p50_ms:.1f} ms, p99 {r.p99_ms:.1f} ms, {r.errors} erreur(s), "
              f"CPU {measured.server_cpu_ms:.2f}{db} ms/req, RSS/processus {r.peak_process_rss_mib:.0f} Mio",
              flush=True)
    return run


def save_responses(server: Server, workloads: list[Workload], path_of: Callable[[dict[str, Any]], str | None],
                   root: Any, per_workload: int, timeout: float) -> dict[str, list[str]]:
    """Our answers to the first URLs of each workload, saved as files for nginx: the floor serves
    the same bytes. Returns, per workload, the nginx paths."""
    saved: dict[str, list[str]] = {}
    for workload in workloads:
        paths: list[str] = []
        folder = root / workload.key
        folder.mkdir(parents=True, exist_ok=True)
        for i, query in enumerate(workload.queries[:per_workload]):
            path = path_of(query)
            if path is None:
                continue
            status, _, body = http_get(server.base + path, timeout)
            if status != 200:
                continue
            (folder / f"{i}.json").write_bytes(body)
            paths.append(f"/{workload.key}/{i}.json")
        if paths:
            saved[workload.key] = paths
    return saved
