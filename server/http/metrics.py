"""Prometheus metrics of the API, per collection, summed over all the server's workers.

Three series, labelled by ``collection`` (a served collection id, or empty for the
resources that belong to none — an unknown collection name never becomes a label) and by
``endpoint`` (the kind of resource: items, item, collection, landing…):

- ``geocommune_http_requests_total{collection, endpoint, method, status}``
- ``geocommune_http_errors_total{collection, endpoint, status}`` (status ≥ 400)
- ``geocommune_http_request_duration_seconds{collection, endpoint}`` (histogram)

Nothing about the client is recorded (no address, no user agent, no query string).

Workers are separate processes: prometheus_client's multiprocess mode gives each one a
memory-mapped file in ``<data>/.runtime/metrics/`` and sums them at scrape time. The
folder is emptied and announced (``PROMETHEUS_MULTIPROC_DIR``) by ``prepare``, in the
process that forks the workers (``server/run.py``), before prometheus_client is first
imported — the library picks its storage when it is imported; the workers' own ``prepare``
then finds it set and empties nothing.
"""

from __future__ import annotations

import logging
import os
from typing import Any
from pathlib import Path

LOGGER = logging.getLogger("geocommune.http")

ENV = "PROMETHEUS_MULTIPROC_DIR"
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KNOWN_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "POST", "PUT", "PATCH", "DELETE"})


def _multiprocess_active() -> bool:
    from prometheus_client import values

    return bool(getattr(values.ValueClass, "_multiprocess", False))


def prepare(directory: Path) -> Path:
    """Empty the per-worker files' folder and point prometheus_client at it; returns the
    folder in use (an earlier one, if this process already records into one)."""
    import sys

    if "prometheus_client" in sys.modules and os.environ.get(ENV):
        # Already recording into a folder in this process (a second app in one process,
        # e.g. tests): the library keeps its open files, so keep the folder too.
        return Path(os.environ[ENV])
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink(missing_ok=True)
    os.environ[ENV] = str(directory)
    return directory


class Metrics:
    def __init__(self, directory: Path) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.directory = directory
        self.multiprocess = _multiprocess_active()
        if not self.multiprocess:
            LOGGER.warning("métriques : prometheus_client importé avant %s, comptage limité à ce processus", ENV)
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "geocommune_http_requests", "Requêtes HTTP servies",
            ["collection", "endpoint", "method", "status"], registry=self.registry,
        )
        self.errors = Counter(
            "geocommune_http_errors", "Réponses HTTP d'erreur (statut ≥ 400)",
            ["collection", "endpoint", "status"], registry=self.registry,
        )
        # (collection, endpoint, method, status) → its labelled series; bounded by the served
        # collections × endpoint kinds × methods × statuses (labels never come from free text).
        self._series: dict[tuple[str, str, str, int], tuple[Any, Any, Any]] = {}
        self.latency = Histogram(
            "geocommune_http_request_duration_seconds", "Durée de traitement des requêtes HTTP (secondes)",
            ["collection", "endpoint"], buckets=BUCKETS, registry=self.registry,
        )

    def observe(self, collection: str, endpoint: str, method: str, status: int, seconds: float) -> None:
        # The method is normalised first: it is the one label a client writes freely.
        key = (collection, endpoint, method if method in KNOWN_METHODS else "other", status)
        series = self._series.get(key)
        if series is None:
            series = self._series.setdefault(key, self._labelled(*key))
        requests, errors, latency = series
        requests.inc()
        if errors is not None:
            errors.inc()
        latency.observe(max(0.0, seconds))

    def _labelled(self, collection: str, endpoint: str, method: str, status: int) -> tuple[Any, Any, Any]:
        """The three series of one label set. Kept: ``labels()`` takes a lock and builds
        the key at each call, a tenth of a fast request's own time."""
        status_text = str(status)
        return (
            self.requests.labels(collection, endpoint, method, status_text),
            self.errors.labels(collection, endpoint, status_text) if status >= 400 else None,
            self.latency.labels(collection, endpoint),
        )

    def render(self) -> tuple[bytes, str]:
        """The exposition text (all workers) and its content type."""
        from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
        from prometheus_client.multiprocess import MultiProcessCollector

        if not self.multiprocess:
            return generate_latest(self.registry), CONTENT_TYPE_LATEST
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(self.directory))
        return generate_latest(registry), CONTENT_TYPE_LATEST
