"""HTTP caching: ETag and Last-Modified derived from the published layers, 304 answers.

The validators are computed *before* pygeoapi runs, from what the response depends on,
so a revalidation that matches costs one ``stat`` per layer and no query:

- a collection's resources (``/collections/{id}``, ``/items``, ``/items/{fid}``,
  ``/queryables``, ``/schema``) depend on that layer: its ``published_at`` and the
  identity of that publication (``publication_identity``: the store's publication token,
  new at each publication — for the GeoPackage store, the published file's inode, mtime
  and size, since a re-publication replaces the file with ``os.replace`` — so even two
  publications within one second differ);
- the landing page, ``/conformance``, ``/collections`` and ``/openapi`` depend on the set
  of served layers, i.e. on all of them;
- all of them depend on the generated configuration (``config_token``: a new server
  version or a new catalogue means new ETags) and on the request: its path and normalised
  query string, and the ``Accept`` / ``Accept-Language`` headers that pick the format and
  the language.

The ETag is *weak* (``W/"…"``): the body is equivalent, not identical, from one request
to the next (pygeoapi stamps ``timeStamp``) and between its gzip and identity encodings.
``Last-Modified`` is the layer's ``published_at`` (the latest one for global resources);
when a client sends both conditions, ``If-None-Match`` wins (RFC 9110 §13.2.2), which
keeps the answer exact even though ``Last-Modified`` has a one-second resolution.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable, Mapping

from flask import Request, Response
from werkzeug.http import is_resource_modified

from layers.store import Store

from .routing import GLOBAL_KINDS, CollectionInfo, Route


@dataclass(frozen=True)
class Validators:
    etag: str  # unquoted; sent weak
    last_modified: dt.datetime | None


def publication_identity(metadata: Mapping[str, Any]) -> str:
    """What tells one publication of a layer from the next, whichever the store: the
    metadata's ``store.publication`` token — drawn at each publication by the PostGIS store,
    the published file's identity for the GeoPackage store (``gpkg_reader.publication_token``).
    No system call: the store checked the publication when it gave the metadata."""
    token = (metadata.get("store") or {}).get("publication")
    return f"token-{token}" if token else "absent"


def _layer_state(
    store: Store, info: CollectionInfo, metadata_of: Callable[[str], dict | None] | None = None
) -> tuple[str, str, dt.datetime | None]:
    """(published_at, publication identity, published_at as a datetime) of one served layer."""
    try:
        metadata = (metadata_of or store.metadata)(info.id) or {}
    except Exception:  # noqa: BLE001 — an unreadable layer: no validator, pygeoapi answers
        metadata = {}
    published = str(metadata.get("published_at", ""))
    return published, publication_identity(metadata), _published_when(published)


@lru_cache(maxsize=256)
def _published_when(published: str) -> dt.datetime | None:
    try:
        when = dt.datetime.fromisoformat(published) if published else None
    except ValueError:
        return None
    if when is not None and when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return when


def _normalised_query(pairs: Iterable[tuple[str, str]]) -> str:
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def compute(
    request: Request,
    route: Route,
    store: Store,
    collections: dict[str, CollectionInfo],
    config_token: str,
    metadata_of: Callable[[str], dict | None] | None = None,
) -> Validators | None:
    """The validators of the resource ``request`` addresses, or None when it has none."""
    return compute_from_parts(
        request.path,
        [(k, v) for k, values in request.args.lists() for v in values],
        request.headers.get("Accept", ""),
        request.headers.get("Accept-Language", ""),
        route, store, collections, config_token, metadata_of,
    )


def compute_from_parts(
    path: str,
    query: Iterable[tuple[str, str]],
    accept: str,
    accept_language: str,
    route: Route,
    store: Store,
    collections: dict[str, CollectionInfo],
    config_token: str,
    metadata_of: Callable[[str], dict | None] | None = None,
) -> Validators | None:
    """``compute`` from the request's parts: the decoded path, the decoded query pairs and
    the two negotiation headers (what the fast JSON reads, ``fast_reads.py``, have at hand)."""
    if route.kind in GLOBAL_KINDS:
        infos: Iterable[CollectionInfo] = collections.values()
    elif route.collection in collections:
        infos = [collections[route.collection]]  # type: ignore[index]
    else:
        return None
    states = tuple((info.id, *_layer_state(store, info, metadata_of)) for info in infos)
    return _validators(config_token, path, tuple(query), accept, accept_language, states)


@lru_cache(maxsize=4096)
def _validators(
    config_token: str,
    path: str,
    query: tuple[tuple[str, str], ...],
    accept: str,
    accept_language: str,
    states: tuple[tuple[str, str, str, dt.datetime | None], ...],
) -> Validators:
    """The validators from their parts — remembered: the same request on the same
    publications gives the same ones (a hot page is asked for again and again)."""
    digest = hashlib.sha256()
    for part in (
        config_token,
        path,
        _normalised_query(query),
        accept,
        accept_language,
        *(f"{cid}|{published}|{identity}" for cid, published, identity, _ in states),
    ):
        digest.update(part.encode("utf-8", "surrogatepass"))
        digest.update(b"\x00")
    dates = [when for *_, when in states if when is not None]
    return Validators(digest.hexdigest()[:32], max(dates) if dates else None)


def not_modified(request: Request, validators: Validators) -> bool:
    """True when the client's copy is current (If-None-Match, else If-Modified-Since)."""
    if "If-None-Match" not in request.headers and "If-Modified-Since" not in request.headers:
        return False
    return not is_resource_modified(
        request.environ, etag=validators.etag, last_modified=validators.last_modified
    )


def apply(response: Response, validators: Validators, max_age: int) -> None:
    response.set_etag(validators.etag, weak=True)
    if validators.last_modified is not None:
        response.last_modified = validators.last_modified
    response.headers["Cache-Control"] = f"public, max-age={max(0, int(max_age))}"


def no_store(response: Response) -> None:
    response.headers["Cache-Control"] = "no-store"
