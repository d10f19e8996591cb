"""Usage figures: per layer and per format, API requests and downloads by day, counted by
each worker (``counting.py``, ``buffer.py``), kept in the store (``layers/store/usage.py``,
``pg_usage.py``) and shown at ``/stats`` (``routes.py``: a chart per layer, or JSON).

Settings: ``GEOCOMMUNE_USAGE`` (0 disables counting; ``/stats`` still shows what was
counted) and ``GEOCOMMUNE_USAGE_FLUSH`` (seconds between two writes of a worker's counts).
"""

from __future__ import annotations

from flask import Flask

from layers.settings import Settings

from .buffer import flush_all, flush_at_process_exit
from .routes import blueprint
from .state import EXTENSION, UsageState

__all__ = ["flush_all", "flush_at_process_exit", "register"]


def register(app: Flask, settings: Settings) -> Flask:
    """Count the uses of ``app`` and serve ``/stats``. Call after ``install_http_layer``:
    Flask runs ``after_request`` hooks in reverse order of registration, so ours sees the
    response before the HTTP layer compresses it (and sees its 304s and error statuses)."""
    if EXTENSION in app.extensions:
        return app
    state = UsageState(app, settings)
    app.extensions[EXTENSION] = state
    if settings.usage:
        app.after_request(state.after)
    app.register_blueprint(blueprint)
    return app
