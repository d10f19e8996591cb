"""The ONE table from exceptions to HTTP statuses, and the JSON error body.

Every error the HTTP layer answers — a parameter it refused, an exception that escaped
pygeoapi or a view, a Flask routing error — goes through ``error_response``, so that the
status, the OGC exception ``code`` and the (French) ``description`` are decided here and
nowhere else. The body follows the OGC API exception shape (``code`` + ``description``),
with ``parameter`` added when one query parameter is to blame.

pygeoapi maps the provider exceptions it catches itself (``ProviderGenericError`` and
subclasses carry ``http_status_code``); the rows for them below use the same statuses, so
an error reads the same whichever side caught it.

A server fault (5xx that is not a known outage) never shows its message or traceback to
the client: the body says « erreur interne », the traceback goes to the server log.

A database that cannot be reached (``StoreUnavailableError``: PostGIS down, restarting,
saturated) is an outage, not a fault: 503 ``ServiceUnavailable`` with ``Retry-After`` and a
fixed French message (the driver's own text names hosts and ports: it goes to the log, as
one warning line, without traceback). The store reconnects by itself; nothing to restart.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from http import HTTPStatus

import orjson
from flask import Response
from pygeoapi.error import GenericError
from pygeoapi.provider.base import (
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderNotFoundError,
    ProviderTypeError,
)
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from layers.errors import GeocommuneError, PublicationError, StoreError, UnknownLayerError
from layers.store import InvalidQueryError, StoreUnavailableError

LOGGER = logging.getLogger("geocommune.http")

INTERNAL_MESSAGE = "erreur interne"
UNAVAILABLE_MESSAGE = "service momentanément indisponible, réessayez dans un instant"
DATABASE_UNAVAILABLE_MESSAGE = (
    "base de données momentanément injoignable : le service reprendra dès son retour, réessayez dans un instant"
)
RETRY_AFTER_SECONDS = "5"  # Retry-After of every 503
JSON_TYPE = "application/json"
OWN_RESPONSE = "geocommune_own_response"  # marks responses built here (not by pygeoapi)


class ApiError(Exception):
    """An error the HTTP layer answers itself (status and code come from ``STATUS_TABLE``)."""

    def __init__(self, description: str, parameter: str | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.parameter = parameter


class InvalidParameter(ApiError):
    """A query parameter that is unknown, repeated or malformed (HTTP 400)."""

    def __init__(self, parameter: str, description: str) -> None:
        super().__init__(description, parameter)


class UnknownResource(ApiError):
    """A collection or a route that does not exist (HTTP 404)."""


@dataclass(frozen=True)
class Mapping:
    status: int | None  # None: the exception carries its own (``http_status_code`` / ``code``)
    code: str | None  # None: the exception carries its own OGC code
    show_message: bool  # False: the client reads « erreur interne », the log has the rest
    message: str | None = None  # a fixed description for the client, whatever the error says


# First match wins (isinstance): the more specific classes come first.
STATUS_TABLE: tuple[tuple[type[BaseException], Mapping], ...] = (
    # The HTTP layer's own refusals.
    (InvalidParameter, Mapping(400, "InvalidParameterValue", True)),
    (UnknownResource, Mapping(404, "NotFound", True)),
    # layers/ (the production chain and the store).
    (InvalidQueryError, Mapping(400, "InvalidParameterValue", True)),  # a query the store cannot answer as asked
    (UnknownLayerError, Mapping(404, "NotFound", True)),
    (PublicationError, Mapping(503, "ServiceUnavailable", True)),  # being replaced: retry
    # The database cannot be reached: its driver's message stays in the log.
    (StoreUnavailableError, Mapping(503, "ServiceUnavailable", False, DATABASE_UNAVAILABLE_MESSAGE)),
    (StoreError, Mapping(503, "ServiceUnavailable", True)),  # store unreachable / layer unreadable
    (GeocommuneError, Mapping(500, "ServerError", False)),  # catalogue, schema… : the server's problem
    # pygeoapi provider errors (same statuses as pygeoapi's own handling).
    (ProviderInvalidQueryError, Mapping(400, "InvalidParameterValue", True)),
    (ProviderItemNotFoundError, Mapping(404, "NotFound", True)),
    (ProviderNotFoundError, Mapping(404, "NotFound", True)),
    (ProviderTypeError, Mapping(400, "InvalidParameterValue", True)),
    (ProviderConnectionError, Mapping(503, "ServiceUnavailable", False)),
    (GenericError, Mapping(None, None, False)),  # other pygeoapi errors: their own status
    # Flask / werkzeug routing.
    (NotFound, Mapping(404, "NotFound", True)),
    (MethodNotAllowed, Mapping(405, "OperationNotSupported", True)),
    (HTTPException, Mapping(None, None, True)),
)

_FALLBACK = Mapping(500, "ServerError", False)

_FRENCH_HTTP_MESSAGES = {
    404: "ressource introuvable",
    405: "méthode HTTP non prise en charge pour cette adresse",
}


def mapping_for(error: BaseException) -> Mapping:
    for kind, mapping in STATUS_TABLE:
        if isinstance(error, kind):
            return mapping
    return _FALLBACK


def status_for(error: BaseException) -> int:
    mapping = mapping_for(error)
    if mapping.status is not None:
        return mapping.status
    if isinstance(error, HTTPException) and error.code:
        return int(error.code)
    if isinstance(error, GenericError):
        return int(error.http_status_code)
    return 500


def _code_for(error: BaseException, mapping: Mapping, status: int) -> str:
    if mapping.code is not None:
        return mapping.code
    if isinstance(error, GenericError):
        return str(error.ogc_exception_code)
    if status >= 500:
        return "ServerError"
    return "InvalidParameterValue" if status == 400 else HTTPStatus(status).phrase.replace(" ", "")


def _description_for(error: BaseException, mapping: Mapping, status: int) -> str:
    if mapping.message is not None:
        return mapping.message
    if status == 503 and not mapping.show_message:
        return UNAVAILABLE_MESSAGE
    if not mapping.show_message or status == 500:
        return INTERNAL_MESSAGE
    if isinstance(error, ApiError):
        return error.description
    if isinstance(error, GeocommuneError):
        return error.message  # never str(error): it may name files on the server
    if isinstance(error, GenericError):
        return str(error.message)
    if isinstance(error, HTTPException):
        return _FRENCH_HTTP_MESSAGES.get(status, HTTPStatus(status).phrase)
    return INTERNAL_MESSAGE


def server_error_body(status: int = 500) -> bytes:
    """The body of a 5xx pygeoapi produced itself (its text is not for clients)."""
    if status == 503:
        return orjson.dumps({"code": "ServiceUnavailable", "description": UNAVAILABLE_MESSAGE})
    return orjson.dumps({"code": "ServerError", "description": INTERNAL_MESSAGE})


def json_error(status: int, code: str, description: str, parameter: str | None = None) -> Response:
    body: dict[str, str] = {"code": code, "description": description}
    if parameter is not None:
        body["parameter"] = parameter
    response = Response(orjson.dumps(body), status=status, content_type=JSON_TYPE)
    setattr(response, OWN_RESPONSE, True)
    return response


def error_response(error: BaseException) -> Response:
    """The JSON response for ``error``; server faults are logged with their traceback."""
    mapping = mapping_for(error)
    status = status_for(error)
    if status >= 500 and not isinstance(error, (StoreError, ProviderConnectionError)):
        LOGGER.error("erreur interne : %s: %s", type(error).__name__, error, exc_info=error)
    elif status >= 500:
        LOGGER.warning("service indisponible : %s", error)
    response = json_error(
        status,
        _code_for(error, mapping, status),
        _description_for(error, mapping, status),
        error.parameter if isinstance(error, ApiError) else None,
    )
    if status == 503:
        response.headers["Retry-After"] = RETRY_AFTER_SECONDS
    if isinstance(error, HTTPException) and status == 405:
        allowed = error.get_headers()
        for name, value in allowed:
            if name.lower() == "allow":
                response.headers["Allow"] = value
    return response
