"""Read side of the GeoPackage store: plain ``sqlite3`` (no SpatiaLite), one connection per
published file and per process, re-opened when the file is replaced.

Why plain sqlite3: reads must be fast and must not depend on a SpatiaLite build. A
GeoPackage is a SQLite file whose geometry cells are "GeoPackage binary" (a small header
followed by WKB) and whose spatial index is an ``rtree`` virtual table, which the SQLite
bundled with Python supports. We decode the headers ourselves and hand the WKB to shapely
in one vectorised call.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Hashable

import numpy as np
import orjson
import shapely

from layers.errors import StoreError

METADATA_TABLE = "geocommune_metadata"

# GeoPackage binary header: "GP", version, flags, srs_id (int32), then an optional envelope
# whose size depends on bits 1-3 of the flags (0: none, 1: xy, 2: xyz, 3: xym, 4: xyzm).
_HEADER_BYTES = 8
_ENVELOPE_BYTES = (0, 32, 48, 48, 64, 0, 0, 0)


def quote(identifier: str) -> str:
    """SQL identifier quoting (layer ids contain dashes)."""
    return '"' + identifier.replace('"', '""') + '"'


def decode_geometries(blobs: list[bytes | None] | tuple[bytes | None, ...]) -> np.ndarray:
    """GeoPackage geometry blobs → shapely array (None stays None)."""
    wkb = np.empty(len(blobs), dtype=object)
    # Slicing the header off is the only per-row Python work; parsing is shapely's (C, vectorised).
    wkb[:] = [None if b is None else b[_HEADER_BYTES + _ENVELOPE_BYTES[(b[3] >> 1) & 7]:] for b in blobs]
    return shapely.from_wkb(wkb)


def _to_bool(values: tuple[Any, ...]) -> list[bool | None]:
    return [None if v is None else bool(v) for v in values]


def _from_json(values: tuple[Any, ...]) -> list[Any]:
    return [None if v is None else orjson.loads(v) for v in values]


# How stored cells are turned back into the published Python values, per field type.
CELL_DECODERS = {"boolean": _to_bool, "array": _from_json, "object": _from_json}


class LayerCache:
    """Answers computed on one open file (counts, spatial matches, paging cursors).

    Kept with the ``OpenLayer`` it was computed on: a published file never changes in
    place, so an answer stays right as long as the file is the same, and a
    re-publication (new file identity, new ``OpenLayer``) starts from an empty cache.
    Keys are tuples whose first item names the kind of answer; each kind is bounded on
    its own (least recently used first out), so that a few large answers (the ids
    matching a spatial filter) cannot crowd out many small ones (counts).
    """

    LIMITS = {"spatial": 16, "cursors": 64, "bbox": 256, "sorted-box": 32}
    DEFAULT_LIMIT = 512

    def __init__(self) -> None:
        self._kinds: dict[Hashable, OrderedDict[Hashable, Any]] = {}
        self._lock = threading.Lock()

    def _entries(self, key: Hashable) -> OrderedDict[Hashable, Any]:
        kind = key[0] if isinstance(key, tuple) and key else None
        return self._kinds.setdefault(kind, OrderedDict())

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            entries = self._entries(key)
            if key not in entries:
                return default
            entries.move_to_end(key)
            return entries[key]

    def put(self, key: Hashable, value: Any) -> Any:
        with self._lock:
            entries = self._entries(key)
            entries[key] = value
            entries.move_to_end(key)
            limit = self.LIMITS.get(key[0] if isinstance(key, tuple) and key else None, self.DEFAULT_LIMIT)
            while len(entries) > limit:
                entries.popitem(last=False)
        return value

    def get_or_compute(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        missing = object()
        value = self.get(key, missing)
        return self.put(key, compute()) if value is missing else value

    def clear(self) -> None:
        with self._lock:
            self._kinds.clear()


@dataclass
class OpenLayer:
    """A read-only connection to one published file and what we learnt when opening it."""

    path: Path
    identity: tuple[int, int, int]  # inode, mtime (ns), size: changes when the file is replaced
    connection: sqlite3.Connection
    table: str
    fid_column: str
    geometry_column: str
    rtree: str | None  # name of the R-tree virtual table, if the layer has one
    columns: tuple[str, ...]  # attribute columns in table order ("id" included)
    metadata: dict[str, Any]
    lock: threading.Lock = field(default_factory=threading.Lock)
    cache: LayerCache = field(default_factory=LayerCache)

    @property
    def field_types(self) -> dict[str, str]:
        return dict(self.metadata.get("field_types", {}))

    def execute(self, sql: str, params: list[Any] | tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with self.lock:
            return self.connection.execute(sql, params).fetchall()


def _identity(path: Path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def publication_token(identity: tuple[int, int, int]) -> str:
    """The GeoPackage store's publication token (the PostGIS store draws one): the published
    file's identity, new at each publication since a re-publication replaces the file."""
    return "{}-{}-{}".format(*identity)


