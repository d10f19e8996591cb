"""Workaround: the hottest JSON reads answered without Flask and pygeoapi's request plumbing.

Why: at 1M points a first page or a single feature takes 0.06–0.13 ms in the store, and
~0.9 ms through Flask + pygeoapi (``APIRequest``, plugin loading, configuration lookups,
``json.dumps``) + our hooks — the benchmark's ``W1``/``W4`` were 10–25× their in-process
floor (bench/RESULTS.md). pygeoapi 0.24 has no plugin point below the Flask view, so this
WSGI middleware, in front of the Flask app, answers exactly the requests it is sure to
answer the way pygeoapi would and hands everything else over unchanged:

* ``GET``/``HEAD`` ``/collections/{id}/items`` in JSON (``f=json``, or no ``f`` and an
  ``Accept`` that pygeoapi resolves to JSON), with no other parameter than ``limit``,
  ``offset``, a 4-number ``bbox`` (CRS84) and ``lang``;
* ``GET``/``HEAD`` ``/collections/{id}/items/{fid}`` in JSON, with no other parameter than
  ``f`` and ``lang``.

Everything else — HTML, JSON-LD, CSV, ``crs``, filters, sorting, conditional requests,
a request body, any parameter error, an unknown id, any exception on the way — goes to
Flask, whose answer (400, 404, 503…) is the reference. What a fast answer carries is
pygeoapi's document (same members in the same order, same links, translated titles,
``timeStamp``) and the headers pygeoapi and the HTTP layer would set (``Content-Crs``,
``Content-Language``, ETag/Last-Modified/Cache-Control from ``caching``, CORS, ``Vary``,
gzip), the request is counted in the usage figures and the Prometheus metrics.
``tests/api/test_fast_reads.py`` compares both paths on many requests, on both stores.
The JSON text differs in one way only: UTF-8 rather than ``\\uXXXX`` escapes (orjson), the
same document once parsed.
"""

from __future__ import annotations

import gzip
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import parse_qsl, quote

import orjson
from pygeoapi import l10n
from pygeoapi.api import HEADERS, evaluate_limit
from pygeoapi.crs import DEFAULT_STORAGE_CRS, set_content_crs_header
from pygeoapi.formats import F_HTML, F_JSON, F_JSONLD, FORMAT_TYPES
from pygeoapi.provider import get_provider_by_type
from pygeoapi.util import get_choice_from_headers, get_dataset_formatters
from werkzeug.datastructures import MultiDict
from werkzeug.http import http_date, parse_accept_header

from . import compression, cors
from .caching import compute_from_parts
from .params import Context, validate
from .routing import Route

if TYPE_CHECKING:
    from layers.store.base import LayerSnapshot

    from .layer import HttpLayer

LOGGER = logging.getLogger("geocommune.http")

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
ITEMS_PARAMETERS = frozenset({"f", "lang", "limit", "offset", "bbox"})
ITEM_PARAMETERS = frozenset({"f", "lang"})
# Present in the request: Flask answers (conditional requests, a CQL2-JSON body).
DELEGATED_HEADERS = ("HTTP_IF_NONE_MATCH", "HTTP_IF_MODIFIED_SINCE")
_STATUS_200 = "200 OK"
LINKS_CACHE_SIZE = 4096  # link sets kept per worker (a few kB each)


@dataclass(frozen=True)
class Negotiated:
    """What pygeoapi derives from ``f``/``lang``/``Accept``/``Accept-Language``."""

    format: str | None  # pygeoapi's ``request.format``: "json" or None (JSON by default)
    locale: Any  # babel Locale of the response
    content_language: str
    titles: dict[str, str]  # the link titles, translated


@dataclass(frozen=True)
class Collection:
    """Per served collection, what never changes while the server runs."""

    id: str
    uri: str  # …/collections/{id}/items
    title: Any  # the configured title (translated per request locale)
    limits: tuple[dict, dict]  # server limits, collection limits (pygeoapi's evaluate_limit)
    formatters: tuple[tuple[str, str, str], ...]  # (key, mimetype, name) of each dataset formatter
    extra_formats: dict[str, str]  # formatter f → mimetype (pygeoapi's Accept negotiation)
    content_crs: str
    provider_def: dict
    crs84_storage: bool


