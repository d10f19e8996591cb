"""pygeoapi feature provider on the geocommune store.

pygeoapi instantiates a provider for every request (``load_plugin`` in each API
function), so the constructor must be cheap: the store — and with it the open SQLite
connections — is cached per process and per data folder, and so are the property
schemas and the CRS objects.

Everything a request asks is answered by the store in SQL (bbox through the R-tree,
property filters, CQL2, sort, paging, ``numberMatched``) or refused with a 400 naming
what is not supported; nothing is ignored.
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

from layers.catalogue import SchemaRef
from layers.errors import StoreError
from layers.store import GeoPackageStore, InvalidQueryError, QueryResult, Store

from . import conformance, queryables
from .crs import DEFAULT_STORAGE_CRS, cached_crs
from .cql import UnsupportedFilter, to_where

LOGGER = logging.getLogger(__name__)

# pygeoapi loads this plugin (to describe the collections in the OpenAPI document) before
# serving any request: the corrections to what it advertises are in place from then on.
conformance.apply()


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


def _schema_ref(provider_def: dict[str, Any]) -> SchemaRef | None:
    """The national schema named in the provider definition (see ``pygeoapi_config``)."""
    described = provider_def.get("national_schema")
    if not described:
        return None
    return SchemaRef(
        name=described["name"], version=described["version"], kind=described["kind"], path=Path(described["path"])
    )


class GeoPackageProvider(BaseProvider):
    """Features of one published layer (``table``) in the store at ``data``'s folder."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        # BaseProvider parses the storage CRS URI with pyproj; hand it the cached CRS instead.
        storage_crs = provider_def.get("storage_crs") or DEFAULT_STORAGE_CRS
        super().__init__({**provider_def, "storage_crs": cached_crs(storage_crs)})
        path = Path(self.data)
        self.layer_id: str = provider_def.get("table") or path.stem
        self.store = store_for(str(path.parent))
        self.id_field = "id"
        self.schema_ref = _schema_ref(provider_def)
        # BaseProvider.fields returns ``_fields`` as is: fill it now (cheap: cached).
        self._metadata = self._read_metadata()
        self._fields = queryables.properties(self.field_types, self.schema_ref)

    # -- description -------------------------------------------------------------------
    def _read_metadata(self) -> dict[str, Any]:
        try:
            return self.store.metadata(self.layer_id) or {}
        except StoreError as exc:
            raise ProviderConnectionError(user_msg=str(exc)) from exc

    @property
    def field_types(self) -> dict[str, str]:
        """Published property → store type (string, integer, number, boolean, date, array…)."""
        return dict(self._metadata.get("field_types", {}))

    def get_fields(self) -> dict[str, dict[str, Any]]:
        """JSON Schema of each published property, typed from the national schema."""
        return queryables.properties(self.field_types, self.schema_ref)

    def queryables(self, names: list[str] | None = None) -> dict[str, dict[str, Any]]:
        """The ``properties`` of ``/queryables``: the fields plus the geometry, with their roles."""
        result: dict[str, dict[str, Any]] = {
            "geometry": queryables.geometry_schema(self._metadata.get("geometry_types") or [])
        }
        for name, schema in self.get_fields().items():
            if name == self.id_field:
                schema["x-ogc-role"] = "id"
            result[name] = schema
        if names is not None:
            result = {name: result[name] for name in names if name in result}
        return result

    def get_schema(self, schema_type=None):  # noqa: ANN001 (pygeoapi signature)
        properties = self.queryables()
        return "application/geo+json", {
            "$schema": "http://json-schema.org/draft/2019-09/schema",
            "type": "object",
            "properties": properties,
        }

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
            raise ProviderInvalidQueryError(user_msg="q : la recherche plein texte n'est pas prise en charge")
        if datetime_:
            raise ProviderInvalidQueryError(
                user_msg=f"datetime : la collection « {self.layer_id} » n'a pas de dimension temporelle"
            )
        try:
            where = to_where(filterq, self.field_types) if filterq is not None else None
        except UnsupportedFilter as exc:
            raise ProviderInvalidQueryError(user_msg=str(exc)) from None
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
