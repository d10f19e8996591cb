"""``python -m tests.map.serve``: the API and the map, served as production serves them
(gunicorn through ``server.run``, settings from ``GEOCOMMUNE_*``), with the map's routes
registered by ``server.map.routes.register`` — for as long as ``server/app.py`` does not
call it itself (``register`` is idempotent, so this keeps working afterwards).

gthread workers: the browser sends several requests at once (page assets, one request
per layer), and the stale-response test keeps one of them waiting.
"""

from __future__ import annotations

from layers.settings import load_settings
from server.run import GeocommuneServer


class MapServer(GeocommuneServer):
    def load(self):
        from server.map.routes import register

        return register(super().load(), self.settings)


if __name__ == "__main__":
    MapServer(load_settings(), {"worker_class": "gthread", "threads": 8, "accesslog": None}).run()
