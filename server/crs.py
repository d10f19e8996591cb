"""pygeoapi's CRS handling on the request path, cached — a workaround.

pygeoapi 0.24 rebuilds pyproj objects on every request: ``transform_bbox`` parses both
CRS URIs, builds a new ``Transformer`` and calls ``CRS.to_epsg()`` (a search of the
PROJ database, ~20 ms) just to know whether the target is Web Mercator;
``create_crs_transform_spec`` parses the URIs again and exports both CRSs as WKT. For a
bbox request on 100 000 points this was three quarters of the request time. The
replacements below give the same answers from per-process caches (a handful of URIs
is ever asked), and ``transform_bbox`` densifies the box edges (``transform_bounds``),
so that a box given in Lambert-93 is not cut short by the curvature of its edges in
longitude/latitude.

``install()`` replaces the two names in ``pygeoapi.api.itemtypes`` (read at request
time by pygeoapi's Flask routes); ``cached_crs`` is also what our provider hands to
pygeoapi's ``BaseProvider`` so that it does not parse the storage CRS per request.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Optional

import pyproj
import pygeoapi.api.itemtypes as itemtypes_api
from pygeoapi.crs import DEFAULT_CRS, DEFAULT_CRS_LIST, DEFAULT_STORAGE_CRS, CrsTransformSpec, get_crs, get_supported_crs_list
from pyproj.exceptions import CRSError, ProjError

_WEB_MERCATOR_MAX_LATITUDE = 85.0511
_DENSIFY_POINTS = 21


@lru_cache(maxsize=128)
def cached_crs(uri: str) -> pyproj.CRS:
    """``pygeoapi.crs.get_crs`` once per URI (same errors: ``CRSError``)."""
    return get_crs(uri)


@lru_cache(maxsize=128)
def _epsg(uri: str) -> int | None:
    return cached_crs(uri).to_epsg()


@lru_cache(maxsize=128)
def _transformer(source: str, target: str, always_xy: bool) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(cached_crs(source), cached_crs(target), always_xy=always_xy)


def _uri(crs: str | pyproj.CRS) -> str:
    return crs if isinstance(crs, str) else crs.to_wkt()


def transform_bbox(bbox: list, from_crs: str | pyproj.CRS, to_crs: str | pyproj.CRS, always_xy: bool = False) -> list:
    """``pygeoapi.crs.transform_bbox``, cached, with the box edges densified."""
    source, target = _uri(from_crs), _uri(to_crs)
    if source == target:
        return [float(v) for v in bbox]
    if _epsg(target) == 3857:
        # As pygeoapi does: Web Mercator has no pole; clip the latitudes first.
        bbox = [bbox[0], max(-_WEB_MERCATOR_MAX_LATITUDE, bbox[1]), bbox[2], min(_WEB_MERCATOR_MAX_LATITUDE, bbox[3])]
    transformer = _transformer(source, target, always_xy)
    three_d = len(bbox) == 6
    minx, miny, maxx, maxy = (bbox[0], bbox[1], bbox[3], bbox[4]) if three_d else bbox
    try:
        out = transformer.transform_bounds(minx, miny, maxx, maxy, densify_pts=_DENSIFY_POINTS)
    except ProjError as exc:
        raise CRSError(f"bbox hors du domaine de validité du SCR {source} : {exc}") from None
    if not all(math.isfinite(v) for v in out):
        raise CRSError(f"bbox hors du domaine de validité du SCR {source}")
    if three_d:
        return [out[0], out[1], bbox[2], out[2], out[3], bbox[5]]
    return list(out)


@lru_cache(maxsize=256)
def _spec(storage_crs_uri: str, query_crs_uri: str, always_xy: bool) -> CrsTransformSpec | None:
    storage_crs, crs_out = cached_crs(storage_crs_uri), cached_crs(query_crs_uri)
    if storage_crs == crs_out:
        return None
    return CrsTransformSpec(
        source_crs_uri=storage_crs_uri,
        source_crs_wkt=storage_crs.to_wkt(),
        target_crs_uri=query_crs_uri,
        target_crs_wkt=crs_out.to_wkt(),
        always_xy=always_xy,
    )


def create_crs_transform_spec(provider_def: dict, query_crs_uri: Optional[str] = None) -> CrsTransformSpec | None:
    """``pygeoapi.crs.create_crs_transform_spec``, cached (same checks, same errors)."""
    always_xy = bool(provider_def.get("always_xy", False))
    storage_crs_uri = provider_def.get("storage_crs", DEFAULT_STORAGE_CRS)
    if not isinstance(storage_crs_uri, str):  # a CRS object, as our provider may hold
        storage_crs_uri = DEFAULT_STORAGE_CRS
    if not query_crs_uri:
        query_crs_uri = storage_crs_uri if storage_crs_uri in DEFAULT_CRS_LIST else DEFAULT_CRS
    supported = get_supported_crs_list(provider_def)
    if query_crs_uri not in supported:
        raise ValueError(
            f"CRS {query_crs_uri!r} not supported for this collection. "
            f"List of supported CRSs: {', '.join(supported)}."
        )
    return _spec(storage_crs_uri, query_crs_uri, always_xy)


def install() -> None:
    """Replace pygeoapi's request-path CRS helpers by the cached ones (idempotent)."""
    itemtypes_api.transform_bbox = transform_bbox
    itemtypes_api.create_crs_transform_spec = create_crs_transform_spec
