"""The WSGI application: pygeoapi's Flask app, configured for the published layers.

pygeoapi reads its configuration and OpenAPI document at *import* time of
``pygeoapi.flask_app`` (module globals ``CONFIG``, ``OPENAPI``, ``APP``), from the files
named by ``PYGEOAPI_CONFIG`` and ``PYGEOAPI_OPENAPI``. So we generate both files first,
point the variables at them, and only then import (or re-import) that module.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pygeoapi.error import GenericError
from pygeoapi.openapi import get_oas

from layers.catalogue import get_catalogue
from layers.settings import Settings
from layers.store import open_store

from . import conformance
from .http import install_http_layer, repair_openapi
from .pygeoapi_config import build_config, write_yaml

RUNTIME_DIR = ".runtime"


@dataclass(frozen=True)
class RuntimeFiles:
    config: Path
    openapi: Path


def runtime_dir(settings: Settings) -> Path:
    return Path(settings.data_dir).resolve() / RUNTIME_DIR


def write_runtime_files(settings: Settings) -> RuntimeFiles:
    """Generate ``pygeoapi.yml`` and ``openapi.yml`` from the catalogue and the store."""
    catalogue = get_catalogue(settings.catalogue)
    store = open_store(settings)
    folder = runtime_dir(settings)
    config = build_config(settings, catalogue, store)
    config_path = write_yaml(config, folder / "pygeoapi.yml")
    # get_oas loads our provider for each collection (queryables): the store must be readable.
    # repair_openapi: pygeoapi's document refers to remote OGC schemas and misdescribes some
    # responses (see server/http/openapi.py); the served document is the repaired one.
    openapi_path = write_yaml(repair_openapi(get_oas(config), config), folder / "openapi.yml")
    return RuntimeFiles(config_path, openapi_path)


class _ClientErrorFilter(logging.Filter):
    """Workaround for pygeoapi's ``API.get_exception``, which logs every error response at
    ERROR level with its traceback — including a 404 for an unknown id or a 400 for an
    unsupported filter. Those are the client's mistakes, already visible in the access
    log; keeping them out leaves the error log for real server faults (5xx)."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        status = getattr(error, "http_status_code", None)
        return not (isinstance(error, GenericError) and status is not None and int(status) < 500)


_CLIENT_ERROR_FILTER = _ClientErrorFilter()


def load_flask_app(files: RuntimeFiles):
    """Import pygeoapi's Flask module against our files and return its ``APP``."""
    os.environ["PYGEOAPI_CONFIG"] = str(files.config)
    os.environ["PYGEOAPI_OPENAPI"] = str(files.openapi)
    conformance.apply()  # our named corrections to pygeoapi (conformance list, links, queryables)
    # pygeoapi caches the translated configuration per language for the whole process:
    # a second app in the same process (tests, reload) must not render the first one's.
    getattr(importlib.import_module("pygeoapi.l10n"), "_cfg_cache", {}).clear()
    module = sys.modules.get("pygeoapi.flask_app")
    # Already imported in this process (tests, a second create_app): its globals hold the
    # previous configuration, so re-run the module body.
    module = importlib.reload(module) if module is not None else importlib.import_module("pygeoapi.flask_app")
    app = module.APP
    api_logger = logging.getLogger("pygeoapi.api")
    if _CLIENT_ERROR_FILTER not in api_logger.filters:
        api_logger.addFilter(_CLIENT_ERROR_FILTER)
    app.debug = False  # never Flask's debugger in geocommune
    return app


def create_app(settings: Settings):
    """Write the runtime files into ``<data_dir>/.runtime/`` and return the WSGI app:
    pygeoapi's Flask app wrapped by the HTTP layer (``server/http/``)."""
    files = write_runtime_files(settings)
    app = load_flask_app(files)
    config = sys.modules["pygeoapi.flask_app"].CONFIG  # exactly what pygeoapi serves
    return install_http_layer(app, settings, config, (files.config, files.openapi), runtime_dir(settings))
