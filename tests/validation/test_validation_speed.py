"""validate_frame is column-wise: a million DAE rows × 46 fields in well under 10 s.

The default run checks 200,000 rows (a few seconds with the data generation); set
GEOCOMMUNE_BENCH_ROWS=1000000 to time the full target.
"""

from __future__ import annotations

import os
import time

import numpy as np

from dae_factory import dae_frame
from layers.validation import validate_frame

ROWS = int(os.environ.get("GEOCOMMUNE_BENCH_ROWS", "200000"))
BUDGET_PER_MILLION = 10.0  # seconds: the target on this 2-core machine


def test_validation_time_scales_to_a_million_rows(dae):
    frame = dae_frame(ROWS)
    rng = np.random.default_rng(7)
    bad = rng.random(ROWS) < 0.001  # a few errors, as real files have
    for column, value in (("lat_coor1", "48,85"), ("acc", "Interieur"), ("dermnt", "30/09/2024")):
        cells = frame[column].copy()
        cells[bad] = value
        frame[column] = cells
    start = time.perf_counter()
    problems = validate_frame(frame, dae, np.arange(2, ROWS + 2))
    elapsed = time.perf_counter() - start
    print(f"\nvalidate_frame: {ROWS} lignes × {len(dae.fields)} champs en {elapsed:.2f} s")
    assert len(problems) == 3 * int(bad.sum())
    assert elapsed < BUDGET_PER_MILLION * ROWS / 1_000_000
