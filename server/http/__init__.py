"""The HTTP layer around pygeoapi: parameter checks, errors, caching, CORS, gzip, health
and metrics (see ``layer.py`` for the order in which they apply)."""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any, Mapping

from flask import Flask

from layers.settings import Settings

from .fast_reads import FastJsonReads
from .layer import HttpLayer, install
from .metrics import Metrics, prepare
from .openapi import repair_openapi
from .routing import collections_from_config

__all__ = ["HttpLayer", "install_http_layer", "repair_openapi"]


def install_http_layer(
    app: Flask, settings: Settings, config: Mapping[str, Any], runtime_files: tuple[Path, ...], runtime_dir: Path
) -> Flask:
    """Wrap pygeoapi's ``app``; ``runtime_files`` (the generated configuration and OpenAPI
    document) make the configuration part of every ETag."""
    digest = hashlib.sha256()
    for path in runtime_files:
        digest.update(Path(path).read_bytes())
    metrics = Metrics(prepare(runtime_dir / "metrics"))
    from server.provider import shared_store  # the provider's store: one per process

    layer = HttpLayer(settings, shared_store(settings), collections_from_config(config), digest.hexdigest()[:16], metrics)
    app = install(app, layer)
    # The hot JSON reads, answered before Flask (fast_reads.py); pygeoapi's API object of
    # this app gives the configuration and URLs its documents carry.
    api = sys.modules["pygeoapi.flask_app"].api_
    app.wsgi_app = FastJsonReads(app.wsgi_app, layer, api, lambda: app.extensions.get("geocommune_usage"))
    return app
