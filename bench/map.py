"""Map benchmark: the residents' map (/carte) on a layer of 1M defibrillators, beside a
naive Folium map that embeds 100k of them as GeoJSON, in one run, in headless Chromium.

1. generate (or reuse) the Géo'DAE-like CSV of ``bench/generate.py`` and ingest it once
   into ``bench/out/map-data-<rows>-seed<seed>/`` (or use ``--data DIR``, already published);
2. serve it (``python -m tests.map.serve``: the API plus the map's routes) on a free port;
3. **the naive map**: 100k features fetched from the API (pages of 10 000, the same two
   properties the live map asks for), embedded by ``folium.GeoJson`` in a Folium page
   (Folium's defaults, with its CDN addresses pointed at geocommune's local copies so that
   both pages load from the same machine), served by ``python -m http.server``;
4. in Debian's Chromium (``/usr/bin/chromium``, driven by Playwright — never a
   downloaded browser), fresh browser context per run, tiles answered with a 1×1 PNG:
   - **page weight**: bytes transferred for the page itself (HTML, scripts, styles,
     images — for the live map, not its API responses, reported apart);
   - **first features**: time from navigation start to the first features drawn — for
     the live map, the defibrillator layer's first draw (at the whole-France view: the
     server's counts per area), for the naive map the first marker in the page;
   - for the live map, also the time to individual markers after jumping to a city
     street view (a new bbox request and its draw);
5. print a table and append one row to ``bench/RESULTS-map.md`` with the machine's details.

    .venv/bin/python bench/map.py [--rows 1000000] [--naive 100000] [--runs 3] [--naive-runs 1] [--data DIR]

Benchmark script, never a test: it talks to 127.0.0.1 only. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

BENCH_DIR = Path(__file__).resolve().parent
PROJECT = BENCH_DIR.parent
sys.path.insert(0, str(BENCH_DIR))
from ingest import cpu_model, package_version  # noqa: E402 — sibling script, no project import

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--disable-quic"]
PNG_1PX = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cf0000000301010018dd8db00000000049454e44ae426082"
)
LAYER = "defibrillateurs"
CITY = (48.8566, 2.3522, 18)  # Paris, street level
TARGET_PAGE_KB = 300
TARGET_FIRST_S = 1.5
TABLE_HEADER = (
    "| date (UTC) | features | live page (KiB) | live first features (s) | live street view (s) | live first data (KiB) "
    "| naive features | naive page (KiB) | naive first features (s) | runs (live/naive) | nproc | load 1 min | CPU | Chromium | folium "
    "| geocommune |\n"
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|\n"
)

# Built in a child process (this script imports nothing of the project, nor folium).
NAIVE_BUILDER = r"""
import json, sys, folium, requests
api, count, out, assets = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
features, offset = [], 0
while len(features) < count:
    page = requests.get(f"{api}/collections/defibrillateurs/items", params={"f": "json", "limit": min(10000, count - len(features)),
                        "offset": offset, "properties": "nom,etat_fonct"}, timeout=300).json()
    if not page["features"]:
        break
    features += page["features"]
    offset += len(page["features"])
m = folium.Map(location=[46.6, 2.4], zoom_start=6)
folium.GeoJson({"type": "FeatureCollection", "features": features}, name="DAE",
               tooltip=folium.GeoJsonTooltip(fields=["nom"])).add_to(m)
html = m.get_root().render()
local = json.loads(assets)
for cdn, mine in local.items():
    html = html.replace(cdn, mine)
