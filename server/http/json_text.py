"""Workaround: give JSON responses their text back, byte for byte.

pygeoapi 0.24's ``pygeoapi.util.to_json`` — which serialises every JSON response it
builds — replaces each ``<`` and ``>`` of the serialised document with ``&lt;`` and
``&gt;`` (an HTML-embedding precaution). In JSON that is not an escape, it is a change of
content: an attribute ``a < b`` reaches QGIS, GDAL or OWSLib as ``a &lt; b``.

JSON syntax has no ``<``, ``>`` or ``&`` outside strings, so the entities can only come
from that replacement or from the data itself; we turn them back into characters in JSON
responses, and only there (HTML pages are left to their templates' escaping).

Limit: when pygeoapi leaves ``&`` alone (0.24 does), a value that literally contains the
six characters ``&lt;`` cannot be told apart from an escaped ``<`` and comes back as
``<``. When ``to_json`` also escapes ``&`` (as XML escaping does — detected below, at
import), the round trip is exact and ``&amp;`` is restored too.
"""

from __future__ import annotations

from pygeoapi.util import to_json

JSON_MEDIA_TYPES = frozenset({
    "application/json",
    "application/geo+json",
    "application/ld+json",
    "application/schema+json",
    "application/problem+json",
    "application/vnd.oai.openapi+json",
})

# What this pygeoapi version does to "&", "<" and ">" (checked, not assumed).
_PROBE = to_json({"t": "&<>"})
ESCAPES_LT_GT = "&lt;" in _PROBE
ESCAPES_AMPERSAND = "&amp;" in _PROBE


def is_json(mimetype: str | None) -> bool:
    return bool(mimetype) and (mimetype in JSON_MEDIA_TYPES or mimetype.endswith("+json"))


def restore_json_text(body: bytes) -> bytes:
    """Undo ``to_json``'s HTML escaping in a serialised JSON document."""
    if not ESCAPES_LT_GT or b"&" not in body:
        return body
    body = body.replace(b"&lt;", b"<").replace(b"&gt;", b">")
    if ESCAPES_AMPERSAND:
        body = body.replace(b"&amp;", b"&")  # last: "&amp;lt;" was a literal "&lt;"
    return body
