"""The in-process floor served over HTTP by granian, with nothing else: what serving costs.

``floor.py`` times each workload's queries in a loop (store + orjson, no HTTP). The issue's
target compares our server's CPU per request, above nginx's, with that loop. This app is
the same loop body (``floor.make_runner``) as a bare WSGI app — no framework, no routing
beyond ``/{workload}/{index}``, no headers but Content-Type — served by granian with our
server's worker and thread counts. Its CPU per request is the least any Python server on
granian could spend on the same query: the HTTP floor of a Python server, beside nginx's.

``GEOCOMMUNE_FLOOR_SPEC`` names floor.py's spec file (store, data, url, layer, workloads).
Started by ``anchors.start_floor_http``; ``GET /ready`` answers once the module is loaded.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable, Iterable

_HERE = Path(__file__).resolve().parent
# As floor.py: bench/'s modules have common names (common, measure…) — out of the libraries' way.
sys.path[:] = [p for p in sys.path if p and Path(p).resolve() != _HERE]


def _floor_module():
    spec = importlib.util.spec_from_file_location("bench_floor", _HERE / "floor.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


_FLOOR = _floor_module()
_SPEC: dict[str, Any] = json.loads(Path(os.environ["GEOCOMMUNE_FLOOR_SPEC"]).read_text(encoding="utf-8"))
_once: Callable[[dict[str, Any]], bytes] | None = None  # opened in each worker, after the fork


def _runner() -> Callable[[dict[str, Any]], bytes]:
    global _once
    if _once is None:
        _once = _FLOOR.make_runner(_FLOOR.open_store(_SPEC), _SPEC["layer"])
    return _once


def app(environ: dict, start_response: Callable) -> Iterable[bytes]:
    parts = environ.get("PATH_INFO", "").strip("/").split("/")
    if parts == ["ready"]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok\n"]
    try:
        query = _SPEC["workloads"][parts[0]][int(parts[1])]
    except (KeyError, IndexError, ValueError):
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"not found\n"]
    body = _runner()(query)
    start_response("200 OK", [("Content-Type", "application/geo+json"), ("Content-Length", str(len(body)))])
    return [body]
