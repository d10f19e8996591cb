"""Query parameter validation, per OGC API resource — the parameter table.

Workaround for pygeoapi 0.24, which silently ignores query parameters it does not know
(the OGC API Features abstract test suite, /req/core/query-param-unknown, wants a 400)
and refuses some malformed values with an English message that does not say which
parameter is wrong (or not at all: a huge ``offset`` reaches the database and fails as a
500). Every request to a pygeoapi resource is checked here first; what passes is handed
to pygeoapi unchanged, so its own checks still apply behind ours.

Decisions (mirrored in the OpenAPI document, see ``openapi.py``):

- ``limit``: an integer ≥ 1; above the maximum (10 000) it is **clamped**, not refused
  (OGC API Features lets servers do so, and a client asking for "everything" still gets
  pages with ``next`` links).
- ``bbox``: 4 numbers (6 accepted, the third and sixth being heights); in CRS84 (and
  EPSG:4326, latitude first) longitudes in [-180, 180], latitudes in [-90, 90]; west > east
  is accepted as crossing the antimeridian; other CRSs: west ≤ east, and the corners
  must fall on the Earth once converted to CRS84.
- ``filter``: only its syntax is checked here, with the parser the server uses
  (``server.cql_parse``: pygeofilter plus S_DWITHIN / BBOX literals), in the language
  ``filter-lang`` names (``cql2-text`` or ``cql2-json``); what it means (unknown
  property, unsupported operator) is the provider's to refuse.
- ``sortby``: scalar properties only (a list or an object has no order).
- property filters (``nom=…``): one parameter per property of the layer, read from the
  store metadata (``field_types``) at each request, so a re-published layer with a new
  column accepts it without a restart; the value must parse as the property's type.
- a parameter given twice is refused (which value would win is not defined).
"""

from __future__ import annotations

from typing import Callable

from .param_checks import (
    MAX_LIMIT,
    Context,
    check_bbox,
    check_bbox_crs,
    check_crs,
    check_datetime,
    check_filter,
    check_filter_crs,
    check_filter_lang,
    check_format,
    check_limit,
    check_offset,
    check_properties,
    check_property_value,
    check_queryables_properties,
    check_resulttype,
    check_skip_geometry,
    check_sortby,
    fail,
    shorten,
)

__all__ = ["ALLOWED", "CHECKS", "Context", "MAX_LIMIT", "validate"]

# -- the table: which parameters each resource accepts ---------------------------------
COMMON = ("f", "lang")
ITEMS = (
    "f", "lang", "bbox", "bbox-crs", "crs", "limit", "offset", "datetime", "properties",
    "sortby", "filter", "filter-lang", "filter-crs", "skipGeometry", "resulttype",
)  # + one parameter per property of the layer
ALLOWED: dict[str, tuple[str, ...]] = {
    "landing": COMMON,
    "openapi": (*COMMON, "ui"),
    "conformance": COMMON,
    "collections": COMMON,
    "collection": COMMON,
    "schema": COMMON,
    "queryables": (*COMMON, "profile", "properties"),
    "items": ITEMS,
    "item": (*COMMON, "crs"),
}
# Resources whose property names are accepted as ``name=value`` filters.
PROPERTY_FILTERS = frozenset({"items"})

Check = Callable[[str, Context], None]
# Checked in this order; the first error found is the one reported.
CHECKS: dict[str, Check] = {
    "f": check_format,
    "crs": check_crs,
    "bbox-crs": check_bbox_crs,
    "bbox": check_bbox,
    "limit": check_limit,
    "offset": check_offset,
    "datetime": check_datetime,
    "properties": check_properties,
    "sortby": check_sortby,
    "filter-lang": check_filter_lang,
    "filter-crs": check_filter_crs,
    "filter": check_filter,
    "skipGeometry": check_skip_geometry,
    "resulttype": check_resulttype,
}
# Where a parameter means something else on another resource.
CHECKS_BY_KIND: dict[tuple[str, str], Check] = {
    ("queryables", "properties"): check_queryables_properties,
}


def validate(ctx: Context) -> None:
    """Raise ``InvalidParameter`` for the first unknown, repeated or malformed parameter."""
    allowed = ALLOWED.get(ctx.kind)
    if allowed is None:
        return
    properties = ctx.field_types if ctx.kind in PROPERTY_FILTERS else {}
    for name in ctx.args:  # in the order of the query string
        if name not in allowed and name not in properties:
            accepted = ", ".join(allowed) + (" et les propriétés de la collection" if properties else "")
            raise fail(name, f"paramètre inconnu « {shorten(name)} » ; paramètres acceptés : {accepted}")
        if len(ctx.args.getlist(name)) > 1:
            raise fail(name, f"le paramètre « {shorten(name)} » est donné plusieurs fois")
    for name, check in CHECKS.items():
        if name in ctx.args and name in allowed:
            CHECKS_BY_KIND.get((ctx.kind, name), check)(ctx.args[name], ctx)
    for name in ctx.args:
        if name not in allowed and name in properties:
            check_property_value(name, ctx.args[name], properties[name])