open(out, "w", encoding="utf-8").write(html)
print(len(features))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"le serveur s'est arrêté :\n{log.read_text(errors='replace')[-2000:]}")
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return
        except requests.ConnectionError:
            pass
        time.sleep(0.3)
    sys.exit(f"{url} ne répond pas")


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def published_data(args: argparse.Namespace) -> Path:
    if args.data:
        return args.data
    data = args.out / f"map-data-{args.rows}-seed{args.seed}"
    if (data / f"{LAYER}.gpkg").is_file():
        return data
    csv = args.out / f"geodae-{args.rows}-seed{args.seed}.csv"
    if not csv.is_file():
        print(f"» génération de {csv.name}…", flush=True)
        subprocess.run([sys.executable, str(BENCH_DIR / "generate.py"), "--rows", str(args.rows), "--seed", str(args.seed),
                        "--out", str(csv)], check=True)
    print(f"» publication de {args.rows} DAE dans {data}…", flush=True)
    geocommune = Path(sys.executable).parent / "geocommune"
    subprocess.run([str(geocommune), "--data", str(data), "ingest", LAYER, str(csv)], stdout=subprocess.DEVNULL)
    if not (data / f"{LAYER}.gpkg").is_file():
        sys.exit("la publication a échoué")
    return data


def naive_assets(api: str) -> str:
    """Folium's CDN addresses → geocommune's copies (what has no local copy stays: blocked)."""
    return json.dumps({
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.js": f"{api}/static/vendor/leaflet/leaflet.js",
        "https://cdn.jsdelivr.net/npm/leaflet@1.9.3/dist/leaflet.css": f"{api}/static/vendor/leaflet/leaflet.css",
        "https://code.jquery.com/jquery-3.7.1.min.js": f"{api}/static/vendor/jquery/jquery.min.js",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/js/bootstrap.bundle.min.js": f"{api}/static/vendor/bootstrap/js/bootstrap.bundle.min.js",
        "https://cdn.jsdelivr.net/npm/bootstrap@5.2.2/dist/css/bootstrap.min.css": f"{api}/static/vendor/bootstrap/css/bootstrap.min.css",
        "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@6.2.0/css/all.min.css": f"{api}/static/vendor/fontawesome/css/all.min.css",
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.js": f"{api}/static/vendor/leaflet.awesome-markers/leaflet.awesome-markers.js",
        "https://cdnjs.cloudflare.com/ajax/libs/Leaflet.awesome-markers/2.0.2/leaflet.awesome-markers.css": f"{api}/static/vendor/leaflet.awesome-markers/leaflet.awesome-markers.css",
    })


WEIGHT_JS = """(apiOnly) => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource').filter(r => r.name.startsWith('http://127.0.0.1'));
  const api = res.filter(r => r.name.includes('/collections/'));
  const own = res.filter(r => !r.name.includes('/collections/'));
  const sum = list => list.reduce((s, r) => s + (r.transferSize || r.encodedBodySize || 0), 0);
  return {page: (nav.transferSize || nav.encodedBodySize) + sum(own), api: sum(api), resources: res.length};
}"""


def new_page(browser, blocked: list[str]):
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()

    def outside(route):
        host = route.request.url.split("/")[2]
        if "tile" in host or "geopf" in host:
            route.fulfill(status=200, content_type="image/png", body=PNG_1PX)
        else:
            blocked.append(route.request.url)
            route.fulfill(status=200, body=b"", content_type="text/css" if route.request.url.endswith(".css") else "text/plain")

    page.route(lambda url: not url.startswith("http://127.0.0.1"), outside)
    return context, page


def measure_live(browser, url: str) -> dict:
    blocked: list[str] = []
    context, page = new_page(browser, blocked)
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.goto(url + "/carte")
    page.wait_for_function(f"() => window.GeoCommune && GeoCommune.state() && GeoCommune.state().started && "
                           f"GeoCommune.debug().layers['{LAYER}'].draws > 0", timeout=60_000)
    state = page.evaluate("GeoCommune.debug()")["layers"][LAYER]
    first = state["firstDrawAt"] / 1000
    page.wait_for_function("() => Object.values(GeoCommune.debug().layers).every(l => !l.inflight)", timeout=60_000)
    weight = page.evaluate(WEIGHT_JS, False)
    draws = state["draws"]
    started = page.evaluate(f"() => {{ const t = performance.now(); GeoCommune.state().map.setView([{CITY[0]}, {CITY[1]}], {CITY[2]}, "
                            "{animate: false}); return t; }")
    page.wait_for_function(f"() => {{ const l = GeoCommune.debug().layers['{LAYER}']; return l.draws > {draws} && !l.inflight; }}",
                           timeout=60_000)
    street = page.evaluate(f"() => GeoCommune.debug().layers['{LAYER}']")
    street_s = (street["lastDrawAt"] - started) / 1000
    context.close()
    return {"first_s": first, "mode": state["mode"], "matched": state["matched"], "page_bytes": weight["page"],
            "api_bytes": weight["api"], "street_s": street_s, "street_mode": street["mode"], "street_shown": street["shown"],
            "errors": errors, "blocked": blocked}


