"""Assertion helpers shared by the reader tests (imported as a plain module)."""

from __future__ import annotations

import numpy as np


def lonlat(table, i: int) -> tuple[float, float]:
    """(lon, lat) of row i of a SourceTable's geometry."""
    geom = table.geometry.iloc[i]
    return float(geom.x), float(geom.y)


def assert_lonlat(table, i: int, lon: float, lat: float, tol: float = 1e-6) -> None:
    got = lonlat(table, i)
    assert np.allclose(got, (lon, lat), atol=tol, rtol=0), f"row {i}: got {got}, expected {(lon, lat)}"


def rules(table) -> list[str]:
    return [p.rule for p in table.notes]
