"""``python -m tests.map.serve``: the API and the map, served as production serves them
(granian through ``server.run``, settings from ``GEOCOMMUNE_*``), with the map's routes
(registered by ``server/app.py``).

8 threads per worker: the browser sends several requests at once (page assets, one request
per layer), and the stale-response test keeps one of them waiting.
"""

from __future__ import annotations

from layers.settings import load_settings
from server.run import serve

if __name__ == "__main__":
    serve(load_settings().with_overrides(threads=8), access_log=False)
