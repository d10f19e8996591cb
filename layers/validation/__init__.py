"""Validation of sources against their national schema.

``validate_frame`` checks tables (Table Schema) with column operations; ``validate_features``
checks GeoJSON features (JSON Schema, cycle paths) with ``jsonschema``. Both report
problems and never change the data. Module map:

- ``columns``: a column as Arrow text + missing mask + native values;
- ``celltypes``: one check per Table Schema type;
- ``constraints``: required, pattern, enum, bounds, lengths, unique;
- ``messages``: the French wording;
- ``table`` / ``features``: the two entry points.
"""

from .features import validate_features
from .table import validate_frame

__all__ = ["validate_frame", "validate_features"]
