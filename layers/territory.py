"""The territory a layer's points must fall in: a union of lon/lat boxes (WGS84).

Readers use it to recognise a projection from the value ranges of bare X/Y columns and
to spot swapped latitude/longitude; validation uses it to report points outside.
"""

from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np

# Same boxes as config/catalogue.yaml (territory.bboxes): metropolitan France with
# Corsica, then the overseas départements and collectivités. Kept here so that a reader
# called without a catalogue still knows where France is.
DEFAULT_NAME = "France (métropole et outre-mer)"
DEFAULT_BBOXES: tuple[tuple[float, float, float, float], ...] = (
    (-5.5, 41.2, 9.9, 51.3),  # métropole + Corse
    (-61.9, 15.8, -60.9, 16.6),  # Guadeloupe
    (-63.2, 17.8, -62.7, 18.2),  # Saint-Martin, Saint-Barthélemy
    (-61.3, 14.3, -60.7, 14.95),  # Martinique
    (-54.7, 2.0, -51.5, 5.9),  # Guyane
    (55.1, -21.5, 55.9, -20.8),  # La Réunion
    (44.9, -13.1, 45.4, -12.5),  # Mayotte
    (-56.6, 46.7, -56.0, 47.2),  # Saint-Pierre-et-Miquelon
)


class Territory:
    """A union of ``(minlon, minlat, maxlon, maxlat)`` boxes with vectorised tests."""

    def __init__(
        self, bboxes: Iterable[Sequence[float]], name: str = "France"
    ) -> None:
        boxes = np.asarray([tuple(float(v) for v in box) for box in bboxes], dtype=float)
        if boxes.ndim != 2 or boxes.shape[1] != 4 or len(boxes) == 0:
            raise ValueError("a territory needs at least one (minlon, minlat, maxlon, maxlat) box")
        self.bboxes: tuple[tuple[float, float, float, float], ...] = tuple(
            tuple(row) for row in boxes.tolist()  # type: ignore[misc]
        )
        self.name = name
        self._boxes = boxes

    @classmethod
    def default(cls) -> "Territory":
        return cls(DEFAULT_BBOXES, DEFAULT_NAME)

    @classmethod
    def from_catalogue(cls, catalogue: object) -> "Territory":
        """Build from a loaded ``Catalogue`` (its ``territory_bboxes`` and ``territory_name``)."""
        return cls(
            getattr(catalogue, "territory_bboxes"),
            getattr(catalogue, "territory_name", DEFAULT_NAME),
        )

    def contains(self, lon: np.ndarray, lat: np.ndarray) -> np.ndarray:
        """True where (lon, lat) lies in at least one box; NaN gives False."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        inside = np.zeros(np.broadcast(lon, lat).shape, dtype=bool)
        # A loop over the (few) boxes, each test vectorised over all points.
        for minx, miny, maxx, maxy in self._boxes:
            inside |= (lon >= minx) & (lon <= maxx) & (lat >= miny) & (lat <= maxy)
        return inside

    def fraction_inside(self, lon: np.ndarray, lat: np.ndarray) -> float:
        """Share of the finite points that fall inside; 0.0 when there is none."""
        lon = np.asarray(lon, dtype=float)
        lat = np.asarray(lat, dtype=float)
        finite = np.isfinite(lon) & np.isfinite(lat)
        if not finite.any():
            return 0.0
        return float(self.contains(lon[finite], lat[finite]).mean())

    def __repr__(self) -> str:
        return f"Territory({list(self.bboxes)!r}, name={self.name!r})"
