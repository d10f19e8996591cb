"""The ``rel="enclosure"`` links of the collections' JSON documents.

Not in the generated pygeoapi configuration's ``links``, on purpose: pygeoapi 0.24
(``api/collection.py``) sends an HTTP ``HEAD`` to every configured enclosure link that has
no ``length``, at every collection request, with a 1-second timeout, and drops the link
when the answer has no ``Content-Length``. For downloads served by this very server that
means requests to itself from inside a request (a single sync worker waits out the
timeout), files built just to be measured, and the streamed formats — which have no length
before they are sent — silently left out. So the links are added to pygeoapi's JSON after
it answered (``/collections`` and ``/collections/{id}``), as ``collection_metadata`` adds
its members; the HTML page reads its copy from the configuration (``DOWNLOADS_KEY``).

Registered after the HTTP layer, this ``after_request`` function runs before it (Flask
runs them in reverse order): the HTTP layer still restores the JSON text, sets the ETag
and compresses the final body.
"""

from __future__ import annotations

import logging

import orjson
from flask import Response, request
from werkzeug.datastructures import Headers

from layers.settings import Settings

from ..http.routing import classify
from .formats import enclosure_links

LOGGER = logging.getLogger("geocommune.downloads")


class EnclosureLinks:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.public_url

    def after(self, response: Response) -> Response:
        if not isinstance(response.headers, Headers):  # pygeoapi assigns a plain dict
            response.headers = Headers(response.headers)
        route = classify(request)
        if (
            route.kind not in ("collection", "collections")
            or response.status_code != 200
            or response.mimetype != "application/json"
            or response.direct_passthrough
            or "Content-Encoding" in response.headers
        ):
            return response
        try:
            document = orjson.loads(response.get_data())
            collections = [document] if route.kind == "collection" else document.get("collections") or []
            for collection in collections:
                links = collection.setdefault("links", [])
                links += enclosure_links(self.base_url, str(collection.get("id")))
            response.set_data(orjson.dumps(document))
        except Exception:  # noqa: BLE001 — links must never cost the client its response
            LOGGER.exception("liens de téléchargement non ajoutés")
        return response