_TITLES = (
    "This document as GeoJSON",
    "This document as RDF (JSON-LD)",
    "This document as HTML",
    "Items (prev)",
    "Items (next)",
    "The landing page of this server as JSON",
    "The landing page of this server as HTML",
    "This document as JSON",
)


def _quote_value(value: str) -> str:
    return quote(value, safe=",")


class FastJsonReads:
    """WSGI middleware: the hot JSON reads, or the wrapped app (Flask) for anything else."""

    def __init__(self, app: Callable, layer: "HttpLayer", api: Any, usage: Callable[[], Any]) -> None:
        self.app = app
        self.layer = layer
        self.api = api  # pygeoapi's API object of this app (configuration, URLs, locales)
        self.usage = usage  # → the usage state, or None (looked up at each use: registered later)
        self.answered = 0  # fast answers given (tests check that the fast path is taken)
        resources = api.config.get("resources") or {}
        self.collections: dict[str, Collection] = {}
        for cid in layer.collections:
            resource = resources.get(cid)
            if resource is not None:
                self.collections[cid] = self._describe(cid, resource)
        self.api_headers = list(layer_api_headers(api).items())
        self._negotiate = lru_cache(maxsize=256)(self._negotiate_uncached)
        self._gzip_ok = lru_cache(maxsize=256)(lambda value: parse_accept_header(value).quality("gzip") > 0)
        # Per shape of request (and publication, through the validators): what does not
        # depend on the rows. Bounded: collections × formats × languages × pages in use.
        self._headers = lru_cache(maxsize=1024)(self._headers_uncached)
        self._limit = lru_cache(maxsize=256)(self._limit_uncached)
        self._links: dict[tuple, Any] = {}  # see _cached_links

    def _describe(self, cid: str, resource: dict) -> Collection:
        provider_def = get_provider_by_type(resource["providers"], "feature")
        headers: dict[str, str] = {}
        set_content_crs_header(headers, provider_def, None)
        formatters = get_dataset_formatters(resource)
        return Collection(
            id=cid,
            uri=f"{self.api.get_collections_url()}/{cid}/items",
            title=resource.get("title"),
            limits=(self.api.config["server"].get("limits", {}), resource.get("limits", {})),
            formatters=tuple((key, v.mimetype, v.name) for key, v in formatters.items()),
            extra_formats={v.f: v.mimetype for v in formatters.values()},
            content_crs=headers["Content-Crs"],
            provider_def=provider_def,
            crs84_storage=provider_def.get("storage_crs", DEFAULT_STORAGE_CRS) == CRS84,
        )

    # -- negotiation, as pygeoapi's APIRequest does it ---------------------------------
    def _negotiate_uncached(
        self, cid: str, f: str | None, lang: str | None, accept: str, accept_language: str
    ) -> Negotiated | None:
        collection = self.collections[cid]
        if f is not None:
            fmt = f.strip()
            if fmt != F_JSON:
                return None
        else:
            fmt = None
            types = get_choice_from_headers({"accept": accept}, "accept", all=True) if accept else None
            if types:
                merged = FORMAT_TYPES | collection.extra_formats
                formats, mimes = zip(*merged.items())
                bare = [m.split(";")[0] for m in mimes]
                fmt = next((formats[bare.index(t)] for t in types if t in bare), None)
                if fmt not in (None, F_JSON):
                    return None
        # APIRequest._get_locale: ``lang`` first, then Accept-Language, else the default.
        supported = self.api.locales
        default = l10n.str2locale(supported[0])
        raw, locale = None, default
        for field, mapping in ((l10n.QUERY_PARAM, {l10n.QUERY_PARAM: lang} if lang is not None else {}),
                               ("accept-language", {"accept-language": accept_language} if accept_language else {})):
            choices = get_choice_from_headers(mapping, field, all=True)
            if choices:
                if raw is None:
                    raw = mapping[field]
                found = l10n.best_match(choices, supported)
                if found != default or field is l10n.QUERY_PARAM:
                    locale = found
                    break
        headers: dict[str, str] = {}
        l10n.set_response_language(
            headers, *[x for x in (l10n.get_plugin_locale(collection.provider_def, raw), locale) if x is not None]
        )
        titles = {text: l10n.translate(text, locale) for text in _TITLES}
        titles["collection"] = l10n.translate(collection.title, locale)
        return Negotiated(fmt, locale, headers["Content-Language"], titles)

    @staticmethod
    def _rel(negotiated: Negotiated, fmt: str) -> str:
        return "self" if fmt == negotiated.format or (fmt == F_JSON and not negotiated.format) else "alternate"

    # -- WSGI -----------------------------------------------------------------------
    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        try:
            answer = self._answer(environ)
        except Exception:  # noqa: BLE001 — Flask answers it, with the error table if it fails again
            LOGGER.debug("réponse rapide abandonnée", exc_info=True)
            answer = None
        if answer is None:
            return self.app(environ, start_response)
        status, headers, body = answer
        start_response(status, headers)
        return [body]

    def _answer(self, environ: dict) -> tuple[str, list[tuple[str, str]], bytes] | None:
        method = environ.get("REQUEST_METHOD")
        if method not in ("GET", "HEAD") or environ.get("SCRIPT_NAME"):
            return None
        path = environ.get("PATH_INFO", "")
        parts = path.split("/")
        # ["", "collections", id, "items"] or ["", "collections", id, "items", fid]
        if len(parts) not in (4, 5) or parts[1] != "collections" or parts[3] != "items" or parts[0]:
            return None
        cid = parts[2]
        collection = self.collections.get(cid)
        if collection is None or any(h in environ for h in DELEGATED_HEADERS):
            return None
        if self.api.pretty_print or environ.get("CONTENT_LENGTH") not in (None, "", "0"):
            return None  # a body (CQL2-JSON filter): pygeoapi reads it
        item = parts[4] if len(parts) == 5 else None
        if item == "":
            return None
        started = time.perf_counter()
        pairs = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
        allowed = ITEM_PARAMETERS if item is not None else ITEMS_PARAMETERS
        names = [k for k, _ in pairs]
        if len(set(names)) != len(names) or not allowed.issuperset(names):
            return None
        args = dict(pairs)
        accept = environ.get("HTTP_ACCEPT", "")
        accept_language = environ.get("HTTP_ACCEPT_LANGUAGE", "")
        negotiated = self._negotiate(cid, args.get("f"), args.get("lang"), accept, accept_language)
        if negotiated is None:
            return None
        layer = self.layer
        info = layer.collections[cid]
        # The metadata, the validators and the rows of one answer: one publication.
        snapshot = layer.store.snapshot(cid)
        if snapshot is None:
            return None
        metadata = snapshot.metadata
        kind = "item" if item is not None else "items"
        if pairs:  # without any parameter there is nothing to refuse
            try:
                validate(Context(kind, MultiDict(pairs), info, metadata.get("field_types") or {}))
            except Exception:  # noqa: BLE001 — the 400 is Flask's to write
                return None
        route = Route(kind, cid, item)
        validators = compute_from_parts(
            path, pairs, accept, accept_language, route, layer.store, layer.collections, layer.config_token,
            lambda _layer_id: metadata,
        )
        if item is not None:
            document = self._item(collection, negotiated, snapshot, item)
        else:
            document = self._items(collection, negotiated, snapshot, args, pairs)
        if document is None:
            return None
        body = orjson.dumps(document)
        headers = list(self._headers(cid, negotiated.format, negotiated.content_language, validators))
        encoding = environ.get("HTTP_ACCEPT_ENCODING", "")
        if len(body) >= compression.MIN_SIZE and encoding and self._gzip_ok(encoding):
            body = gzip.compress(body, compresslevel=compression.LEVEL, mtime=0)
            headers.append(("Content-Encoding", "gzip"))
        headers.append(("Content-Length", str(len(body))))
        self._count(cid, kind, method, started)
        self.answered += 1
        return _STATUS_200, headers, (b"" if method == "HEAD" else body)

    def _headers_uncached(self, cid: str, fmt: str | None, content_language: str,
                          validators: Any) -> tuple[tuple[str, str], ...]:
        """Every header of a fast answer but its length and encoding: the same for every
        request of one shape on one publication (``validators`` change with it)."""
        collection = self.collections[cid]
        headers = [
            ("Content-Type", HEADERS["Content-Type"] if fmt is None else FORMAT_TYPES[F_JSON]),
            *self.api_headers,
            ("Content-Language", content_language),
            ("Content-Crs", collection.content_crs),
        ]
        if validators is not None:
            headers.append(("ETag", f'W/"{validators.etag}"'))
            if validators.last_modified is not None:
                headers.append(("Last-Modified", http_date(validators.last_modified)))
            headers.append(("Cache-Control", f"public, max-age={max(0, int(self.layer.max_age))}"))
        headers.append(("Access-Control-Allow-Origin", "*"))
        headers.append(("Access-Control-Expose-Headers", cors.EXPOSED_HEADERS))
        headers.append(("Vary", "Accept, Accept-Language, Accept-Encoding"))
        return tuple(headers)

    def _count(self, cid: str, kind: str, method: str, started: float) -> None:
        try:
            self.layer.metrics.observe(cid, kind, method, 200, time.perf_counter() - started)
        except Exception:  # noqa: BLE001 — metrics must not break the API
            LOGGER.exception("couche HTTP : métriques non enregistrées")
        if method != "GET":
            return
        state = self.usage()
        if state is not None and state.settings.usage:
            state.count(cid, kind, "json")

    # -- documents, as pygeoapi's itemtypes builds them ---------------------------------
    def _limit_uncached(self, cid: str, text: str | None) -> int:
        return int(evaluate_limit(text, *self.collections[cid].limits))

    @staticmethod
    def _shape(negotiated: Negotiated) -> tuple[str | None, str, str]:
        """What the links of a document depend on in the negotiation (titles: the locale)."""
        return negotiated.format, negotiated.content_language, str(negotiated.locale)

    def _cached_links(self, key: tuple, build: Callable[[], Any]) -> Any:
        """The links that one shape of request always gets (``key``: the collection, the
        negotiation's ``_shape``, the rest of the request), built once. Shared between
        answers, which only serialise them. Bounded: emptied when full."""
        links = self._links.get(key)
        if links is None:
            if len(self._links) >= LINKS_CACHE_SIZE:
                self._links.clear()
            links = self._links[key] = build()
        return links

    def _items_links(self, collection: Collection, negotiated: Negotiated,
                     rest: tuple[tuple[str, str], ...]) -> tuple[tuple[dict, ...], str, dict]:
        """The links of an items page that do not depend on its rows or offset: the format
        alternates, the collection link, and the query string prev/next repeat (``rest``:
        the parameters but ``f`` and ``offset``)."""
        serialized = "".join(f"&{quote(k, safe='')}={_quote_value(str(v))}" for k, v in rest)
        uri, titles, rel = collection.uri, negotiated.titles, self._rel
        links: list[dict[str, str]] = [
            {"type": "application/geo+json", "rel": rel(negotiated, F_JSON),
             "title": titles["This document as GeoJSON"], "href": f"{uri}?f={F_JSON}{serialized}"},
            {"rel": rel(negotiated, F_JSONLD), "type": FORMAT_TYPES[F_JSONLD],
             "title": titles["This document as RDF (JSON-LD)"], "href": f"{uri}?f={F_JSONLD}{serialized}"},
            {"type": FORMAT_TYPES[F_HTML], "rel": rel(negotiated, F_HTML),
             "title": titles["This document as HTML"], "href": f"{uri}?f={F_HTML}{serialized}"},
        ]
        for key, mimetype, name in collection.formatters:
            links.append({"type": mimetype, "rel": "alternate", "title": f"This document as {key}",
                          "href": f"{uri}?f={name}{serialized}"})
        collection_link = {"type": FORMAT_TYPES[F_JSON], "title": titles["collection"], "rel": "collection",
                           "href": uri.rsplit("/", 1)[0]}
        return tuple(links), serialized, collection_link

    def _items(self, collection: Collection, negotiated: Negotiated, snapshot: LayerSnapshot,
               args: dict[str, str], pairs: list[tuple[str, str]]) -> dict | None:
        bbox_text = args.get("bbox")
        bbox: list[float] | None = None
        if bbox_text is not None:
            bbox = [float(v) for v in bbox_text.split(",")]
            if len(bbox) != 4 or not collection.crs84_storage:
                return None
        offset = int(args["offset"]) if "offset" in args else 0
        limit = self._limit(collection.id, args.get("limit"))
        result = snapshot.query(
            bbox=bbox, limit=limit, offset=offset, sortby=[], properties=[],
            where=None, select=None, skip_geometry=False,
        )
        features = result.features
        content: dict[str, Any] = {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": result.number_matched,
            "numberReturned": len(features),
        }
        rest = tuple((k, v) for k, v in pairs if k not in ("f", "offset"))
        head, serialized, collection_link = self._cached_links(
            ("items", collection.id, self._shape(negotiated), rest),
            lambda: self._items_links(collection, negotiated, rest),
        )
        links = list(head)
        uri, titles = collection.uri, negotiated.titles
        matched = content.get("numberMatched", -1)
        next_link = (matched if matched is not None else -1) > limit + offset or len(features) == limit
        f_part = f"f={negotiated.format}&" if negotiated.format is not None else ""
        if offset > 0:
            links.append({"type": "application/geo+json", "rel": "prev", "title": titles["Items (prev)"],
                          "href": f"{uri}?{f_part}offset={max(0, offset - limit)}{serialized}"})
        if next_link:
            links.append({"type": "application/geo+json", "rel": "next", "title": titles["Items (next)"],
                          "href": f"{uri}?{f_part}offset={offset + limit}{serialized}"})
        links.append(collection_link)
        content["links"] = links
        content["timeStamp"] = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return content

    def _item_links(self, collection: Collection, negotiated: Negotiated, identifier: str) -> tuple[dict, ...]:
        uri = f"{collection.uri}/{identifier}"
        base = self.api.base_url
        titles, rel = negotiated.titles, self._rel
        return (
            {"type": FORMAT_TYPES[F_JSON], "rel": "root",
             "title": titles["The landing page of this server as JSON"], "href": f"{base}?f={F_JSON}"},
            {"type": FORMAT_TYPES[F_HTML], "rel": "root",
             "title": titles["The landing page of this server as HTML"], "href": f"{base}?f={F_HTML}"},
            {"rel": rel(negotiated, F_JSON), "type": "application/geo+json",
             "title": titles["This document as JSON"], "href": f"{uri}?f={F_JSON}"},
            {"rel": rel(negotiated, F_JSONLD), "type": FORMAT_TYPES[F_JSONLD],
             "title": titles["This document as RDF (JSON-LD)"], "href": f"{uri}?f={F_JSONLD}"},
            {"rel": rel(negotiated, F_HTML), "type": FORMAT_TYPES[F_HTML],
             "title": titles["This document as HTML"], "href": f"{uri}?f={F_HTML}"},
            {"rel": "collection", "type": FORMAT_TYPES[F_JSON], "title": titles["collection"],
             "href": collection.uri.rsplit("/", 1)[0]},
        )

    def _item(self, collection: Collection, negotiated: Negotiated, snapshot: LayerSnapshot,
              identifier: str) -> dict | None:
        if collection.provider_def.get("uri_field"):
            return None
        feature = snapshot.get(identifier)
        if feature is None:
            return None  # Flask writes the 404
        links = feature.setdefault("links", [])
        links.extend(self._cached_links(("item", collection.id, self._shape(negotiated), identifier),
                                        lambda: self._item_links(collection, negotiated, identifier)))
        if "prev" in feature or "next" in feature:
            return None  # pygeoapi's prev/next links: never produced by our stores
        return feature


def layer_api_headers(api: Any) -> dict[str, str]:
    """pygeoapi's fixed response headers (``X-Powered-By``) and the configured extra ones,
    as ``APIRequest.get_response_headers`` merges them, without ``Content-Type``."""
    merged = {**HEADERS, **api.api_headers}
    merged.pop("Content-Type", None)
    return merged
