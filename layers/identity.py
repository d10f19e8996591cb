"""Duplicates and stable feature ids.

A feature id is the layer's identifier field (``num_serie`` for a DAE, ``id_local`` for a
cycle path…) when the row has one; otherwise a hash of the row's content (published
properties + geometry), so that re-ingesting the same source gives the same ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
import geopandas as gpd

from .report import Report


def content_hash(frame: pd.DataFrame, geometry: gpd.GeoSeries) -> pd.Series:
    """16-hex-digit hash of each row's values and geometry (vectorised, deterministic)."""
    wkb = pd.Series(shapely.to_wkb(np.asarray(geometry.values, dtype=object), hex=True), index=frame.index)
    text = frame.astype("string").fillna("\x00")
    text["__geom__"] = wkb.astype("string").fillna("\x00")
    hashed = pd.util.hash_pandas_object(text, index=False, categorize=True)
    return hashed.map(lambda h: f"{int(h):016x}")


def find_duplicates(frame: pd.DataFrame, geometry: gpd.GeoSeries, id_field: str | None,
                    flagged: pd.Series | None, rows: np.ndarray, report: Report,
                    hashes: pd.Series) -> np.ndarray:
    """Mask of rows to leave out as duplicates (the first occurrence is kept)."""
    duplicate = np.zeros(len(frame), dtype=bool)
    reasons: dict[int, str] = {}
    if flagged is not None:
        mask = flagged.fillna(False).to_numpy(bool)
        for i in np.flatnonzero(mask):
            reasons[i] = "signalé comme doublon par la source (doublon = vrai)"
        duplicate |= mask
    if id_field and id_field in frame.columns:
        ids = frame[id_field].astype("string").str.strip()
        dup = (ids.duplicated(keep="first") & ids.notna()).to_numpy(bool) & ~duplicate
        first_row = pd.Series(rows, index=frame.index).groupby(ids.to_numpy()).transform("first")
        for i in np.flatnonzero(dup):
            reasons[i] = f"même identifiant « {ids.iloc[i]} » que la ligne {int(first_row.iloc[i])}"
        duplicate |= dup
    same = hashes.duplicated(keep="first").to_numpy(bool) & ~duplicate
    if same.any():
        first_row = pd.Series(rows, index=frame.index).groupby(hashes.to_numpy()).transform("first")
        for i in np.flatnonzero(same):
            reasons[i] = f"ligne identique à la ligne {int(first_row.iloc[i])}"
        duplicate |= same
    for count, i in enumerate(sorted(reasons)):
        if count >= 1000:
            report.add("duplicate", f"… et {len(reasons) - 1000} autre(s) doublon(s) non publiés")
            break
        field = id_field if "identifiant" in reasons[i] else None
        report.add("duplicate", f"doublon : {reasons[i]} ; ligne non publiée", row=int(rows[i]), field=field,
                   value=frame[id_field].iloc[i] if field else None)
    report.count("doublons", int(duplicate.sum()))
    return duplicate


def feature_ids(frame: pd.DataFrame, id_field: str | None, hashes: pd.Series) -> pd.Series:
    """Stable string id per row: the identifier field when present, else the content hash."""
    if id_field and id_field in frame.columns:
        ids = frame[id_field].astype("string").str.strip()
        ids = ids.mask(ids == "")
        return ids.fillna(hashes).astype(str)
    return hashes.astype(str)
