"""The store: where published layers live. One interface (``Store``), chosen by settings."""

from __future__ import annotations

from layers.errors import StoreError
from layers.settings import Settings

from .base import And, Comparison, InvalidQueryError, Not, Or, QueryResult, Store, Where
from .geopackage import GeoPackageStore

__all__ = [
    "And",
    "Comparison",
    "GeoPackageStore",
    "InvalidQueryError",
    "Not",
    "Or",
    "QueryResult",
    "Store",
    "Where",
    "open_store",
]


def open_store(settings: Settings) -> Store:
    """``settings.store`` empty → GeoPackage files in ``settings.data_dir``; ``postgresql://…`` → PostGIS."""
    url = settings.store.strip()
    if not url:
        return GeoPackageStore(settings.data_dir)
    if url.startswith(("postgresql://", "postgres://")):
        raise StoreError("le stockage PostGIS n'est pas encore disponible : laisser GEOCOMMUNE_STORE vide")
    raise StoreError(
        f"adresse de stockage non reconnue « {url} » : vide (GeoPackage) ou postgresql://…"
    )
