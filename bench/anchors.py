"""How each measured server is started, with the same worker count, on the same data.

* ``ours-gpkg`` / ``ours-pg``: ``geocommune serve`` (granian, as shipped) on the GeoPackage
  folder / on the dataset's PostGIS schema (``GEOCOMMUNE_STORE``);
* ``tipg``: tipg (its own venv, ``bench/out/venv-tipg``) under ``uvicorn --workers N`` on the same
  PostGIS table, ``id`` as its feature id;
* ``pygeoapi-pg``: stock pygeoapi with its PostgreSQL provider (own venv ``bench/out/venv-pygeoapi``,
  for psycopg2/GeoAlchemy2) under gunicorn (sync workers) on the same table;
* ``pygeoapi-geojson``: stock pygeoapi (the same venv) with its GeoJSON provider on the layer exported to GeoJSON;
* ``nginx``: Debian's nginx serving pre-rendered files of our responses' sizes (the HTTP floor);
* ``floor-http-gpkg`` / ``floor-http-pg``: the in-process floor's loop as a bare WSGI app under
  granian with our server's settings (``floor_http.py``): what serving it from Python costs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from common import BENCH_DIR, CRS84, CRS_2154, HOST, free_port, geocommune_command
from datasets import Dataset
from servers import Server, start_server

NGINX = Path("/usr/sbin/nginx")


@dataclass
class Context:
    ds: Dataset
    workers: int
    run_dir: Path
    gpkg_data: Path
    pg_url: str | None  # the dataset's store URL (…?schema=…), None without PostGIS
    extent: list[float]
    venv_tipg: Path
    venv_pygeoapi: Path
    anchor_timeout: float


def start_ours(ctx: Context, store: str) -> Server:
    port = free_port()
    env = {"GEOCOMMUNE_STORE": ctx.pg_url} if store == "pg" and ctx.pg_url else {"GEOCOMMUNE_STORE": ""}
    # No access log, as every anchor runs (uvicorn --no-access-log, nginx access_log off,
    # gunicorn's default): the same work per request for all.
    env["GEOCOMMUNE_ACCESS_LOG"] = "0"
    cmd = [*geocommune_command(), "--data", str(ctx.gpkg_data), "serve", "--no-demo", "--host", HOST,
           "--port", str(port), "--workers", str(ctx.workers)]
    server = start_server(f"ours-{store}", cmd, port=port, log=ctx.run_dir / f"ours-{store}.log", cwd=ctx.run_dir,
                          env=env)
    shown = "PostGIS, schéma du jeu de données" if store == "pg" else "(vide : GeoPackage)"
    server.settings = [f"`geocommune --data DOSSIER serve --no-demo --workers {ctx.workers}` (granian, tel que livré)",
                       f"`GEOCOMMUNE_STORE` {shown} ; `GEOCOMMUNE_ACCESS_LOG=0` (aucun serveur ne journalise les accès)"]
    return server


def _pg_parts(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    return {"host": parts.hostname, "port": parts.port, "dbname": parts.path.lstrip("/"),
            "user": parts.username or "", "password": parts.password or ""}


def start_tipg(ctx: Context) -> Server:
    assert ctx.pg_url
    port = free_port()
    base_url = ctx.pg_url.split("?", 1)[0]
    confid = f"{ctx.ds.schema}_{ctx.ds.table}"
    env = {
        "DATABASE_URL": base_url,
        "TIPG_DB_SCHEMAS": json.dumps([ctx.ds.schema]),
        f"TIPG_TABLE_CONFIG__{confid}__PK": "id",  # our text ids, as /items/{id} of ours
        f"TIPG_TABLE_CONFIG__{confid}__GEOMCOL": "geom",
        "TIPG_MAX_FEATURES_PER_QUERY": "10000",  # W7: the whole 10k layer in one page, as ours
        "TIPG_DEBUG": "false",
    }
    cmd = [str(ctx.venv_tipg / "bin" / "uvicorn"), "tipg.main:app", "--host", HOST, "--port", str(port),
           "--workers", str(ctx.workers), "--no-access-log", "--log-level", "warning"]
    server = start_server("tipg", cmd, port=port, log=ctx.run_dir / "tipg.log", cwd=ctx.run_dir, env=env)
    server.settings = [f"`uvicorn tipg.main:app --workers {ctx.workers} --no-access-log`"] + \
        [f"`{k.replace(ctx.ds.schema, 'SCHEMA')}={v.replace(ctx.ds.schema, 'SCHEMA')}`" for k, v in env.items()
         if k != "DATABASE_URL"] + ["pool asyncpg par processus : défauts (1–10)"]
    return server


def _pygeoapi_config(ctx: Context, port: int, provider: dict[str, Any]) -> dict[str, Any]:
    """A minimal pygeoapi configuration: one collection, one stock provider."""
    return {
        "server": {
            "bind": {"host": HOST, "port": port}, "url": f"http://{HOST}:{port}",
            "mimetype": "application/json; charset=UTF-8", "encoding": "utf-8", "gzip": False,
            "languages": ["fr"], "cors": False, "pretty_print": False,
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
            ctx.ds.layer: {
                "type": "collection", "title": ctx.ds.label, "description": "Couche publiée par geocommune",
                "keywords": ["bench"], "links": [],
                "extents": {"spatial": {"bbox": ctx.extent, "crs": CRS84}},
                "providers": [{"type": "feature", "id_field": "id", "crs": [CRS84, CRS_2154], "storage_crs": CRS84,
                               **provider}],
            }
        },
    }


def _start_pygeoapi(ctx: Context, name: str, python: Path, provider: dict[str, Any],
                    openapi_provider: dict[str, Any]) -> Server:
    port = free_port()
    config = ctx.run_dir / f"{name}.yml"
    openapi_config = ctx.run_dir / f"{name}-openapi-source.yml"
    openapi = ctx.run_dir / f"{name}-openapi.yml"
    config.write_text(yaml.safe_dump(_pygeoapi_config(ctx, port, provider), allow_unicode=True), encoding="utf-8")
    openapi_config.write_text(yaml.safe_dump(_pygeoapi_config(ctx, port, openapi_provider), allow_unicode=True),
                              encoding="utf-8")
    bindir = python.parent
    subprocess.run([str(bindir / "pygeoapi"), "openapi", "generate", str(openapi_config), "--output-file",
                    str(openapi)], check=True, capture_output=True, env={"PYGEOAPI_CONFIG": str(openapi_config),
                                                                          "PATH": str(bindir)}, timeout=300)
    cmd = [str(python), "-m", "gunicorn", "--bind", f"{HOST}:{port}", "--workers", str(ctx.workers),
           "--worker-class", "sync", "--timeout", str(int(ctx.anchor_timeout) + 30), "--graceful-timeout", "5",
           "--no-control-socket", "--log-level", "warning", "pygeoapi.flask_app:APP"]
    server = start_server(name, cmd, port=port, log=ctx.run_dir / f"{name}.log", cwd=ctx.run_dir,
                          env={"PYGEOAPI_CONFIG": str(config), "PYGEOAPI_OPENAPI": str(openapi)})
    shown = {k: v for k, v in provider.items() if k != "data" or not isinstance(v, dict)}
    if isinstance(provider.get("data"), dict):
        shown["data"] = {k: v for k, v in provider["data"].items() if k not in ("password", "port")}
    elif "data" in shown:
        shown["data"] = Path(str(shown["data"])).name
    described = json.dumps(shown, ensure_ascii=False).replace(ctx.ds.schema, "SCHEMA")
    server.settings = [f"`gunicorn pygeoapi.flask_app:APP --workers {ctx.workers} --worker-class sync`",
                       f"fournisseur : `{described}`",
                       "`limits.max_items: 10000`, `pretty_print: false`, `gzip: false`, journal ERROR"]
    return server


def start_pygeoapi_pg(ctx: Context) -> Server:
    assert ctx.pg_url
    data = {**_pg_parts(ctx.pg_url.split("?", 1)[0]), "search_path": [ctx.ds.schema]}
    provider = {"name": "PostgreSQL", "data": data, "table": ctx.ds.table, "geom_field": "geom"}
    return _start_pygeoapi(ctx, "pygeoapi-pg", ctx.venv_pygeoapi / "bin" / "python", provider, provider)


def start_pygeoapi_geojson(ctx: Context, full: Path, sample: Path) -> Server:
    # The OpenAPI document only needs the fields: generated on a 10-feature sample of the same
    # layer (the provider would otherwise parse the whole file once more at start-up).
    # Stock pygeoapi's own venv (gunicorn is there; geocommune itself is served by granian).
    return _start_pygeoapi(ctx, "pygeoapi-geojson", ctx.venv_pygeoapi / "bin" / "python",
                           {"name": "GeoJSON", "data": str(full)}, {"name": "GeoJSON", "data": str(sample)})


def nginx_config(prefix: Path, root: Path, port: int, workers: int) -> str:
    return f"""# generated by bench/anchors.py: the HTTP floor, static files of our responses' sizes
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 65;
    keepalive_requests 1000000;
    default_type application/geo+json;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    server {{
        listen {HOST}:{port};
        root {root};
        location / {{ }}
    }}
}}
"""


def start_nginx(ctx: Context, root: Path) -> Server:
    port = free_port()
    prefix = ctx.run_dir / "nginx"
    (prefix / "tmp").mkdir(parents=True, exist_ok=True)
    conf = prefix / "nginx.conf"
    conf.write_text(nginx_config(prefix, root, port, ctx.workers), encoding="utf-8")
    (root / "ready").write_text("ok\n", encoding="utf-8")
    cmd = [str(NGINX), "-p", str(prefix), "-c", str(conf), "-g", "daemon off;"]
    server = start_server("nginx", cmd, port=port, log=ctx.run_dir / "nginx.log", cwd=ctx.run_dir, env={},
                          ready_path="/ready", startup_timeout=30)
    server.settings = [f"`worker_processes {ctx.workers}; access_log off; sendfile on; keepalive_requests 1000000;`",
                       "un fichier par URL : nos réponses enregistrées (mêmes octets)"]
    return server


# granian's Python threads per worker in our server: layers/settings.py's default (the benchmark's
# process does not import ``layers``), or the GEOCOMMUNE_THREADS both servers would read.
OUR_THREADS = int(os.environ.get("GEOCOMMUNE_THREADS", "4"))


def start_floor_http(ctx: Context, store: str, spec: Path) -> Server:
    """floor_http.py (the in-process floor as a bare WSGI app) under granian, as our server runs."""
    port = free_port()
    cmd = [sys.executable, "-m", "granian", "--interface", "wsgi", "--host", HOST, "--port", str(port),
           "--workers", str(ctx.workers), "--blocking-threads", str(OUR_THREADS), "--no-ws", "--no-access-log",
           "--working-dir", str(BENCH_DIR), "floor_http:app"]
    server = start_server(f"floor-http-{store}", cmd, port=port, log=ctx.run_dir / f"floor-http-{store}.log",
                          cwd=ctx.run_dir, env={"GEOCOMMUNE_FLOOR_SPEC": str(spec)}, ready_path="/ready")
    server.settings = [f"`granian --interface wsgi --workers {ctx.workers} --blocking-threads {OUR_THREADS} --no-ws "
                       "--no-access-log floor_http:app` (les réglages de notre serveur)",
                       "l'application : la boucle du plancher en processus (`floor.py`), URL `/{charge}/{n}`, "
                       "aucun en-tête hors Content-Type et Content-Length"]
    return server
