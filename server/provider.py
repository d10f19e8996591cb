"""pygeoapi feature provider on the geocommune store.

pygeoapi instantiates a provider for every request (``load_plugin`` in each API
function), so the constructor must be cheap: the store — and with it the open SQLite
connections or the PostgreSQL pool — is cached per process and per store (``shared_store``),
and so are the property schemas and the CRS objects. The HTTP layer uses the same store
object, so a process holds one pool, created on first use (in a server worker: after the fork).

Which store: the provider definition's ``data`` names where the layer lives — the
GeoPackage file, or for PostGIS ``postgresql://user:***@host:port/db#schema.layer`` (password masked)
(``PostGISStore.path``). The PostGIS URL *with* its credentials is never written into the
generated configuration: it comes from the process's settings (``configure``, called by
``create_app`` / ``app_from_files`` in the server's main process and in each worker;
``GEOCOMMUNE_STORE`` otherwise), and must designate the same database and schema as ``data``.

A database that cannot be reached raises ``StoreUnavailableError`` out of the provider,
past pygeoapi (which only catches its own provider errors), to the HTTP layer's error table:
503 with a French message, and the next request after the database is back succeeds.

Everything a request asks is answered by the store in SQL (bbox through the R-tree,
property filters, CQL2, sort, paging, ``numberMatched``) or refused with a 400 naming
what is not supported; nothing is ignored.
"""

from __future__ import annotations

import logging
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterator

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
from layers.settings import Settings, load_settings
from layers.store import InvalidQueryError, QueryResult, Store, StoreUnavailableError, open_store

from .http.request_metadata import request_metadata
from . import conformance, queryables
from .crs import DEFAULT_STORAGE_CRS, cached_crs
from .cql import UnsupportedFilter, to_where

LOGGER = logging.getLogger(__name__)

# pygeoapi loads this plugin (to describe the collections in the OpenAPI document) before
# serving any request: the corrections to what it advertises are in place from then on.
conformance.apply()


POSTGRES_SCHEMES = ("postgresql://", "postgres://")

_settings: Settings | None = None  # the process's settings (``configure``); None: GEOCOMMUNE_* variables
_describing = False  # True while the configuration is being described (``describing``)


def _store_key(settings: Settings) -> tuple[str, int]:
    url = settings.store.strip()
    if url:
        return url, int(settings.pg_pool)
    return str(Path(settings.data_dir).resolve()), 0


_STORES: dict[tuple[str, int], Store] = {}
_STORES_LOCK = threading.Lock()


def _open(key: str, pool_size: int) -> Store:
    store = _STORES.get((key, pool_size))
    if store is None:
        with _STORES_LOCK:
            store = _STORES.get((key, pool_size))
            if store is None:
                if key.startswith(POSTGRES_SCHEMES):
                    store = open_store(Settings(store=key, pg_pool=pool_size))
                else:
                    store = open_store(Settings(data_dir=Path(key), store=""))
                _STORES[(key, pool_size)] = store
    return store


def shared_store(settings: Settings) -> Store:
    """The one store of this process for ``settings`` (by store URL, or GeoPackage folder).

    Opening it costs nothing: the PostGIS pool is created at its first query, in the process
    that makes it (a server worker, not the main process it was forked from)."""
    return _open(*_store_key(settings))


@lru_cache(maxsize=64)
def _resolved(folder: str) -> str:
    return str(Path(folder).resolve())


def store_for(data_dir: str) -> Store:
    """The GeoPackage store of ``data_dir`` (one per folder and per process)."""
    return _open(_resolved(str(data_dir)), 0)


def configure(settings: Settings) -> Store:
    """Make ``settings`` this process's (the PostGIS URL with its credentials comes from
    here, never from the generated files) and return its shared store."""
    global _settings
    _settings = settings
    return shared_store(settings)


def current_settings() -> Settings:
    return _settings if _settings is not None else load_settings()


def close_stores() -> None:
    """Close the connections of every store of this process — the server's main process, once
    the configuration is written: its workers open their own. A store reopens on next use."""
    for store in list(_STORES.values()):
        close = getattr(store, "close", None)
        if close is not None:
            close()


@contextmanager
def describing() -> Iterator[None]:
    """While pygeoapi describes the collections (``get_oas`` at start-up): a store that
    cannot be reached gives providers without fields instead of failing the start."""
    global _describing
    previous, _describing = _describing, True
    try:
        yield
    finally:
        _describing = previous


def store_for_data(data: str, layer_id: str) -> Store:
    """The store holding ``layer_id``, from the provider definition's ``data``."""
    if not data.startswith(POSTGRES_SCHEMES):
        return store_for(str(Path(data).parent))
    settings = current_settings()
    url = settings.store.strip()
    if not url.startswith(POSTGRES_SCHEMES):
        raise ProviderConnectionError(
            user_msg=f"la collection « {layer_id} » est servie depuis PostgreSQL, mais l'adresse du stockage "
                     "(GEOCOMMUNE_STORE) n'est pas donnée à ce processus"
        )
    store = shared_store(settings)
    located = str(store.path(layer_id))
    if located != data:
        raise ProviderConnectionError(
            user_msg=f"GEOCOMMUNE_STORE ({located}) ne désigne pas la base où la configuration place "
                     f"« {layer_id} » ({data}) : régénérer la configuration (redémarrer le serveur)"
        )
    return store


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
    """Features of one published layer (``table``) of the store ``data`` names (a GeoPackage
    file, or a PostGIS location: see the module docstring). The name stays for the
    configurations already written; it serves both stores."""

    def __init__(self, provider_def: dict[str, Any]) -> None:
        # BaseProvider parses the storage CRS URI with pyproj; hand it the cached CRS instead.
        storage_crs = provider_def.get("storage_crs") or DEFAULT_STORAGE_CRS
        super().__init__({**provider_def, "storage_crs": cached_crs(storage_crs)})
        data = str(self.data)
        self.layer_id: str = provider_def.get("table") or Path(data).stem
        self.store = store_for_data(data, self.layer_id)
        self.id_field = "id"
        self.schema_ref = _schema_ref(provider_def)
        # BaseProvider.fields returns ``_fields`` as is: fill it now. pygeoapi builds a provider
        # for every request and only reads the names and types, so the cached schemas are
        # shared rather than copied (a copy of ~40 nested schemas per request showed in profiles).
        self._metadata = self._read_metadata()
        self._fields = queryables.shared_properties(self._metadata.get("field_types", {}), self.schema_ref)

    # -- description -------------------------------------------------------------------
    def _read_metadata(self) -> dict[str, Any]:
        try:
            # Shared with the HTTP layer's checks of the same request (read once).
            return request_metadata(self.store, self.layer_id) or {}
        except StoreUnavailableError as exc:
            if _describing:  # start-up with the database away: described without its fields
                LOGGER.debug("%s décrite sans ses champs : %s", self.layer_id, exc)
                return {}
            raise  # past pygeoapi, to the HTTP layer's error table: 503
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
        except StoreUnavailableError:
            raise  # past pygeoapi, to the HTTP layer's error table: 503
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
        except InvalidQueryError as exc:
            raise ProviderInvalidQueryError(user_msg=exc.message) from None
        except StoreUnavailableError:
            raise  # past pygeoapi, to the HTTP layer's error table: 503
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
