"""Duplicates and stable feature ids.

A feature id is the layer's identifier field (``num_serie`` for a DAE, ``id_local`` for a
cycle path…) when the row has one; otherwise a hash of the row's content (source values
+ geometry), so that re-ingesting the same source gives the same ids.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import shapely
import geopandas as gpd

from .report import Report


def content_hash(frame: pd.DataFrame, geometry: gpd.GeoSeries) -> pd.Series:
    """64-bit hash of each row's values and geometry (vectorised, deterministic)."""
    columns = {
        name: (col.astype("string") if col.dtype == object else col) for name, col in frame.items()
    }
    columns["__geom__"] = pd.Series(shapely.to_wkb(np.asarray(geometry.values, dtype=object)), index=frame.index)
    hashed = pd.util.hash_pandas_object(pd.DataFrame(columns, index=frame.index), index=False)
    return hashed.astype("uint64")


def hash_hex(hashes: pd.Series) -> np.ndarray:
    """uint64 hashes → 16-hex-digit strings, without a Python loop."""
    raw = hashes.to_numpy(np.uint64).astype(">u8").tobytes().hex().encode()
    return np.frombuffer(raw, dtype="S16").astype(str)


def _first_rows(keys: pd.Series, rows: np.ndarray) -> dict:
    """Source row of the first occurrence of each key."""
    first = ~keys.duplicated(keep="first").to_numpy(bool) & keys.notna().to_numpy(bool)
    return dict(zip(keys.to_numpy()[first], (int(r) for r in rows[first])))


def find_duplicates(ids: pd.Series | None, hashes: pd.Series, flagged: pd.Series | None,
                    rows: np.ndarray, report: Report, id_field: str | None = None) -> np.ndarray:
    """Mask of rows to leave out as duplicates (the first occurrence is kept).

    ``ids`` are the identifier-field values (or None), ``hashes`` the content hashes,
    ``flagged`` the rows the source itself marks as duplicates; all aligned with ``rows``.
    """
    n = len(hashes)
    duplicate = np.zeros(n, dtype=bool)
    reasons: dict[int, tuple[str, str | None]] = {}
    if flagged is not None:
        mask = flagged.fillna(False).to_numpy(bool)
        for i in np.flatnonzero(mask):
            reasons[i] = ("signalé comme doublon par la source (doublon = vrai)", None)
        duplicate |= mask
    if ids is not None:
        text = ids.astype("string").str.strip()
        dup = (text.duplicated(keep="first") & text.notna()).to_numpy(bool) & ~duplicate
        if dup.any():
            first_row = _first_rows(text, rows)
            for i in np.flatnonzero(dup):
                reasons[i] = (f"même identifiant « {text.iloc[i]} » que la ligne {first_row[text.iloc[i]]}", text.iloc[i])
        duplicate |= dup
    same = hashes.duplicated(keep="first").to_numpy(bool) & ~duplicate
    if same.any():
        first_row = _first_rows(hashes, rows)
        for i in np.flatnonzero(same):
            reasons[i] = (f"ligne identique à la ligne {first_row[hashes.iloc[i]]}", None)
        duplicate |= same
    for count, i in enumerate(sorted(reasons)):
        if count >= 1000:
            report.add("duplicate", f"… et {len(reasons) - 1000} autre(s) doublon(s) non publiés")
            break
        message, value = reasons[i]
        report.add("duplicate", f"doublon : {message} ; ligne non publiée", row=int(rows[i]),
                   field=id_field if value is not None else None, value=value)
    report.count("doublons", int(duplicate.sum()))
    return duplicate


def feature_ids(ids: pd.Series | None, hashes: pd.Series) -> pd.Series:
    """Stable string id per row: the identifier field when present, else the content hash."""
    if ids is None:
        return pd.Series(hash_hex(hashes), index=hashes.index, dtype=object)
    text = ids.astype("string").str.strip()
    text = text.mask(text == "")
    missing = text.isna().to_numpy(bool)
    out = text.astype(object).to_numpy(copy=True)
    if missing.any():
        out[missing] = hash_hex(hashes[missing])
    return pd.Series(out, index=hashes.index, dtype=object)
