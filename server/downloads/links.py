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

Added through ``server/http/documents.py`` (one parse and one serialisation of pygeoapi's
document for every extender).
"""

from __future__ import annotations

from typing import Any

from layers.settings import Settings

from ..http.documents import collections_of
from .formats import enclosure_links


class EnclosureLinks:
    def __init__(self, settings: Settings) -> None:
        self.base_url = settings.public_url

    def extend(self, kind: str, document: dict[str, Any]) -> None:
        """Extender of pygeoapi's documents (``server/http/documents.py``)."""
        for collection in collections_of(kind, document):
            collection.setdefault("links", []).extend(enclosure_links(self.base_url, str(collection.get("id"))))
