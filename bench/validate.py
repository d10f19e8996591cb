"""Time ``validate_frame`` on a generated DAE frame (default: 1,000,000 rows × 46 fields).

    .venv/bin/python bench/validate.py [--rows N]

Prints rows, fields, seconds and rows per second. A script, not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "validation"))
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from dae_factory import dae_frame  # noqa: E402
from layers.catalogue import load_catalogue  # noqa: E402
from layers.schemas import load_schema  # noqa: E402
from layers.settings import CONFIG_DIR  # noqa: E402
from layers.validation import validate_frame  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    schema = load_schema(load_catalogue(CONFIG_DIR / "catalogue.yaml").layer("defibrillateurs").schema)
    frame = dae_frame(args.rows)
    start = time.perf_counter()
    problems = validate_frame(frame, schema, np.arange(2, args.rows + 2))
    elapsed = time.perf_counter() - start
    print(f"validate_frame : {args.rows} lignes × {len(schema.fields)} champs en {elapsed:.2f} s "
          f"({args.rows / elapsed:,.0f} lignes/s), {len(problems)} problème(s)")


if __name__ == "__main__":
    main()