def file_token(path: Path) -> str | None:
    """The publication token of the file at ``path`` now, or None if it cannot be read."""
    try:
        identity = _identity(path)
    except OSError:
        return None
    return publication_token(identity) if identity is not None else None


def _open(path: Path, layer_id: str, identity: tuple[int, int, int]) -> OpenLayer:
    # immutable=1: published files are never modified in place (publication replaces the
    # whole file), so SQLite may skip locking and change detection; we detect replacement
    # ourselves through the file identity.
    uri = path.resolve().as_uri() + "?mode=ro&immutable=1"
    connection = sqlite3.connect(uri, uri=True, check_same_thread=False)
    try:
        connection.execute("PRAGMA query_only = ON")
        # CQL2 LIKE is case-sensitive; SQLite's is not by default.
        connection.execute("PRAGMA case_sensitive_like = ON")
        # No memory-mapped I/O (SQLite's default): mapped pages of the file count in each
        # worker's resident memory. Measured at 1M points (451 MiB file): an unindexed filter
        # scan left a worker at 432 MiB RSS with a 256 MiB map and 171 MiB without, and ran
        # no faster (427 vs 261–294 ms); bbox pages were the same either way. The OS page
        # cache keeps the file in memory once, for all workers.
        geometry = connection.execute(
            "SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?", (layer_id,)
        ).fetchone()
        if geometry is None:
            raise StoreError(f"la couche « {layer_id} » est absente du fichier", file=path)
        geometry_column = geometry[0]
        has_rtree = connection.execute(
            "SELECT 1 FROM gpkg_extensions WHERE table_name = ? AND column_name = ? "
            "AND extension_name = 'gpkg_rtree_index'",
            (layer_id, geometry_column),
        ).fetchone()
        info = connection.execute(f"PRAGMA table_info({quote(layer_id)})").fetchall()
        fid_column = next((row[1] for row in info if row[5]), "fid")
        columns = tuple(row[1] for row in info if row[1] not in (fid_column, geometry_column))
        row = connection.execute(
            f"SELECT metadata FROM {METADATA_TABLE} WHERE layer_id = ?", (layer_id,)
        ).fetchone()
        metadata = orjson.loads(row[0]) if row else {}
        if metadata:
            # This publication's token, as the PostGIS store writes one: the file's identity
            # (a re-publication replaces the file). The HTTP validators and the download
            # cache key on it without a stat of their own (server/http/caching.py).
            metadata["store"] = {**(metadata.get("store") or {}), "publication": publication_token(identity)}
    except sqlite3.Error as exc:
        connection.close()
        raise StoreError(f"fichier de la couche « {layer_id} » illisible : {exc}", file=path) from None
    except BaseException:
        connection.close()
        raise
    opened = OpenLayer(
        path=path,
        identity=identity,
        connection=connection,
        table=layer_id,
        fid_column=fid_column,
        geometry_column=geometry_column,
        rtree=f"rtree_{layer_id}_{geometry_column}" if has_rtree else None,
        columns=columns,
        metadata=metadata,
    )
    # Closed with its last user. A sqlite3 connection sits in a reference cycle of its own
    # (its statement cache), so left alone it would wait for the cyclic GC — keeping a
    # replaced file open, and its disk space taken, long after a re-publication.
    weakref.finalize(opened, connection.close)
    return opened


class LayerReaders:
    """Process-wide cache of open layers, keyed by file path.

    A re-publication replaces the file (new inode), so comparing ``os.stat`` identity on
    each access — one system call — is enough to pick it up without a restart. The cache
    is also dropped after ``fork`` (server workers): a SQLite connection must not be
    used in two processes.
    """

    def __init__(self) -> None:
        self._layers: dict[Path, OpenLayer] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def get(self, path: Path, layer_id: str) -> OpenLayer | None:
        if self._pid != os.getpid():
            # Inherited from the parent process: forget without closing (the parent owns them).
            self._layers, self._pid = {}, os.getpid()
        identity = _identity(path)
        current = self._layers.get(path)
        if identity is None:
            if current is not None:
                self._forget(path, current)
            return None
        if current is not None and current.identity == identity:
            return current
        with self._lock:
            current = self._layers.get(path)
            if current is not None and current.identity == identity:
                return current
            for attempt in range(3):
                opened = _open(path, layer_id, identity)
                # The file may have been replaced between stat and open: check again. (After
                # the last attempt keep what we have: the next access sees the new identity.)
                after = _identity(path)
                if after == identity or attempt == 2:
                    break
                opened.connection.close()
                if after is None:
                    return None
                identity = after
            if current is not None:
                self._forget(path, current)
            self._layers[path] = opened
            return opened

    def _forget(self, path: Path, layer: OpenLayer) -> None:
        # Dropped, not closed: a query running in another thread finishes on the old file;
        # the connection is closed when its last user lets go of it.
        if self._layers.get(path) is layer:
            del self._layers[path]

    def close(self) -> None:
        layers, self._layers = self._layers, {}
        for layer in layers.values():
            with layer.lock:
                layer.connection.close()
