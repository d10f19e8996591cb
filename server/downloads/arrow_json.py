"""JSON text built column-wise with Arrow compute: a batch of features without a Python loop per feature.

Each property column becomes an array of JSON value texts (strings escaped, numbers and
booleans as Arrow formats them, JSON-text columns as they are, ``null`` for missing), and
one element-wise join assembles the features. Arrow's shortest round-trip float format
("1e-7", "3" for 3.0) is valid JSON and parses to the same numbers the API serves.
"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

JSON_TEXT_KINDS = frozenset({"array", "object"})  # stored as JSON text: copied as is
# The control characters JSON forbids raw, except the three common ones escaped in bulk.
_RARE_CONTROLS = "[\\x00-\\x08\\x0b\\x0c\\x0e-\\x1f]"


def json_strings(values: pa.Array) -> pa.Array:
    """Text → quoted JSON strings; null stays null (see ``json_values``)."""
    text = values if values.type == pa.string() else pc.cast(values, pa.string())
    escaped = pc.replace_substring(text, "\\", "\\\\")
    escaped = pc.replace_substring(escaped, '"', '\\"')
    for raw, escape in (("\n", "\\n"), ("\r", "\\r"), ("\t", "\\t")):
        escaped = pc.replace_substring(escaped, raw, escape)
    quoted = pc.binary_join_element_wise('"', escaped, '"', "")
    rare = pc.fill_null(pc.match_substring_regex(text, _RARE_CONTROLS), False)
    if pc.any(rare).as_py():
        # Other control characters are rare enough to be encoded one by one, exactly.
        cells = quoted.to_numpy(zero_copy_only=False).copy()
        for index in np.flatnonzero(rare.to_numpy(zero_copy_only=False)):
            cells[index] = orjson.dumps(text[int(index)].as_py()).decode()
        quoted = pa.array(cells, type=pa.string())
    return quoted


def json_values(values: pa.Array, kind: str) -> pa.Array:
    """One column → the JSON text of each cell (``null`` where missing), never null itself."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if kind in JSON_TEXT_KINDS:
        out = values
    elif pa.types.is_boolean(values.type) or pa.types.is_integer(values.type):
        out = pc.cast(values, pa.string())
    elif pa.types.is_floating(values.type):
        finite = pc.is_finite(values)  # NaN / infinity have no JSON form: null
        out = pc.if_else(finite, pc.cast(values, pa.string()), pa.scalar(None, pa.string()))
    else:
        out = json_strings(values)
    return pc.fill_null(out, "null")


def concatenated(texts: pa.Array) -> bytes:
    """The UTF-8 bytes of all the (non-null) strings of ``texts``, back to back, in one copy."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if len(texts) == 0:
        return b""
    if texts.type == pa.large_string():
        offsets = np.frombuffer(texts.buffers()[1], dtype=np.int64)
    else:
        offsets = np.frombuffer(texts.buffers()[1], dtype=np.int32)
    offsets = offsets[texts.offset : texts.offset + len(texts) + 1]
    data = texts.buffers()[2]
    if data is None:
        return b""
    return bytes(memoryview(data)[int(offsets[0]) : int(offsets[-1])])
