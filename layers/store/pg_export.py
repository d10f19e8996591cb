"""The PostGIS side of ``export.py``: a whole layer as keyset pages on ``fid``, one version.

Each page is one short autocommit statement, ``fid > last ORDER BY fid LIMIT n`` on the
primary key, returning on every row the layer version it read. A page from another version
than the first (re-published meanwhile: the swap put a new table, with its own fids, under
the name) raises ``PublicationChanged``; so does a column list gone stale.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator

import psycopg
import pyarrow as pa

from layers.errors import StoreError

from .export import Batch, LayerExport, PublicationChanged, arrow_type
from .pg_read import output_list
from .pg_query import selected_columns

if TYPE_CHECKING:
    from .postgis import PostGISStore

# Errors meaning "the layer changed under us" (see postgis._STALE).
_STALE = (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn, psycopg.errors.FeatureNotSupported,
          psycopg.errors.SerializationFailure)


def open_postgis_export(store: "PostGISStore", layer_id: str, batch_size: int) -> LayerExport:
    info = store._info(layer_id, fresh=True)  # noqa: SLF001 — same package: the store's own metadata cache
    names = selected_columns(info, None)  # the fields after "id", in table order
    field_types = {"id": "string", **{name: info.field_types.get(name, "string") for name in names}}
    types = [arrow_type(kind) for kind in field_types.values()]
    sql = (
        f"SELECT (SELECT version FROM {store._metadata_table} WHERE layer_id = %s), t.\"fid\", "  # noqa: SLF001
        f"{output_list(info, names, with_geometry=True, prefix='t.')} "
        f"FROM {info.table} t WHERE t.\"fid\" > %s ORDER BY t.\"fid\" LIMIT %s"
    )

    def page(after: int) -> list[tuple[Any, ...]]:
        def work(conn: psycopg.Connection) -> list[tuple[Any, ...]]:
            with conn.cursor(binary=True) as cursor:
                return cursor.execute(sql, [layer_id, after, batch_size]).fetchall()

        try:
            rows = store._connections.run(work)  # noqa: SLF001 — reconnects, 503 when the database is away
        except _STALE:
            raise PublicationChanged(f"la couche « {layer_id} » a été republiée pendant l'export") from None
        except psycopg.Error as exc:
            raise StoreError(f"lecture de la couche « {layer_id} » impossible : {str(exc).strip()}") from None
        if rows and rows[0][0] != info.version:
            raise PublicationChanged(f"la couche « {layer_id} » a été republiée pendant l'export")
        return rows

    # The first page now: a database that cannot be reached or a layer that changed is
    # known before the first byte of a download is sent.
    first = page(0)

    def batches() -> Iterator[Batch]:
        rows = first
        while rows:
            columns = list(zip(*rows))  # C-level transpose: one tuple per column
            arrays = [pa.array(values, type=kind) for values, kind in zip(columns[2:-1], types)]
            yield Batch(pa.table(arrays, names=list(field_types)), pa.array(columns[-1], type=pa.binary()))
            if len(rows) < batch_size:
                return
            rows = page(int(rows[-1][1]))

    return LayerExport(layer_id, f"token-{info.version}", dict(info.metadata), batches())
