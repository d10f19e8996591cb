"""A small, bounded HTTP load driver for the server benchmark (``bench/run.py``).

``connections`` asyncio tasks each send GET requests one after the other (a closed
loop: a new request leaves when the previous answer is in), taking the next URL from a
seeded list shared by all tasks. No new request leaves once ``duration`` seconds have
passed or ``max_requests`` have been sent; requests still in flight then are allowed to
finish, each bounded by ``timeout``. Throughput counts the successful answers over the
time from the first request to the last answer.

While the load runs, a thread samples the memory of the server's whole process tree
(the server's main process + workers, found through ``/proc``): the sum of the resident set sizes
(RSS, which counts pages shared between forked workers once per process) and the sum of
the proportional set sizes (PSS, which splits shared pages between their users, so that
it adds up to what the tree really holds). An optional RSS ceiling stops the run early.

Only the loopback is ever a target: ``run_load`` refuses any other host.

    python bench/load.py http://127.0.0.1:5000/collections/defibrillateurs/items?limit=10 \\
        --duration 5 --connections 8 --pid 12345

aiohttp (``pip install -e '.[bench]'``) is the client: one thread, an event loop and a
C HTTP parser keep the client's own CPU cost per request low — it shares the machine's
cores with the server it measures.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import itertools
import json
import math
import threading
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence
from urllib.parse import urlsplit

DEFAULT_HEADERS = {
    "Accept": "application/geo+json, application/json;q=0.9",
    # Same work for every server: no compression (ours gzips beyond 1 KiB when asked, stock
    # pygeoapi does not). ``--gzip`` in bench/run.py asks for it from all.
    "Accept-Encoding": "identity",
    "User-Agent": "geocommune-bench",
}


# -- memory of a process tree ---------------------------------------------------------------


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return found
    for task in tasks:
        try:
            found.extend(int(p) for p in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return found


def process_tree(root: int) -> list[int]:
    """``root`` and all its descendants that are alive now."""
    seen: list[int] = []
    todo = [root]
    while todo:
        pid = todo.pop()
        if pid in seen or not Path(f"/proc/{pid}").exists():
            continue
        seen.append(pid)
        todo.extend(_children(pid))
    return seen


def _status_kib(pid: int, key: str) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _pss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory_mib(root: int, pss: bool = True) -> tuple[float, float, int, float]:
    """(sum of RSS, sum of PSS — NaN unless ``pss`` —, number of processes, largest single RSS) of
    ``root``'s tree, in MiB. The largest single RSS is the busiest worker's (a master is small).

    RSS comes from ``/proc/PID/status`` (cheap); PSS from ``smaps_rollup``, which walks the page
    tables: milliseconds for a process of several GiB, so it is read less often.
    """
    pids = process_tree(root)
    each = [_status_kib(pid, "VmRSS:") for pid in pids]
    total_pss = sum(_pss_kib(pid) for pid in pids) / 1024 if pss else math.nan
    return sum(each) / 1024, total_pss, len(pids), max(each, default=0) / 1024


class MemorySampler(threading.Thread):
    """Samples a process tree's memory every ``interval`` s until ``stop()``."""

    def __init__(self, roots: Sequence[int], interval: float = 0.25, rss_limit_mib: float | None = None,
                 pss_every: int = 8) -> None:
        super().__init__(daemon=True, name="memory-sampler")
        self.roots = list(roots)
        self.interval = interval
        self.rss_limit_mib = rss_limit_mib
        self.peak_rss_mib = 0.0
        self.peak_pss_mib = 0.0
        self.peak_process_rss_mib = 0.0  # the largest RSS of one process of the tree (one worker)
        self.processes = 0
        self.samples = 0
        self.pss_every = pss_every  # PSS on every n-th sample (2 s at the default interval)
        self.exceeded = threading.Event()
        self._halt = threading.Event()

    def sample(self, pss: bool | None = None) -> None:
        with_pss = self.samples % self.pss_every == 0 if pss is None else pss
        rss = total_pss = largest = 0.0
        processes = 0
        for root in self.roots:
            r, p, n, one = tree_memory_mib(root, pss=with_pss)
            rss, total_pss, processes, largest = rss + r, total_pss + p, processes + n, max(largest, one)
        self.peak_process_rss_mib = max(self.peak_process_rss_mib, largest)
        self.samples += 1
        self.peak_rss_mib = max(self.peak_rss_mib, rss)
        if with_pss:
            self.peak_pss_mib = max(self.peak_pss_mib, total_pss)
        self.processes = max(self.processes, processes)
        if self.rss_limit_mib is not None and rss > self.rss_limit_mib:
            self.exceeded.set()

    def run(self) -> None:
        self.sample()
        while not self._halt.wait(self.interval):
            self.sample()

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=5)
        self.sample(pss=True)


