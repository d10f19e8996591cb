"""Workaround: members and links added to pygeoapi's landing page and collection documents.

pygeoapi 0.24 builds ``/``, ``/collections`` and ``/collections/{id}`` from its
configuration and offers no hook for extra members (our metadata, ``license``) nor for
links it must not fetch itself (the downloads' ``rel="enclosure"``: see
``server/downloads/links.py``). Extenders register here; one ``after_request`` function
parses pygeoapi's JSON once, lets each extender change the document, and serialises it
once — only for those three resources, in ``application/json`` (not the schema.org
JSON-LD of ``f=jsonld``), on a 200.

Registered after the HTTP layer, the hook runs *before* it (Flask runs ``after_request``
functions in reverse order): the HTTP layer still restores the JSON text, sets the ETag
and compresses the final body. An extender that fails leaves the document as pygeoapi
wrote it (logged): extra members never cost the client its response.
"""

from __future__ import annotations

import logging
from typing import Any, Callable

import orjson
from flask import Flask, Response, request
from werkzeug.datastructures import Headers

from layers.store import StoreUnavailableError

from .routing import classify

LOGGER = logging.getLogger("geocommune.http")
EXTENSION = "geocommune_documents"
KINDS = frozenset({"landing", "collections", "collection"})

# (route kind, the parsed document) → changes the document in place.
Extender = Callable[[str, dict[str, Any]], None]


def collections_of(kind: str, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The collection descriptions a document holds (none on the landing page)."""
    if kind == "collection":
        return [document]
    if kind == "collections":
        return list(document.get("collections") or [])
    return []


def _after(extenders: list[Extender], response: Response) -> Response:
    if not isinstance(response.headers, Headers):  # pygeoapi assigns a plain dict
        response.headers = Headers(response.headers)
    route = classify(request)
    if (
        route.kind not in KINDS
        or response.status_code != 200
        or response.mimetype != "application/json"
        or response.direct_passthrough
        or "Content-Encoding" in response.headers
    ):
        return response
    try:
        document = orjson.loads(response.get_data())
    except orjson.JSONDecodeError:
        LOGGER.exception("document de pygeoapi illisible : membres non ajoutés")
        return response
    for extend in extenders:
        try:
            extend(route.kind, document)
        except StoreUnavailableError as exc:
            # The database is down: pygeoapi's description (from its configuration) is still
            # served, without what the store says; one line in the log, no traceback.
            LOGGER.warning("%s : non appliqué, stockage injoignable : %s", getattr(extend, "__qualname__", extend), exc)
        except Exception:  # noqa: BLE001 — never lose the response to an extra member
            LOGGER.exception("%s : non appliqué", getattr(extend, "__qualname__", extend))
    response.set_data(orjson.dumps(document))
    return response


def add_extender(app: Flask, extender: Extender) -> None:
    """Have ``extender`` change every landing / collections / collection JSON document."""
    extenders: list[Extender] | None = app.extensions.get(EXTENSION)
    if extenders is None:
        extenders = app.extensions[EXTENSION] = []
        app.after_request(lambda response: _after(extenders, response))
    extenders.append(extender)
