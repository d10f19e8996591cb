"""Production serving: gunicorn in front of the pygeoapi Flask app.

``serve(settings)`` is what the CLI calls. The configuration and OpenAPI files are
generated once, in the gunicorn master (``preload_app``); the workers are forked from it
and open their own connections: the master closes its store once the application is
loaded, and each worker creates its SQLite connections or its PostgreSQL pool on first use
(a pool per worker, ``GEOCOMMUNE_PG_POOL`` connections at most, shared by the worker's
``GEOCOMMUNE_THREADS`` threads; the database sees at most workers × pool connections).
"""

from __future__ import annotations

import logging

from gunicorn.app.base import BaseApplication

from layers.settings import Settings, load_settings

LOGGER = logging.getLogger(__name__)


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def _usage_worker_exit(server: object, worker: object) -> None:
    from .usage import worker_exit

    worker_exit(server, worker)


class GeocommuneServer(BaseApplication):
    """gunicorn's programmatic entry: options from Settings, never from sys.argv."""

    def __init__(self, settings: Settings, options: dict[str, object] | None = None) -> None:
        self.settings = settings
        self.options = {
            "bind": bind_address(settings.host, settings.port),
            "workers": max(1, int(settings.workers)),
            # Threaded workers: a client keeps its connection between requests (the sync worker
            # closes it after each one, and on a loaded machine waits for the scheduler at each
            # accept). Measured on the first page and single item at 100k points, 2 workers,
            # 8 connections: 2.6–3.2× the requests/s of the sync worker. Everything a worker
            # shares between its threads is locked (SQLite readers, caches, PostgreSQL pool).
            "worker_class": "gthread",
            "threads": max(1, int(settings.threads)),
            "keepalive": 5,
            "preload_app": True,
            "timeout": 60,
            "graceful_timeout": 10,
            "accesslog": "-",
            "errorlog": "-",
            "loglevel": "info",
            "proc_name": "geocommune",
            # gunicorn ≥ 24 opens a control socket at a fixed path in the home folder:
            # two servers on one machine (tests, staging) would fight over it.
            "control_socket_disable": True,
            # A worker's last usage counts (server/usage/buffer.py), on every graceful exit.
            "worker_exit": _usage_worker_exit,
            **(options or {}),
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self):
        from .app import create_app
        from .provider import close_stores

        app = create_app(self.settings)
        close_stores()  # the master serves nothing: no connection of its own kept across the fork
        return app


def serve(settings: Settings) -> None:
    """Run the API until interrupted (SIGINT / SIGTERM stop gunicorn gracefully)."""
    if settings.host in ("0.0.0.0", "::"):
        LOGGER.warning("écoute sur toutes les interfaces réseau (%s), comme demandé", settings.host)
    GeocommuneServer(settings).run()


if __name__ == "__main__":  # python -m server.run: settings from GEOCOMMUNE_* variables only
    serve(load_settings())
