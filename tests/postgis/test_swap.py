"""Readers see the old version or the new one, whole — never a mix, never an error — while
publications swap versions under them; a failed publication leaves the old one."""

from __future__ import annotations

import threading
import time

import geopandas as gpd
import numpy as np
import pytest
import shapely

from layers.errors import PublicationError
from layers.store.postgis import PostGISStore

from .conftest import leftover_tables

FIELDS = {"version": "string", "rang": "integer"}
READ_SECONDS = 3.0
MAX_READS = 5_000


def version_frame(n: int, label: str) -> gpd.GeoDataFrame:
    rng = np.random.default_rng(n)
    return gpd.GeoDataFrame(
        {"id": [f"{label}{i}" for i in range(n)], "version": [label] * n, "rang": np.arange(n)},
        geometry=shapely.points(rng.uniform(0, 2, n), rng.uniform(44, 46, n)),
        crs="EPSG:4326",
    )


def read_once(store: PostGISStore) -> tuple[int, ...]:
    """Several reads, each of which must be internally consistent."""
    count = store.count("bascule")
    page = store.query("bascule", limit=5, offset=995, sortby=["-rang"])
    boxed = store.query("bascule", bbox=(0.5, 44.5, 1.5, 45.5), limit=3)
    labels = {p["version"] for p in page.properties}
    # The page and its numberMatched come from the same version: A has 1000 rows (ranks
    # 999…0, so offset 995 gives the last 5, of version A); B has 2000.
    assert labels == ({"A"} if page.number_matched == 1000 else {"B"}), (labels, page.number_matched)
    assert boxed.number_matched > 0
    return count, page.number_matched


def test_readers_never_see_a_mix(pg_url, pg_store):
    pg_store.publish("bascule", version_frame(1000, "A"), {}, FIELDS)
    reader = PostGISStore(pg_url, pool_size=2)
    seen: set[int] = set()
    errors: list[BaseException] = []
    reads = 0
    stop = threading.Event()

    def loop() -> None:
        nonlocal reads
        deadline = time.monotonic() + READ_SECONDS
        while not stop.is_set() and time.monotonic() < deadline and reads < MAX_READS:
            try:
                seen.update(read_once(reader))
            except BaseException as exc:  # noqa: BLE001 — reported below
                errors.append(exc)
                return
            reads += 1

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    try:
        swaps = 0
        frames = [version_frame(2000, "B"), version_frame(1000, "A")]
        while thread.is_alive() and swaps < 12:
            pg_store.publish("bascule", frames[swaps % 2], {}, FIELDS)
            swaps += 1
        # A failed publication in the middle of it all changes nothing.
        with pytest.raises(PublicationError):
            pg_store.publish("bascule", version_frame(3000, "C"), {}, FIELDS, fail_after_write=lambda: 1 / 0)
    finally:
        stop.set()
        thread.join(timeout=10)
        reader.close()
    assert not errors, errors[0]
    assert swaps >= 2 and reads > 10
    print(f"swaps={swaps} reads={reads} seen={seen}")
    assert seen == {1000, 2000}, seen  # both versions seen, nothing else
    assert pg_store.count("bascule") == (2000 if swaps % 2 else 1000)
    assert leftover_tables(pg_url, pg_store.schema) == []


def test_failed_publication_leaves_version_a(pg_url, pg_store):
    pg_store.publish("bascule", version_frame(1000, "A"), {"v": "A"}, FIELDS)
    bad = version_frame(2000, "B")
    bad.loc[1999, "id"] = "B0"  # duplicate id: refused after the rows are written
    with pytest.raises(PublicationError, match="B0"):
        pg_store.publish("bascule", bad, {"v": "B"}, FIELDS)
    assert pg_store.count("bascule") == 1000
    assert pg_store.query("bascule", limit=1).number_matched == 1000
    assert pg_store.metadata("bascule")["v"] == "A"
    assert {p["version"] for p in pg_store.query("bascule", limit=2000).properties} == {"A"}
    assert leftover_tables(pg_url, pg_store.schema) == []
