"""A layer's stored metadata, read once per request.

The HTTP layer (parameter check, ETag), the provider pygeoapi builds for the request and
the query itself each need the layer's metadata; each read checks that the published file
or table has not been replaced (a ``stat`` on the GeoPackage). Read once and kept in the
request's ``flask.g``: a profile of the first page showed these repeated reads at ~10 %
of a request. Outside a request (start-up, describing the collections) it is a plain read.
"""

from __future__ import annotations

from typing import Any

from flask import g, has_request_context

from layers.store import Store

_KEY = "geocommune_metadata"


def request_metadata(store: Store, layer_id: str) -> dict[str, Any] | None:
    if not has_request_context():
        return store.metadata(layer_id)
    memo: dict[tuple[int, str], dict[str, Any] | None] | None = g.get(_KEY)
    if memo is None:
        memo = {}
        setattr(g, _KEY, memo)
    key = (id(store), layer_id)
    if key not in memo:
        memo[key] = store.metadata(layer_id)
    return memo[key]