def measure_naive(browser, url: str) -> dict:
    blocked: list[str] = []
    context, page = new_page(browser, blocked)
    started = time.perf_counter()
    page.goto(url, wait_until="commit", timeout=300_000)
    page.wait_for_function("() => document.querySelector('.leaflet-marker-icon, .leaflet-interactive') !== null",
                           timeout=300_000, polling=100)
    first = page.evaluate("() => performance.now()") / 1000
    wall = time.perf_counter() - started
    page.wait_for_load_state("load", timeout=300_000)
    weight = page.evaluate(WEIGHT_JS, False)
    markers = page.evaluate("() => document.querySelectorAll('.leaflet-marker-icon').length")
    context.close()
    return {"first_s": first, "wall_s": wall, "page_bytes": weight["page"], "markers": markers, "blocked": blocked}


def append_results(results: Path, row: list[str]) -> None:
    if not results.exists():
        results.write_text(
            "# Map benchmark — live map vs naive Folium map\n\n"
            "Written by `bench/map.py` (see `bench/README.md`); one row per run, newest last. Medians over the runs.\n"
            f"Targets: live page ≤ {TARGET_PAGE_KB} KB, first features ≤ {TARGET_FIRST_S} s.\n\n" + TABLE_HEADER,
            encoding="utf-8")
    with results.open("a", encoding="utf-8") as fh:
        fh.write("| " + " | ".join(row) + " |\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Carte en direct face à une carte Folium naïve, dans Chromium sans écran.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="DAE générés et publiés (défaut : 1 000 000)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--naive", type=int, default=100_000, help="points embarqués dans la carte naïve (défaut : 100 000)")
    parser.add_argument("--runs", type=int, default=3, help="mesures de la carte en direct (médiane ; défaut : 3)")
    parser.add_argument("--naive-runs", type=int, default=1,
                        help="mesures de la carte naïve (médiane ; défaut : 1, chacune prend des minutes à 100 000 points)")
    parser.add_argument("--data", type=Path, default=None, help="dossier de données déjà publié (sinon : généré)")
    parser.add_argument("--out", type=Path, default=BENCH_DIR / "out")
    parser.add_argument("--results", type=Path, default=BENCH_DIR / "RESULTS-map.md")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    data = published_data(args)
    work = args.out / "map-bench"
    work.mkdir(parents=True, exist_ok=True)
    port, static_port = free_port(), free_port()
    api = f"http://127.0.0.1:{port}"
    log = work / "server.log"
    env = {**os.environ, "GEOCOMMUNE_DATA": str(data), "GEOCOMMUNE_HOST": "127.0.0.1", "GEOCOMMUNE_PORT": str(port),
           "GEOCOMMUNE_WORKERS": "2", "GEOCOMMUNE_URL": "", "GEOCOMMUNE_STORE": ""}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with log.open("wb") as sink:
        server = subprocess.Popen([sys.executable, "-m", "tests.map.serve"], cwd=PROJECT, env=env, stdout=sink,
                                  stderr=subprocess.STDOUT)
    static = None
    try:
        wait_http(api + "/carte", server, log)
        total = requests.get(f"{api}/collections/{LAYER}/items", params={"f": "json", "limit": 1}, timeout=60).json()["numberMatched"]
        naive_html = work / "naive.html"
        print(f"» carte naïve : {args.naive} points depuis l'API…", flush=True)
        built = subprocess.run([sys.executable, "-c", NAIVE_BUILDER, api, str(args.naive), str(naive_html), naive_assets(api)],
                               capture_output=True, text=True, check=True)
        naive_count = int(built.stdout.strip().splitlines()[-1])
        static = subprocess.Popen([sys.executable, "-m", "http.server", str(static_port), "--bind", "127.0.0.1",
                                   "--directory", str(work)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(f"http://127.0.0.1:{static_port}/", static, log)
        live, naive = [], []
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            chromium_version = browser.version
            for run in range(max(args.runs, args.naive_runs)):
                if run < args.runs:
                    live.append(measure_live(browser, api))
                    print(f"  essai {run + 1} : carte en direct {live[-1]['first_s']:.2f} s ({live[-1]['mode']})", flush=True)
                if run < args.naive_runs:
                    naive.append(measure_naive(browser, f"http://127.0.0.1:{static_port}/naive.html"))
                    print(f"  essai {run + 1} : carte naïve {naive[-1]['first_s']:.2f} s", flush=True)
            browser.close()
    finally:
        if static is not None:
            stop(static)
        stop(server)

    med = lambda rows, key: statistics.median(r[key] for r in rows)  # noqa: E731
    live_page_kib, naive_page_kib = med(live, "page_bytes") / 1024, med(naive, "page_bytes") / 1024
    print()
    print(f"{'':34}{'carte en direct':>18}{'Folium naïve':>18}")
    print(f"{'entités':34}{total:>18,}{naive_count:>18,}".replace(",", " "))
    print(f"{'poids de la page (Kio)':34}{live_page_kib:>18.0f}{naive_page_kib:>18.0f}")
    print(f"{'premières entités (s)':34}{med(live, 'first_s'):>18.2f}{med(naive, 'first_s'):>18.2f}")
    print(f"{'vue rue, nouvelle bbox (s)':34}{med(live, 'street_s'):>18.2f}{'—':>18}")
    print(f"{'données de la 1re vue (Kio)':34}{med(live, 'api_bytes') / 1024:>18.1f}{'(dans la page)':>18}")
    print(f"première vue de la carte en direct : {live[0]['mode']} ; vue rue : {live[0]['street_mode']}, "
          f"{live[0]['street_shown']} marqueurs ; erreurs console : {sum(len(r['errors']) for r in live)}")
    blocked = sorted({u for r in naive for u in r["blocked"]})
    if blocked:
        print(f"carte naïve : {len(blocked)} adresse(s) de CDN sans copie locale, bloquées : {', '.join(blocked)}")
    ok_page, ok_first = live_page_kib * 1.024 <= TARGET_PAGE_KB, med(live, "first_s") <= TARGET_FIRST_S
    print(f"objectifs : page ≤ {TARGET_PAGE_KB} Ko : {'oui' if ok_page else 'NON'} ; "
          f"premières entités ≤ {TARGET_FIRST_S} s : {'oui' if ok_first else 'NON'}")
    load1 = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    row = [dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M"), f"{total:,}".replace(",", " "), f"{live_page_kib:.0f}",
           f"{med(live, 'first_s'):.2f}", f"{med(live, 'street_s'):.2f}", f"{med(live, 'api_bytes') / 1024:.1f}",
           f"{naive_count:,}".replace(",", " "), f"{naive_page_kib:.0f}", f"{med(naive, 'first_s'):.2f}",
           f"{args.runs}/{args.naive_runs}",
           str(os.cpu_count()), f"{load1:.2f}", cpu_model().replace("|", "/"), chromium_version,
           package_version("folium"), package_version("geocommune")]
    append_results(args.results, row)
    print(f"machine : {os.cpu_count()} cœurs, charge {load1:.2f}, {cpu_model()}, Python {platform.python_version()}")
    print(f"live_page_kib={live_page_kib:.0f} live_first_s={med(live, 'first_s'):.2f} "
          f"naive_page_kib={naive_page_kib:.0f} naive_first_s={med(naive, 'first_s'):.2f}")
    return 0 if ok_page and ok_first else 1


if __name__ == "__main__":
    sys.exit(main())