# -- the load ---------------------------------------------------------------------------------


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: int = 0
    error_kinds: dict[str, int] = field(default_factory=dict)
    elapsed_s: float = 0.0
    req_per_s: float = 0.0
    p50_ms: float = math.nan
    p99_ms: float = math.nan
    mean_ms: float = math.nan
    bytes_received: int = 0
    peak_rss_mib: float = math.nan
    peak_pss_mib: float = math.nan
    peak_process_rss_mib: float = math.nan  # RSS of the largest process (worker) of the tree
    processes: int = 0
    stopped_by: str = "durée"  # "durée", "requêtes" or "mémoire"
    first_body: bytes | None = field(default=None, repr=False)  # first 200 answer to the first URL

    def to_json(self) -> str:
        return json.dumps({k: v for k, v in asdict(self).items() if k != "first_body"}, ensure_ascii=False)


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0…100) of already sorted values."""
    if not sorted_values:
        return math.nan
    rank = max(1, math.ceil(q / 100 * len(sorted_values)))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def check_loopback(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ValueError(f"le banc ne vise que la boucle locale (127.0.0.0/8, ::1) ; reçu « {host} »")


async def _load(
    urls: Sequence[str],
    *,
    duration: float,
    connections: int,
    max_requests: int,
    timeout: float,
    headers: dict[str, str],
    sampler: MemorySampler | None,
) -> LoadResult:
    import aiohttp

    result = LoadResult()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    next_url = itertools.cycle(urls).__next__
    start = time.perf_counter()
    deadline = start + duration
    last_answer = start
    state = {"sent": 0, "stop": ""}

    def may_send() -> bool:
        if sampler is not None and sampler.exceeded.is_set():
            state["stop"] = state["stop"] or "mémoire"
            return False
        if state["sent"] >= max_requests:
            state["stop"] = state["stop"] or "requêtes"
            return False
        if time.perf_counter() >= deadline:
            state["stop"] = state["stop"] or "durée"
            return False
        return True

    connector = aiohttp.TCPConnector(limit=connections, limit_per_host=connections, ttl_dns_cache=None)
    client_timeout = aiohttp.ClientTimeout(total=timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=client_timeout, headers=headers,
                                     auto_decompress=True, skip_auto_headers=("Accept-Encoding",)) as session:

        async def client() -> None:
            nonlocal last_answer
            while may_send():
                state["sent"] += 1
                url = next_url()
                t0 = time.perf_counter()
                try:
                    async with session.get(url, allow_redirects=False) as response:
                        body = await response.read()
                        status = response.status
                except asyncio.TimeoutError:
                    errors["délai dépassé"] += 1
                    continue
                except aiohttp.ClientError as exc:
                    errors[type(exc).__name__] += 1
                    continue
                t1 = time.perf_counter()
                last_answer = max(last_answer, t1)
                result.bytes_received += len(body)
                if status == 200 and body:
                    latencies.append(t1 - t0)
                    if result.first_body is None and url == urls[0]:
                        result.first_body = body  # kept to check what was answered, not how fast
                else:
                    errors[f"HTTP {status}"] += 1

        tasks = [asyncio.create_task(client()) for _ in range(connections)]

        async def memory_guard() -> None:
            # A server whose memory runs away is stopped at once, in-flight requests with it.
            while sampler is not None and not all(t.done() for t in tasks):
                if sampler.exceeded.is_set():
                    state["stop"] = "mémoire"
                    for t in tasks:
                        t.cancel()
                    return
                await asyncio.sleep(0.1)

        guard = asyncio.create_task(memory_guard())
        done = await asyncio.gather(*tasks, return_exceptions=True)
        guard.cancel()
        cancelled = sum(isinstance(d, asyncio.CancelledError) for d in done)
        if cancelled:
            errors["annulée (mémoire)"] += cancelled

    latencies.sort()
    result.sent = state["sent"]
    result.ok = len(latencies)
    result.errors = sum(errors.values())
    result.error_kinds = dict(errors)
    # Up to the last answer (in-flight requests may finish after the deadline); with no
    # answer at all, the whole time waited.
    result.elapsed_s = (last_answer if result.ok else time.perf_counter()) - start
    result.req_per_s = result.ok / result.elapsed_s if result.elapsed_s > 0 else math.nan
    result.p50_ms = percentile(latencies, 50) * 1000
    result.p99_ms = percentile(latencies, 99) * 1000
    result.mean_ms = (sum(latencies) / len(latencies) * 1000) if latencies else math.nan
    result.stopped_by = state["stop"] or "durée"
    return result


def run_load(
    urls: Sequence[str],
    *,
    duration: float = 10.0,
    connections: int = 8,
    max_requests: int = 100_000,
    timeout: float = 60.0,
    headers: dict[str, str] | None = None,
    server_pids: Sequence[int] = (),
    rss_limit_mib: float | None = None,
) -> LoadResult:
    """Send GET ``urls`` (cycled) for at most ``duration`` s / ``max_requests`` requests."""
    if not urls:
        raise ValueError("aucune URL")
    if duration <= 0 or connections <= 0 or max_requests <= 0 or timeout <= 0:
        raise ValueError("durée, connexions, requêtes et délai doivent être positifs")
    for url in set(urls):
        check_loopback(url)
    sampler = MemorySampler(server_pids, rss_limit_mib=rss_limit_mib) if server_pids else None
    if sampler is not None:
        sampler.start()
    try:
        result = asyncio.run(_load(urls, duration=duration, connections=connections, max_requests=max_requests,
                                   timeout=timeout, headers={**DEFAULT_HEADERS, **(headers or {})}, sampler=sampler))
    finally:
        if sampler is not None:
            sampler.stop()
    if sampler is not None:
        result.peak_rss_mib = sampler.peak_rss_mib
        result.peak_pss_mib = sampler.peak_pss_mib
        result.peak_process_rss_mib = sampler.peak_process_rss_mib
        result.processes = sampler.processes
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Charge HTTP bornée (durée, requêtes, connexions) sur la boucle locale.")
    parser.add_argument("urls", nargs="+", help="URL à demander (parcourues en boucle)")
    parser.add_argument("--duration", type=float, default=10.0, help="durée maximale en secondes (défaut : 10)")
    parser.add_argument("--connections", type=int, default=8, help="connexions simultanées (défaut : 8)")
    parser.add_argument("--max-requests", type=int, default=100_000, help="nombre maximal de requêtes (défaut : 100 000)")
    parser.add_argument("--timeout", type=float, default=60.0, help="délai maximal d'une requête en secondes (défaut : 60)")
    parser.add_argument("--pid", type=int, action="append", default=[],
                        help="processus racine du serveur (son arbre est mesuré en mémoire) ; répétable")
    parser.add_argument("--gzip", action="store_true", help="demander des réponses compressées (Accept-Encoding: gzip)")
    args = parser.parse_args(argv)
    headers = {"Accept-Encoding": "gzip"} if args.gzip else None
    result = run_load(args.urls, duration=args.duration, connections=args.connections,
                      max_requests=args.max_requests, timeout=args.timeout, headers=headers, server_pids=args.pid)
    print(f"{result.ok} réponses 200 en {result.elapsed_s:.2f} s : {result.req_per_s:.1f} req/s, "
          f"p50 {result.p50_ms:.1f} ms, p99 {result.p99_ms:.1f} ms, {result.errors} erreur(s) {result.error_kinds or ''}")
    if args.pid:
        print(f"mémoire du serveur (pic, {result.processes} processus) : RSS {result.peak_rss_mib:.0f} Mio, "
              f"PSS {result.peak_pss_mib:.0f} Mio")
    print(result.to_json())
    return 0 if result.ok and not result.errors else 1


if __name__ == "__main__":
    raise SystemExit(main())
