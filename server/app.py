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

from . import conformance, provider
from .http import install_http_layer, repair_openapi
from .map.routes import register as register_map
from .sortables import register as register_sortables
from .downloads import register as register_downloads
from .dcat import register as register_metadata
from .usage import register as register_usage
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
    # The process's store, shared with the provider and the HTTP layer; the provider takes
    # the PostGIS URL (credentials included) from these settings, not from the files.
    store = provider.configure(settings)
    folder = runtime_dir(settings)
    config = build_config(settings, catalogue, store)
    config_path = write_yaml(config, folder / "pygeoapi.yml")
    # get_oas loads our provider for each collection (queryables); a store that cannot be
    # reached gives collections described without their fields rather than no server.
    # repair_openapi: pygeoapi's document refers to remote OGC schemas and misdescribes some
    # responses (see server/http/openapi.py); the served document is the repaired one.
    with provider.describing():
        document = get_oas(config)
    openapi_path = write_yaml(repair_openapi(document, config), folder / "openapi.yml")
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
OWN_LOGGERS = ("geocommune", "server", "layers")


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
    # pygeoapi's logging level (ERROR, in the configuration) silences its own chatter; our
    # warnings — database unreachable, back, started without it — are for the operator.
    for name in OWN_LOGGERS:
        if logging.getLogger(name).level == logging.NOTSET:
            logging.getLogger(name).setLevel(logging.WARNING)
    api_logger = logging.getLogger("pygeoapi.api")
    if _CLIENT_ERROR_FILTER not in api_logger.filters:
        api_logger.addFilter(_CLIENT_ERROR_FILTER)
    app.debug = False  # never Flask's debugger in geocommune
    return app


def create_app(settings: Settings):
    """Write the runtime files into ``<data_dir>/.runtime/`` and return the WSGI app:
    pygeoapi's Flask app wrapped by the HTTP layer (``server/http/``)."""
    return app_from_files(settings, write_runtime_files(settings))


def app_from_files(settings: Settings, files: RuntimeFiles):
    """The WSGI app for runtime files already written (a server worker: by the main process)."""
    provider.configure(settings)  # this process's store (opened on first use, in this process)
    app = load_flask_app(files)
    config = sys.modules["pygeoapi.flask_app"].CONFIG  # exactly what pygeoapi serves
    app = install_http_layer(app, settings, config, (files.config, files.openapi), runtime_dir(settings))
    register_sortables(app, settings)  # /collections/{id}/sortables (pygeoapi 0.24 has none)
    register_downloads(app, settings)  # /collections/{id}/download.{geojson,csv,gpkg,fgb}
    register_metadata(app, settings)  # collections' metadata members and /catalogue.jsonld (DCAT-AP)
    register_usage(app, settings)  # usage counters (after the HTTP layer's hooks) and /stats
    return register_map(app, settings)  # /carte, /map, nearest and aggregate endpoints
