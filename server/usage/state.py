"""What the usage hook and ``/stats`` share in one app: settings, the worker's buffer, the
served layers."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from typing import Collection

from flask import Flask, Response, request

from layers.catalogue import get_catalogue
from layers.settings import Settings
from layers.store.usage import UsageKey, UsageStore, usage_for

from .buffer import UsageBuffer
from .counting import classify_use

EXTENSION = "geocommune_usage"
LOGGER = logging.getLogger("geocommune.usage")


class _Today:
    """Today's UTC date as text, recomputed once a day rather than at each request."""

    def __init__(self) -> None:
        self._day = -1
        self._text = ""

    def __call__(self) -> str:
        day = int(time.time() // 86400)
        if day != self._day:
            self._text = (dt.date(1970, 1, 1) + dt.timedelta(days=day)).isoformat()
            self._day = day
        return self._text


@dataclass
class UsageState:
    app: Flask
    settings: Settings
    buffer: UsageBuffer = field(init=False)
    today: _Today = field(default_factory=_Today)

    def __post_init__(self) -> None:
        self.buffer = UsageBuffer(self._open_usage, self.settings.usage_flush)

    def _open_usage(self) -> UsageStore:
        from server.provider import shared_store  # the worker's one store (GeoPackage or PostGIS)

        return usage_for(shared_store(self.settings))

    def served(self) -> Collection[str]:
        """The served collection ids, in order: the HTTP layer's (from pygeoapi's
        configuration), or the catalogue's layers in an app without it. Asked at each
        counted request: the dict itself, no copy."""
        http = self.app.extensions.get("geocommune_http")
        if http is not None:
            return http.collections.keys()
        return get_catalogue(self.settings.catalogue).ids

    def count(self, layer: str, kind: str, fmt: str) -> None:
        """One use, decided by the caller (the fast JSON reads, ``server/http/fast_reads.py``)."""
        self.buffer.add(UsageKey(self.today(), layer, kind, fmt))

    def after(self, response: Response) -> Response:
        """Flask ``after_request``: count the request if it is a use (``counting.py``)."""
        try:
            use = classify_use(request, response, self.served)
            if use is not None:
                self.buffer.add(UsageKey(self.today(), *use))
        except Exception:  # noqa: BLE001 — counting must never cost a response
            LOGGER.exception("fréquentation : requête non comptée")
        return response
