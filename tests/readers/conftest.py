"""Shared helpers for the reader tests: every fixture file is built in tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.territory import Territory


@pytest.fixture
def write(tmp_path: Path):
    """write(name, text, encoding="utf-8", bom=False) -> Path, bytes exactly as given (no newline translation)."""

    def _write(name: str, text: str | bytes, encoding: str = "utf-8", bom: bool = False) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = text if isinstance(text, bytes) else text.encode(encoding)
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
        return path

    return _write


@pytest.fixture
def territory() -> Territory:
    return Territory.default()
