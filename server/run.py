"""Production serving: granian in front of the pygeoapi Flask app.

``serve(settings)`` is what the CLI calls. Why granian: its HTTP layer (connections, parsing,
keep-alive, access log timing) is Rust, so a request costs the server about 0.07 ms of CPU
above the application's own work, where gunicorn's gthread worker spent 0.28 ms — more than
a first page or a single item costs to query at a million points.

Start-up, in this order:

1. this process (granian's main process, which serves nothing) writes the configuration and
   OpenAPI files once (``write_runtime_files``), empties the metrics folder, closes its store;
2. granian binds the socket and forks ``GEOCOMMUNE_WORKERS`` workers (``fork`` is forced:
   what the main process prepared — the metrics folder, imported modules — is inherited);
3. each worker builds the app from those files (``server.wsgi.worker_app``) and serves it
   with ``GEOCOMMUNE_THREADS`` Python threads; it opens its own SQLite connections or
   PostgreSQL pool on first use (``GEOCOMMUNE_PG_POOL`` connections at most, shared by the
   worker's threads; the database sees at most workers × pool connections).

A worker that dies is replaced; SIGTERM / SIGINT stop the workers gracefully (in-flight
requests finish, usage counts are written) and the main process exits.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
from typing import Any

from layers.settings import Settings, load_settings

LOGGER = logging.getLogger(__name__)

GRACEFUL_STOP = 10  # seconds a stopping worker gets to finish its requests before SIGKILL
# Access log as gunicorn's (common log format, query string included), plus the time taken.
ACCESS_LOG_FORMAT = ('%(addr)s - - [%(time)s] "%(method)s %(path)s?%(query_string)s %(protocol)s" '
                     "%(status)d %(dt_ms).1fms")
# Seconds a client has to send a request's headers, and also how long an idle keep-alive
# connection is kept open between two requests (hyper applies its header read timeout to both).
KEEP_ALIVE_IDLE = 5


def bind_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def server_options(settings: Settings, *, access_log: bool = True) -> dict[str, Any]:
    """granian's ``Server`` arguments for ``settings`` (the target is given to ``serve``)."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    return {
        "address": settings.host.strip("[]"),  # granian brackets an IPv6 address itself
        "port": int(settings.port),
        "interface": Interfaces.WSGI,
        "websockets": False,  # not in WSGI anyway (granian would log that it ignores them)
        "workers": max(1, int(settings.workers)),
        # Python threads per worker, running the app; connections are held by the Rust side,
        # so an idle keep-alive client occupies no thread. Everything a worker shares between
        # its threads is locked (SQLite readers, caches, PostgreSQL pool). No `backpressure`:
        # granian counts it in connections, not requests (default backlog ÷ workers = 512).
        "blocking_threads": max(1, int(settings.threads)),
        "http1_settings": HTTP1Settings(keep_alive=True, header_read_timeout=KEEP_ALIVE_IDLE * 1000),
        "respawn_failed_workers": True,
        "workers_kill_timeout": GRACEFUL_STOP,
        "log_access": access_log,
        "log_access_format": ACCESS_LOG_FORMAT,
        "log_level": LogLevels.info,
        "process_name": "geocommune" if _can_name_processes() else None,
    }


def _can_name_processes() -> bool:
    # granian names its processes through setproctitle (an optional extra) and refuses a
    # name without it; gunicorn ignored its proc_name silently in the same case.
    try:
        import setproctitle  # noqa: F401
    except ImportError:
        return False
    return True


def prepare_workers(settings: Settings):
    """What the main process does once, before any worker exists; returns the runtime files."""
    from .app import runtime_dir, write_runtime_files
    from .http.metrics import prepare as prepare_metrics
    from .provider import close_stores

    files = write_runtime_files(settings)
    # prometheus_client picks its storage at import: import it here, after the folder is
    # set, so that the forked workers record into it and none of them empties it again.
    prepare_metrics(runtime_dir(settings) / "metrics")
    import prometheus_client  # noqa: F401

    close_stores()  # the main process serves nothing: no connection of its own kept across the fork
    return files


def serve(settings: Settings, *, access_log: bool | None = None) -> None:
    """Run the API until interrupted (SIGINT / SIGTERM stop it gracefully)."""
    from granian import Granian

    from .wsgi import worker_app

    if settings.host in ("0.0.0.0", "::"):
        LOGGER.warning("écoute sur toutes les interfaces réseau (%s), comme demandé", settings.host)
    files = prepare_workers(settings)
    # granian forks or spawns as multiprocessing's start method says; Python 3.14 makes it
    # "forkserver", which granian turns into spawn. Fork, so that the workers inherit what
    # prepare_workers set up (worker_app itself would also work in a spawned worker).
    multiprocessing.set_start_method("fork", force=True)
    logged = settings.access_log if access_log is None else access_log
    server = Granian("server.wsgi:worker_app", **server_options(settings, access_log=logged))
    # Built in each worker; a partial of plain data, so it would survive pickling too.
    server.serve(target_loader=functools.partial(worker_app, settings, files), wrap_loader=False)


if __name__ == "__main__":  # python -m server.run: settings from GEOCOMMUNE_* variables only
    serve(load_settings())
