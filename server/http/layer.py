"""The HTTP layer around pygeoapi's Flask app, wired through Flask's own hooks.

Before pygeoapi sees a request (``before_request``):
  CORS preflight → our 204; unknown collection → 404; parameters checked against the
  table (``params.py``) → 400 naming the parameter; ETag / Last-Modified computed from
  the published layers → 304 when the client's copy is current.
After pygeoapi answered (``after_request``), in this order:
  JSON text restored (``json_text.py``); caching headers (or ``no-store`` for errors);
  CORS; ``Vary``; gzip (last: it must see the final body); metrics.
Any exception that escapes a view (``errorhandler``): the one status table
(``errors.py``), a JSON body, the traceback only in the log.
"""

from __future__ import annotations

import logging
import time
from typing import Mapping

import orjson
from flask import Blueprint, Flask, Response, g, request
from werkzeug.datastructures import Headers

from layers.settings import Settings
from layers.store import Store

from . import caching, compression, cors
from .errors import OWN_RESPONSE, RETRY_AFTER_SECONDS, UnknownResource, error_response, server_error_body
from .health import health_report
from .json_text import is_json, restore_json_text
from .metrics import Metrics
from .params import Context, validate
from .request_metadata import request_metadata
from .routing import COLLECTION_KINDS, OGC_KINDS, CollectionInfo, Route, classify

LOGGER = logging.getLogger("geocommune.http")

NO_STORE_KINDS = frozenset({"health", "metrics"})
FIELD_KINDS = frozenset({"items", "queryables"})  # parameters checked against the layer's properties


class HttpLayer:
    def __init__(
        self,
        settings: Settings,
        store: Store,
        collections: dict[str, CollectionInfo],
        config_token: str,
        metrics: Metrics,
    ) -> None:
        self.store = store
        self.collections = collections
        self.config_token = config_token
        self.max_age = settings.cache_max_age
        self.metrics = metrics

    # -- before pygeoapi ---------------------------------------------------------------
    def field_types(self, route: Route) -> Mapping[str, str]:
        """The layer's properties, for the resources whose parameters name them (read at
        each request: a re-publication may add one). A database that cannot be reached
        raises ``StoreUnavailableError`` here: 503 before pygeoapi runs."""
        if route.kind not in FIELD_KINDS or route.collection is None:
            return {}
        metadata = request_metadata(self.store, route.collection) or {}
        return dict(metadata.get("field_types") or {})

    def before(self) -> Response | None:
        g.geocommune_start = time.perf_counter()
        route = classify(request)
        g.geocommune_route = route
        if cors.is_preflight(request):
            return cors.preflight_response(request)
        if route.kind not in OGC_KINDS:
            return None
        info = None
        if route.kind in COLLECTION_KINDS:
            info = self.collections.get(route.collection or "")
            if info is None:
                served = ", ".join(self.collections) or "aucune"
                raise UnknownResource(f"collection « {route.collection} » inconnue ; collections servies : {served}")
            if info.unconfirmed and self.store.metadata(info.id) is None:
                # Served from the catalogue alone (store unreachable at start-up), never published.
                raise UnknownResource(f"la collection « {info.id} » n'est pas publiée")
        validate(Context(route.kind, request.args, info, self.field_types(route)))
        if request.method in ("GET", "HEAD"):
            validators = caching.compute(
                request, route, self.store, self.collections, self.config_token,
                lambda layer_id: request_metadata(self.store, layer_id),
            )
            g.geocommune_validators = validators
            if validators is not None and caching.not_modified(request, validators):
                return Response(status=304)
        return None

    # -- after pygeoapi ----------------------------------------------------------------
    def after(self, response: Response) -> Response:
        route: Route = g.get("geocommune_route") or classify(request)
        try:
            self._finish(route, response)
        except Exception:  # noqa: BLE001 — never lose a response to a header detail
            LOGGER.exception("couche HTTP : finition de la réponse impossible")
        try:
            started = g.get("geocommune_start")
            seconds = time.perf_counter() - started if started is not None else 0.0
            collection = route.collection if route.collection in self.collections else ""
            self.metrics.observe(collection or "", route.kind, request.method, response.status_code, seconds)
        except Exception:  # noqa: BLE001 — metrics must not break the API
            LOGGER.exception("couche HTTP : métriques non enregistrées")
        return response

    def _finish(self, route: Route, response: Response) -> None:
        if not isinstance(response.headers, Headers):
            # pygeoapi's flask_app assigns a plain dict to ``response.headers``.
            response.headers = Headers(response.headers)
        if (
            route.kind in OGC_KINDS
            and is_json(response.mimetype)
            and not response.direct_passthrough
            and not getattr(response, OWN_RESPONSE, False)  # ours: serialised by orjson, nothing to undo
        ):
            response.set_data(restore_json_text(response.get_data()))
        if (
            response.status_code >= 500
            and route.kind in OGC_KINDS
            and is_json(response.mimetype)
            and not getattr(response, OWN_RESPONSE, False)
        ):
            # pygeoapi's own 5xx body ("query error (check logs)", NoApplicableCode): the one
            # shape for server faults, whoever caught them (pygeoapi logged the traceback).
            response.set_data(server_error_body(response.status_code))
            response.mimetype = "application/json"
            if response.status_code == 503:
                response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        validators = g.get("geocommune_validators")
        if validators is not None and response.status_code in (200, 304) and request.method in ("GET", "HEAD"):
            caching.apply(response, validators, self.max_age)
        elif response.status_code >= 400 or route.kind in NO_STORE_KINDS:
            caching.no_store(response)
        cors.apply(response)
        if route.kind in OGC_KINDS:
            compression.add_vary(response, "Accept", "Accept-Language")
        compression.apply(request, response)

    # -- our own resources -------------------------------------------------------------
    def health(self) -> Response:
        report, status = health_report(self.store, self.collections)
        response = Response(orjson.dumps(report), status=status, content_type="application/json")
        if status == 503:
            response.headers["Retry-After"] = RETRY_AFTER_SECONDS
        return response

    def metrics_view(self) -> Response:
        body, content_type = self.metrics.render()
        return Response(body, status=200, content_type=content_type)


def install(app: Flask, layer: HttpLayer) -> Flask:
    """Attach the layer's hooks and its two resources (``/health``, ``/metrics``) to ``app``."""
    app.before_request(layer.before)
    app.after_request(layer.after)
    app.register_error_handler(Exception, error_response)
    blueprint = Blueprint("geocommune_http", __name__)
    blueprint.add_url_rule("/health", "health", layer.health, methods=["GET"])
    blueprint.add_url_rule("/metrics", "metrics", layer.metrics_view, methods=["GET"])
    app.register_blueprint(blueprint)
    app.extensions["geocommune_http"] = layer
    return app
