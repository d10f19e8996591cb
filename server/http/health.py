"""``/health``: is the store reachable, and is every served layer still readable?

200 with ``"status": "ok"`` when all is well; 503 with ``"status": "degraded"`` when a
served layer cannot be read (missing, unreadable), ``"error"`` when the store itself
cannot be listed. Counts come from the publication metadata (no table scan), so a load
balancer may poll it often.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from layers.store import Store

from .routing import CollectionInfo


def health_report(store: Store, collections: dict[str, CollectionInfo]) -> tuple[dict[str, Any], int]:
    try:
        published = set(store.published())
        reachable = True
    except Exception:  # noqa: BLE001 — any failure to list the store is "unreachable"
        published, reachable = set(), False
    layers = []
    for cid in collections:
        try:
            metadata = store.metadata(cid)
        except Exception:  # noqa: BLE001
            metadata = None
        entry: dict[str, Any] = {"id": cid, "readable": metadata is not None and cid in published}
        if metadata:
            entry["published_at"] = metadata.get("published_at")
            entry["features"] = (metadata.get("counts") or {}).get("published")
        layers.append(entry)
    if not reachable:
        status = "error"
    elif all(layer["readable"] for layer in layers):
        status = "ok"
    else:
        status = "degraded"
    report = {
        "status": status,
        "store": {"reachable": reachable, "kind": type(store).__name__},
        "layers": layers,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    return report, 200 if status == "ok" else 503
