"""The store: where published layers live. One interface (``Store``), chosen by settings."""

from __future__ import annotations

from layers.errors import StoreError
from layers.settings import Settings

from .base import And, Comparison, InvalidQueryError, Not, Or, QueryResult, Spatial, Store, Where
from .geopackage import GeoPackageStore

__all__ = [
    "And",
    "Comparison",
    "GeoPackageStore",
    "InvalidQueryError",
    "Not",
    "Or",
    "QueryResult",
    "Spatial",
    "Store",
    "StoreUnavailableError",
    "Where",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """``settings.store`` empty → GeoPackage files in ``settings.data_dir``; ``postgresql://…`` → PostGIS."""
    url = settings.store.strip()
    if not url:
        return GeoPackageStore(settings.data_dir)
    if url.startswith(("postgresql://", "postgres://")):
        from .postgis import PostGISStore  # imported here: psycopg is only needed for PostGIS

        return PostGISStore(url, pool_size=settings.pg_pool)
    raise StoreError(
        f"adresse de stockage non reconnue « {url} » : vide (GeoPackage) ou postgresql://…"
    )


def __getattr__(name: str):
    # ``StoreUnavailableError`` (the database cannot be reached: HTTP 503) lives with the
    # PostgreSQL connections; imported on first use, so that psycopg is not loaded by
    # every ``import layers.store``.
    if name == "StoreUnavailableError":
        from .pg_pool import StoreUnavailableError

        return StoreUnavailableError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
