"""The workloads W1–W9: seeded, store-neutral queries, and each server's URL for them.

A query is a small dict (``limit``, ``offset``, ``bbox``, ``id``, ``eq`` = (field, value),
``crs``, ``near`` = (lon, lat)); a *dialect* turns it into one server's URL. Servers that
cannot express a workload get ``None`` (reported as « non pris en charge »): no stock
pygeoapi provider nor tipg has a nearest-feature resource (W8).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import quote, urlencode

from common import CRS_2154, integer
from datasets import Dataset, LayerFacts

URLS_PER_WORKLOAD = 256
KM_LAT = 1 / 111.32  # degrees of latitude per km
ALL = ("W1", "W2", "W3", "W4", "W5", "W6", "W7", "W8", "W9")
W7_SIZE = 10_000  # W7 reads a whole layer of this size, in one page


@dataclass
class Workload:
    key: str
    title: str
    queries: list[dict[str, Any]]


def _box(point: tuple[float, float], size_km: float) -> list[float]:
    lon, lat = point
    half_lat = size_km / 2 * KM_LAT
    half_lon = half_lat / max(math.cos(math.radians(lat)), 0.1)
    return [lon - half_lon, lat - half_lat, lon + half_lon, lat + half_lat]


def build_workloads(ds: Dataset, facts: LayerFacts, wanted: set[str]) -> list[Workload]:
    """The workloads that make sense for ``ds`` (W7 on a layer of 10 000 features, W8 on points)."""
    rng = random.Random(ds.seed + 1)
    n = URLS_PER_WORKLOAD
    deepest = max(0, min(500_000, facts.count - 100))
    values = [rng.choice(facts.values) for _ in range(n)] if facts.values else ["Paris"]
    near = [(round(lon + rng.uniform(-0.01, 0.01), 6), round(lat + rng.uniform(-0.01, 0.01), 6))
            for lon, lat in facts.points]
    field = ds.filter_field
    workloads = [
        Workload("W1", "première page (`limit=10`)", [{"limit": 10}]),
        Workload("W2", "bbox de ville ≈ 2 km, `limit=100`", [{"bbox": _box(p, 2), "limit": 100} for p in facts.points]),
        Workload("W3", "bbox de département ≈ 50 km, `limit=1000`",
                 [{"bbox": _box(p, 50), "limit": 1000} for p in facts.points]),
        Workload("W4", "une entité par identifiant (`/items/{id}`)", [{"id": i} for i in facts.ids]),
        Workload("W5", f"page profonde (`offset` ≤ {integer(deepest)}, `limit=100`)",
                 [{"offset": rng.randint(0, deepest), "limit": 100} for _ in range(n)]),
        Workload("W6", f"filtre CQL2 `{field}='…'`, `limit=100`", [{"eq": (field, v), "limit": 100} for v in values]),
    ]
    if facts.count <= W7_SIZE:
        workloads.append(Workload("W7", f"toute la couche (`limit={W7_SIZE}`)", [{"limit": W7_SIZE}]))
    if ds.kind == "dae":
        workloads.append(Workload("W8", "DAE le plus proche (`/nearest?lon=&lat=`)", [{"near": p} for p in near]))
    workloads.append(Workload("W9", "sortie en Lambert-93 (`crs=…/EPSG/0/2154`), `limit=100`",
                              [{"crs": CRS_2154, "limit": 100}]))
    return [w for w in workloads if w.key in wanted]


# -- dialects: one server's URL path for a query -------------------------------------------------


def _items_params(query: dict[str, Any]) -> list[tuple[str, str]]:
    params: list[tuple[str, str]] = []
    if "bbox" in query:
        params.append(("bbox", ",".join(f"{v:.6f}" for v in query["bbox"])))
    if "eq" in query:
        name, value = query["eq"]
        params.append(("filter", f"{name}='{str(value).replace(chr(39), chr(39) * 2)}'"))
    if "crs" in query:
        params.append(("crs", query["crs"]))
    if query.get("offset"):
        params.append(("offset", str(query["offset"])))
    params.append(("limit", str(query["limit"])))
    return params


def ogc_path(collection: str, query: dict[str, Any], *, nearest: bool) -> str | None:
    """OGC API Features path; ``nearest``: the server has geocommune's nearest resource."""
    base = f"/collections/{quote(collection, safe='')}"
    if "near" in query:
        if not nearest:
            return None
        lon, lat = query["near"]
        return f"{base}/nearest?lon={lon}&lat={lat}"
    if "id" in query:
        return f"{base}/items/{quote(str(query['id']), safe='')}"
    return f"{base}/items?{urlencode(_items_params(query), quote_via=quote, safe=':/,')}"


Dialect = Callable[[dict[str, Any]], "str | None"]


def dialect(server_kind: str, ds: Dataset) -> Dialect:
    """``ours`` and ``pygeoapi-*``: collection id = layer id; ``tipg``: ``schema.table``."""
    if server_kind == "ours":
        return lambda q: ogc_path(ds.layer, q, nearest=True)
    if server_kind == "tipg":
        return lambda q: ogc_path(f"{ds.schema}.{ds.table}", q, nearest=False)
    return lambda q: ogc_path(ds.layer, q, nearest=False)
