"""pygeoapi feature provider on the geocommune store.

pygeoapi instantiates a provider for every request (``load_plugin`` in each API
function), so the constructor must be cheap: the store — and with it the open SQLite
connections — is cached per process and per data folder.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyproj
import shapely
import shapely.geometry
from pygeoapi.crs import CrsTransformSpec
from pygeoapi.provider.base import (
    BaseProvider,
    ProviderConnectionError,
    ProviderInvalidQueryError,
    ProviderItemNotFoundError,
    ProviderQueryError,
)

from layers.errors import StoreError
from layers.store import GeoPackageStore, InvalidQueryError, QueryResult, Store

from .cql import UnsupportedFilter, to_where

LOGGER = logging.getLogger(__name__)

# Store field types → JSON Schema, for /queryables and /schema.
JSON_SCHEMA_TYPES: dict[str, dict[str, str]] = {
    "string": {"type": "string"},
    "integer": {"type": "integer"},
    "number": {"type": "number"},
    "boolean": {"type": "boolean"},
    "date": {"type": "string", "format": "date"},
    "datetime": {"type": "string", "format": "date-time"},
    "time": {"type": "string", "format": "time"},
    "year": {"type": "integer"},
    "array": {"type": "array"},
    "object": {"type": "object"},
}


@lru_cache(maxsize=None)
def store_for(data_dir: str) -> Store:
    """One store per data folder and per process (its connections are reused)."""
    return GeoPackageStore(Path(data_dir))


@lru_cache(maxsize=64)
def _transformer(source_wkt: str, target_wkt: str, always_xy: bool) -> pyproj.Transformer:
    return pyproj.Transformer.from_crs(
        pyproj.CRS.from_wkt(source_wkt), pyproj.CRS.from_wkt(target_wkt), always_xy=always_xy
    )


def reproject(result: QueryResult, spec: CrsTransformSpec | None) -> QueryResult:
    """All geometries of a page in one vectorised pyproj call.

    pygeoapi leaves the output CRS to providers (its ``crs_transform`` decorator
    transforms feature by feature); the target CRS's own axis order is kept, so
    EPSG:4326 comes out latitude first, as OGC API Features part 2 requires.
    """
    if spec is None or not result.with_geometry or len(result.geometries) == 0:
        return result
    transformer = _transformer(spec.source_crs_wkt, spec.target_crs_wkt, spec.always_xy)

    def transform(coordinates: np.ndarray) -> np.ndarray:
        x, y = transformer.transform(coordinates[:, 0], coordinates[:, 1])
        return np.column_stack([x, y])

    return result.with_geometries(shapely.transform(result.geometries, transform))


class GeoPackageProvider(BaseProvider):
    """Features of one published layer (``table``) in the store at ``data``'s folder."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        super().__init__(provider_def)
        path = Path(self.data)
        self.layer_id: str = provider_def.get("table") or path.stem
        self.store = store_for(str(path.parent))
        self.id_field = "id"
        # BaseProvider.fields returns ``_fields`` as is: fill it now (cheap: cached metadata).
        self._fields = self.get_fields()

    # -- description -------------------------------------------------------------------
    def get_fields(self) -> dict[str, dict[str, str]]:
        try:
            metadata = self.store.metadata(self.layer_id) or {}
        except StoreError as exc:
            raise ProviderConnectionError(user_msg=str(exc)) from exc
        types = metadata.get("field_types", {})
        return {name: dict(JSON_SCHEMA_TYPES.get(kind, {"type": "string"})) for name, kind in types.items()}

    def get_schema(self, schema_type=None):  # noqa: ANN001 (pygeoapi signature)
        properties = {name: dict(schema) for name, schema in self.get_fields().items()}
        return "application/geo+json", {"$schema": "http://json-schema.org/draft/2019-09/schema", "type": "object", "properties": properties}

    # -- queries -------------------------------------------------------------------------
    def query(
        self,
        offset: int = 0,
        limit: int = 10,
        resulttype: str = "results",
        bbox: list[float] | None = None,
        datetime_: str | None = None,
        properties: list[tuple[str, Any]] | None = None,
        sortby: list[dict[str, str]] | None = None,
        select_properties: list[str] | None = None,
        skip_geometry: bool = False,
        q: str | None = None,
        filterq: Any = None,
        crs_transform_spec: CrsTransformSpec | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        # Refuse what we do not implement rather than answer as if it had not been asked.
        if q:
            raise ProviderInvalidQueryError(user_msg="la recherche plein texte (q) n'est pas prise en charge")
        if datetime_:
            raise ProviderInvalidQueryError(
                user_msg=f"la collection « {self.layer_id} » n'a pas de dimension temporelle (paramètre datetime)"
            )
        try:
            where = to_where(filterq) if filterq is not None else None
        except UnsupportedFilter as exc:
            raise ProviderInvalidQueryError(user_msg=f"filtre CQL2 non pris en charge : {exc}") from None
        hits_only = resulttype == "hits"
        keys = [("-" if key.get("order") == "-" else "") + key["property"] for key in sortby or []]
        try:
            result = self.store.query(
                self.layer_id,
                bbox=bbox or None,
                limit=0 if hits_only else int(limit),
                offset=int(offset),
                sortby=keys,
                properties=list(properties or []),
                where=where,
                select=list(select_properties or []) or None,
                skip_geometry=bool(skip_geometry),
            )
        except InvalidQueryError as exc:
            raise ProviderInvalidQueryError(user_msg=exc.message) from None
        except StoreError as exc:
            raise ProviderConnectionError(user_msg=exc.message) from None
        except Exception as exc:  # a bug or a broken file: logged, reported as 500
            LOGGER.exception("query failed on %s", self.layer_id)
            raise ProviderQueryError() from exc
        features = reproject(result, crs_transform_spec).features
        return {
            "type": "FeatureCollection",
            "features": features,
            "numberMatched": result.number_matched,
            "numberReturned": len(features),
        }

    def get(self, identifier: str, crs_transform_spec: CrsTransformSpec | None = None, **kwargs: Any) -> dict[str, Any]:
        try:
            feature = self.store.get(self.layer_id, str(identifier))
        except StoreError as exc:
            raise ProviderConnectionError(user_msg=exc.message) from None
        if feature is None:
            raise ProviderItemNotFoundError(user_msg=f"aucune entité « {identifier} » dans « {self.layer_id} »")
        if crs_transform_spec is not None and feature.get("geometry") is not None:
            geometry = np.array([shapely.geometry.shape(feature["geometry"])], dtype=object)
            single = QueryResult([feature["id"]], [feature["properties"]], geometry, 1)
            feature["geometry"] = reproject(single, crs_transform_spec).features[0]["geometry"]
        return feature

    def __repr__(self) -> str:
        return f"<GeoPackageProvider> {self.layer_id}"
