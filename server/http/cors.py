"""CORS: the API is public open data, readable from any web page.

``Access-Control-Allow-Origin: *`` on every response (no credentials are ever involved,
so ``*`` is both allowed and sufficient; and no ``Vary: Origin`` is needed), and an
answer of our own to preflight requests (``OPTIONS`` with ``Access-Control-Request-Method``)
for the read methods. pygeoapi's own CORS support (``server.cors``) needs flask-cors and
allows every method: it stays off in the configuration.
"""

from __future__ import annotations

from flask import Request, Response

ALLOWED_METHODS = "GET, HEAD, OPTIONS"
# Request headers a browser script may send (beyond the CORS-safelisted ones).
ALLOWED_HEADERS = "Accept, Accept-Language, Content-Type, If-None-Match, If-Modified-Since"
# Response headers a browser script may read (beyond the safelisted ones).
EXPOSED_HEADERS = "ETag, Last-Modified, Content-Crs, Content-Language, Link"
PREFLIGHT_MAX_AGE = "86400"


def is_preflight(request: Request) -> bool:
    return request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers


def preflight_response(request: Request) -> Response:
    """204 for a preflight asking for a read method; 405-like refusal (no CORS grant) otherwise."""
    asked = request.headers.get("Access-Control-Request-Method", "").strip().upper()
    response = Response(status=204)
    if asked in ("GET", "HEAD"):
        response.headers["Access-Control-Allow-Methods"] = ALLOWED_METHODS
        response.headers["Access-Control-Allow-Headers"] = ALLOWED_HEADERS
        response.headers["Access-Control-Max-Age"] = PREFLIGHT_MAX_AGE
    return response


def apply(response: Response) -> None:
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS
