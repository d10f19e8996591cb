"""Spatial predicates (``Spatial`` nodes of the filter tree) in PostGIS SQL.

Same semantics as the GeoPackage store (``gpkg_spatial``): the literal is checked by the
same function; the predicates are GEOS's (``ST_Intersects``, ``ST_Within``…,
whose implicit ``&&`` uses the GiST index); ``disjoint`` is ``NOT ST_Intersects``; a
feature without geometry satisfies neither a predicate nor its negation (SQL's NULL).

``dwithin`` is ``ST_DWithin`` on ``geography`` (metres on the WGS84 spheroid), behind an
index-friendly ``&&`` with a box that holds every point within the distance. The
GeoPackage store measures in an azimuthal equidistant projection centred on the literal:
both are exact for distances to a point literal; for line or polygon literals they may
differ by less than 0.1 % (up to 500 km), i.e. only for features within that margin of
the threshold.
"""

from __future__ import annotations

from typing import Any

import shapely

from .base import Spatial
# One definition of a usable literal and of the distance prefilter box, shared with the
# GeoPackage store (same refusals, same messages).
from .gpkg_spatial import _check_literal as check_literal
from .gpkg_spatial import distance_box

_FUNCTIONS = {
    "intersects": "ST_Intersects",
    "disjoint": "ST_Intersects",  # negated below
    "within": "ST_Within",
    "contains": "ST_Contains",
    "equals": "ST_Equals",
    "touches": "ST_Touches",
    "overlaps": "ST_Overlaps",
    "crosses": "ST_Crosses",
}


def spatial_clause(node: Spatial, params: list[Any]) -> str:
    geometry = check_literal(node)
    if shapely.is_empty(geometry):  # meets nothing; disjoint from every located feature
        return '("geom" IS NOT NULL)' if node.op == "disjoint" else "FALSE"
    literal = "ST_GeomFromWKB(%s, 4326)"
    wkb = shapely.to_wkb(geometry, output_dimension=2)
    if node.op == "dwithin":
        box = distance_box(tuple(float(v) for v in shapely.bounds(geometry)), float(node.distance))
        params.extend([*box, wkb, float(node.distance)])
        return ('("geom" && ST_MakeEnvelope(%s, %s, %s, %s, 4326) '
                f'AND ST_DWithin("geom"::geography, {literal}::geography, %s))')
    params.append(wkb)
    call = f'{_FUNCTIONS[node.op]}("geom", {literal})'
    return f"(NOT {call})" if node.op == "disjoint" else f"({call})"
