"""Download benchmark: whole-layer downloads of a large DAE layer, and the worker's memory meanwhile.

1. the Géo'DAE-like CSV of ``bench/generate.py`` (``--rows``, default 100 000), ingested once
   with ``geocommune ingest`` into ``bench/out/download-data-<rows>/`` — or the layer
   already published for the server benchmark (``bench/out/server-data-<rows>/``),
   hard-linked (a published GeoPackage is never modified in place);
2. ``geocommune serve --no-demo --workers 1`` on that folder (127.0.0.1, a free port);
3. each download read to the end as it arrives and thrown away (nothing kept in memory
   here), while a thread samples the worker's resident memory (``/proc/<pid>/status``,
   VmRSS) every 10 ms: CSV (``,`` and ``;``), GeoJSON, then GeoPackage and FlatGeobuf
   twice — the first request builds the file, the second sends the built one;
4. bytes, seconds, MB/s, features counted in the body, worker RSS before / peak / peak
   growth, into ``bench/RESULTS-download.md`` (overwritten).

    .venv/bin/python bench/download.py [--rows 1000000] [--seed 42]

Benchmark script, never a test: it only listens on and talks to 127.0.0.1. Memory is the
point: a streamed download must stay within a bound that does not grow with the layer.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT = BENCH_DIR / "out"
LAYER = "defibrillateurs"
HOST = "127.0.0.1"
CHUNK = 1 << 20
SAMPLE_SECONDS = 0.01
START_TIMEOUT = 120.0
REQUEST_TIMEOUT = 1800.0  # a cold 1M-feature GeoPackage build included


def geocommune_command() -> list[str]:
    candidate = Path(sys.executable).parent / "geocommune"
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return [str(candidate)]
    return [sys.executable, "-m", "server.cli"]


def ensure_data(rows: int, seed: int) -> Path:
    suffix = f"{rows}" if seed == 42 else f"{rows}-seed{seed}"
    data = OUT / f"download-data-{suffix}"
    gpkg = data / f"{LAYER}.gpkg"
    if gpkg.is_file():
        print(f"Couche publiée réutilisée : {gpkg}")
        return data
    data.mkdir(parents=True, exist_ok=True)
    shared = OUT / f"server-data-{suffix}" / f"{LAYER}.gpkg"
    if shared.is_file():
        os.link(shared, gpkg)
        print(f"Couche du banc serveur reprise (lien physique) : {shared}")
        return data
    source = OUT / f"geodae-{rows}-seed{seed}.csv"
    if not source.is_file():
        subprocess.run([sys.executable, str(BENCH_DIR / "generate.py"), "--rows", str(rows), "--seed", str(seed),
                        "--out", str(source)], check=True, stdout=subprocess.DEVNULL)
    log = data / "ingest.log"
    start = time.perf_counter()
    with log.open("wb") as sink:
        done = subprocess.run([*geocommune_command(), "--data", str(data), "ingest", LAYER, str(source)],
                              stdout=sink, stderr=subprocess.STDOUT, cwd=REPO)
    if done.returncode != 0 or not gpkg.is_file():
        sys.exit(f"échec de geocommune ingest (code {done.returncode}), journal : {log}")
    print(f"Ingestion : {gpkg} en {time.perf_counter() - start:.1f} s")
    return data


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def start_server(data: Path) -> tuple[subprocess.Popen, int, Path]:
    port = free_port()
    log = data / f"serve-{port}.log"
    env = {**os.environ, "GEOCOMMUNE_URL": ""}
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [*geocommune_command(), "--data", str(data), "serve", "--no-demo", "--host", HOST, "--port", str(port),
             "--workers", "1"], cwd=REPO, env=env, stdout=sink, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"le serveur s'est arrêté au démarrage, journal : {log}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200:
                return process, port, log
        except OSError:
            pass
        time.sleep(0.3)
    stop(process)
    sys.exit(f"le serveur n'a pas répondu en {START_TIMEOUT:.0f} s, journal : {log}")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_pid(master: int) -> int:
    """The single server worker: the main process's child."""
    for _ in range(100):
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    sys.exit("aucun processus de travail du serveur trouvé")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class RssSampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_mib(pid)
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.peak = max(self.peak, rss_mib(self.pid))
            time.sleep(SAMPLE_SECONDS)

    def finish(self) -> float:
        self._done.set()
        self.join()
        return max(self.peak, rss_mib(self.pid))


@dataclass
class Measure:
    label: str
    path: str
    status: int
    bytes: int
    seconds: float
    features: int | None
    rss_before: float
    rss_peak: float

    @property
    def mb_per_s(self) -> float:
        return self.bytes / 1e6 / self.seconds if self.seconds else 0.0


def download(port: int, pid: int, label: str, path: str, marker: bytes | None) -> Measure:
    """GET ``path`` to the end, reading CHUNK bytes at a time; ``marker`` occurrences counted
    across chunk boundaries (features in the body)."""
    before = rss_mib(pid)
    sampler = RssSampler(pid)
    sampler.start()
    start = time.perf_counter()
    connection = http.client.HTTPConnection(HOST, port, timeout=REQUEST_TIMEOUT)
    connection.request("GET", path, headers={"Accept-Encoding": "identity"})
    response = connection.getresponse()
    total, count, tail = 0, 0, b""
    while True:
        chunk = response.read(CHUNK)
        if not chunk:
            break
        total += len(chunk)
        if marker is not None:
            window = tail + chunk
            count += window.count(marker)
            tail = chunk[-(len(marker) - 1):] if len(marker) > 1 else b""
    seconds = time.perf_counter() - start
    connection.close()
    peak = sampler.finish()
    return Measure(label, path, response.status, total, seconds, count if marker is not None else None, before, peak)


