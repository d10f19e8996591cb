"""``/health``: is the store reachable, and is every served layer still readable?

200 with ``"status": "ok"`` when all is well; 503 with ``"status": "degraded"`` when a
served layer cannot be read (missing, unreadable), ``"error"`` when the store itself
cannot be listed (the database is down: then the layers are not even asked). Not ``ok``
comes with a French ``message``. Counts come from the publication metadata (no table
scan), so a load balancer may poll it often.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from layers.store import Store, StoreUnavailableError

from .routing import CollectionInfo


MESSAGES = {
    "unavailable": "base de données injoignable : les données ne sont pas servies (503) jusqu'à son retour",
    "error": "stockage illisible : les données ne sont pas servies",
    "degraded": "couche(s) servie(s) illisible(s) : {layers}",
}


def health_report(store: Store, collections: dict[str, CollectionInfo]) -> tuple[dict[str, Any], int]:
    message = None
    try:
        published = set(store.published())
        reachable = True
    except StoreUnavailableError:
        published, reachable, message = set(), False, MESSAGES["unavailable"]
    except Exception:  # noqa: BLE001 — any failure to list the store is "unreachable"
        published, reachable, message = set(), False, MESSAGES["error"]
    layers = []
    for cid in collections:
        try:
            metadata = store.metadata(cid) if reachable else None
        except Exception:  # noqa: BLE001
            metadata = None
        entry: dict[str, Any] = {"id": cid, "readable": metadata is not None and cid in published}
        if reachable and collections[cid].unconfirmed and cid not in published:
            entry["published"] = False  # served from the catalogue alone, never published: not a fault
        if metadata:
            entry["published_at"] = metadata.get("published_at")
            entry["features"] = (metadata.get("counts") or {}).get("published")
        layers.append(entry)
    if not reachable:
        status = "error"
    elif all(layer["readable"] or layer.get("published") is False for layer in layers):
        status = "ok"
    else:
        status = "degraded"
        unreadable = ", ".join(layer["id"] for layer in layers if not layer["readable"] and "published" not in layer)
        message = MESSAGES["degraded"].format(layers=unreadable)
    report: dict[str, Any] = {
        "status": status,
        "store": {"reachable": reachable, "kind": type(store).__name__},
        "layers": layers,
        "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    if message is not None:
        report["message"] = message
    return report, 200 if status == "ok" else 503
