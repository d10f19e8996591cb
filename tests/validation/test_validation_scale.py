"""validate_frame is column-wise: on a large frame it finds exactly the planted errors.

Its speed is measured by ``bench/validate.py`` (a million rows), never asserted here.
"""

from __future__ import annotations

import numpy as np

from dae_factory import dae_frame
from layers.validation import validate_frame

ROWS = 50_000


def test_every_planted_error_is_found_once_on_a_large_frame(dae):
    frame = dae_frame(ROWS)
    rng = np.random.default_rng(7)
    bad = rng.random(ROWS) < 0.001  # a few errors, as real files have
    for column, value in (("lat_coor1", "48,85"), ("acc", "Interieur"), ("dermnt", "30/09/2024")):
        cells = frame[column].copy()
        cells[bad] = value
        frame[column] = cells
    problems = validate_frame(frame, dae, np.arange(2, ROWS + 2))
    assert len(problems) == 3 * int(bad.sum())
    planted_rows = set((np.flatnonzero(bad) + 2).tolist())
    assert {p.row for p in problems} == planted_rows
    assert {p.field for p in problems} == {"lat_coor1", "acc", "dermnt"}
