"""What each server worker runs (``server/run.py``): the WSGI app, built in the worker from
the runtime files the main process wrote before starting it — never written by a worker, so
two workers starting (or one being replaced) never rewrite them under the others.

``worker_app(settings, files)`` is granian's loader (called once per worker, after the fork).
"""

from __future__ import annotations

import os

from layers.settings import Settings

from .app import RuntimeFiles, app_from_files
from .usage.buffer import flush_at_process_exit

# CGI request variables. granian starts every request's WSGI environ from a copy of the
# process environment (CGI style), taken right after this loader returns: a variable of the
# machine's environment with one of these names — ``HTTP_PROXY`` is a common one — would
# read as a header or a property of every request ("httpoxy").
_REQUEST_VARIABLES = frozenset({
    "CONTENT_LENGTH", "CONTENT_TYPE", "PATH_INFO", "QUERY_STRING", "REMOTE_ADDR", "REMOTE_HOST",
    "REQUEST_METHOD", "SCRIPT_NAME", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
})


def request_variables_removed() -> list[str]:
    """Remove the process environment's request-like variables (this worker only)."""
    names = [name for name in os.environ if name.startswith("HTTP_") or name in _REQUEST_VARIABLES]
    for name in names:
        del os.environ[name]
    return names


def worker_app(settings: Settings, files: RuntimeFiles):
    app = app_from_files(settings, files)
    flush_at_process_exit()  # the worker's last usage counts, when it stops
    request_variables_removed()
    return app
