"""Source adapters: the one place where a layer's special source form is handled.

An adapter is a module ``layers/adapters/<name>.py`` named by a catalogue entry's
``adapter:`` key. It exposes:

- ``detect(columns: list[str]) -> bool`` — does this file use the special form?
- ``source_name(field: str) -> str`` — the name a schema field has in that form
  (used to find coordinate columns before anything is renamed);
- ``prepare(frame, schema, report) -> (frame, duplicate_flags | None)`` — rewrite the
  frame into the schema's own notation (names and vocabularies), before mapping and
  validation; ``duplicate_flags`` marks rows the source itself flags as duplicates.

Adding a layer whose source is special costs one such module; most layers need none.
"""

from __future__ import annotations

import importlib
from types import ModuleType


def load_adapter(name: str | None) -> ModuleType | None:
    if not name:
        return None
    return importlib.import_module(f"{__name__}.{name}")