def cases(rows: int) -> list[tuple[str, str, bytes | None]]:
    base = f"/collections/{LAYER}/download"
    return [
        ("CSV (`,`, longitude/latitude)", f"{base}.csv", b"\n"),
        ("CSV tableur français (`sep=;`)", f"{base}.csv?sep=%3B", b"\n"),
        ("CSV WKT (`geometry=wkt`)", f"{base}.csv?geometry=wkt", b"\n"),
        ("GeoJSON", f"{base}.geojson", b'{"type":"Feature",'),
        ("GeoPackage — 1re demande (construction)", f"{base}.gpkg", None),
        ("GeoPackage — fichier construit", f"{base}.gpkg", None),
        ("FlatGeobuf — 1re demande (construction)", f"{base}.fgb", None),
        ("FlatGeobuf — fichier construit", f"{base}.fgb", None),
    ]


def thousands(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def report(rows: int, published: int, measures: list[Measure], idle: float, load: float, out: Path) -> str:
    lines = [
        "# Banc de téléchargement des couches entières",
        "",
        f"_{dt.datetime.now().astimezone().isoformat(timespec='seconds')} — {platform.node()}, "
        f"{os.cpu_count()} cœurs (charge moyenne au départ : {load:.1f}), Python {platform.python_version()} — "
        f"`bench/download.py --rows {rows}`_",
        "",
        f"Couche `{LAYER}` : {thousands(published)} DAE publiés (fichier généré de {thousands(rows)} lignes). "
        "Serveur : `geocommune serve --workers 1` (granian, GeoPackage). Chaque téléchargement est lu jusqu'au "
        "bout au fil de l'eau et jeté ; la mémoire résidente (RSS) du processus de travail est relevée toutes "
        "les 10 ms.",
        "",
        f"RSS du processus de travail au repos, avant le premier téléchargement : **{idle:.0f} Mio**.",
        "",
        "| Téléchargement | statut | taille | durée | débit | entités lues | RSS avant | RSS pic | hausse |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m in measures:
        header_lines = 1 if m.path.split("?")[0].endswith(".csv") else 0
        features = "" if m.features is None else thousands(m.features - header_lines)
        lines.append(
            f"| {m.label} | {m.status} | {m.bytes / 2**20:.1f} Mio | {m.seconds:.1f} s | {m.mb_per_s:.0f} Mo/s | "
            f"{features} | {m.rss_before:.0f} Mio | {m.rss_peak:.0f} Mio | +{m.rss_peak - m.rss_before:.0f} Mio |"
        )
    lines += [
        "",
        "Lecture : « entités lues » compte, dans le corps reçu, les lignes de données (CSV) ou les objets "
        "`Feature` (GeoJSON) — ils doivent égaler le nombre publié. GeoJSON et CSV sont produits par lots de "
        "10 000 entités pendant l'envoi : leur pic de RSS ne suit pas la taille de la couche (le premier "
        "téléchargement charge aussi GDAL et Arrow ; l'allocateur garde ensuite une partie de la mémoire "
        "libérée, d'où la montée de « RSS avant »). GeoPackage et FlatGeobuf sont construits une fois par "
        "publication (lots Arrow passés à GDAL), puis envoyés tels quels ; la construction du FlatGeobuf garde "
        "en mémoire l'index spatial de GDAL (arbre R de Hilbert), de l'ordre de 200 octets par entité : elle "
        "croît avec la couche, contrairement aux autres.",
        "",
    ]
    text = "\n".join(lines)
    out.write_text(text, encoding="utf-8")
    return text


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "RESULTS-download.md")
    args = parser.parse_args()
    load = os.getloadavg()[0]  # other work on the machine: durations are only comparable at equal load
    data = ensure_data(args.rows, args.seed)
    for old in (data / ".runtime" / "downloads").glob("*"):  # cold builds: measured from scratch
        old.unlink()
    process, port, log = start_server(data)
    try:
        pid = worker_pid(process.pid)
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        connection.request("GET", f"/collections/{LAYER}/items?f=json&limit=1")
        body = connection.getresponse().read()
        published = int(json.loads(body)["numberMatched"])
        idle = rss_mib(pid)
        measures = []
        for label, path, marker in cases(args.rows):
            measure = download(port, pid, label, path, marker)
            print(f"{label:45s} {measure.status} {measure.bytes / 2**20:8.1f} Mio {measure.seconds:7.1f} s "
                  f"{measure.mb_per_s:6.0f} Mo/s  RSS {measure.rss_before:.0f} → {measure.rss_peak:.0f} Mio", flush=True)
            measures.append(measure)
    finally:
        stop(process)
    print()
    print(report(args.rows, published, measures, idle, load, args.out))


if __name__ == "__main__":
    main()
