"""Fixtures for the store tests: small frames with every stored type, built in memory."""

from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely

from layers.store import GeoPackageStore



@pytest.fixture
def typed_frame() -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame(
        {
            "id": ["a-1", "b-2", "c-3", "d-4"],
            "code_insee": ["06000", None, "2A004", "00001"],
            "nombre": pd.array([1, None, 3, 0], dtype="Int64"),
            "hauteur": [1.5, None, 2.0, -0.25],
            "ouvert": pd.array([True, None, False, True], dtype="boolean"),
            "date_pose": [dt.date(2024, 1, 2), None, dt.date(2023, 5, 6), dt.date(1999, 12, 31)],
            "maj": pd.to_datetime(["2024-01-02T03:04:05Z", None, "2024-06-30T23:59:59Z", "2020-02-29T12:00:00Z"]),
            "jours": [["lundi", "mardi"], None, [], ["dimanche"]],
        },
        geometry=[shapely.Point(2.35, 48.85), shapely.Point(7.26, 43.70), None, shapely.Point(9.0, 42.0)],
        crs="EPSG:4326",
    )


@pytest.fixture
def store(tmp_path) -> GeoPackageStore:
    return GeoPackageStore(tmp_path / "data")


def random_frame(n: int = 1500, seed: int = 1) -> gpd.GeoDataFrame:
    """Points on a 0.1° grid (many exactly on bbox edges), a few lines and missing geometries."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.uniform(-1.0, 3.0, n), 1)
    y = np.round(rng.uniform(44.0, 47.0, n), 1)
    geometries = np.array(shapely.points(x, y), dtype=object)
    lines = rng.choice(n, 40, replace=False)
    geometries[lines] = shapely.linestrings(
        np.stack([np.stack([x[lines] - 0.7, y[lines] - 0.3], axis=1), np.stack([x[lines] + 0.7, y[lines] + 0.45], axis=1)], axis=1)
    )
    geometries[rng.choice(n, 15, replace=False)] = None
    names = np.array(["Anne", "bruno", "Céline", "david", None], dtype=object)
    return gpd.GeoDataFrame(
        {
            "id": [f"f{i:05d}" for i in range(n)],
            "nom": rng.choice(names, n),
            "rang": pd.array(np.where(rng.random(n) < 0.05, None, rng.integers(0, 50, n)), dtype="Int64"),
            "valeur": np.where(rng.random(n) < 0.05, np.nan, np.round(rng.random(n), 3)),
            "actif": rng.random(n) < 0.5,
        },
        geometry=geometries,
        crs="EPSG:4326",
    )


RANDOM_FIELDS = {"nom": "string", "rang": "integer", "valeur": "number", "actif": "boolean"}


@pytest.fixture
def random_layer(store):
    """A published layer of random features and the frame it was published from."""
    frame = random_frame()
    store.publish("aleatoire", frame, {"licence": "lo-2.0"}, RANDOM_FIELDS)
    return store, frame
