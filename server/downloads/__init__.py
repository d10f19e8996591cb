"""Whole-layer downloads: GeoJSON and CSV streamed, GeoPackage and FlatGeobuf built once
per publication, each with the layer's licence and attribution (issue 6).

``register(app, settings)`` adds the ``geocommune_downloads`` blueprint (view ``download``,
``/collections/<collection_id>/download.<fmt>``) and the ``rel="enclosure"`` links of the
collections' JSON (``links.py``); ``enclosure_links`` gives those links, which the generated
pygeoapi configuration also keeps under ``DOWNLOADS_KEY`` for the HTML page. The views
(and with them the HTTP layer) are imported by ``register`` only: the configuration
generator imports this package, and the HTTP layer imports the configuration generator.
"""

from __future__ import annotations

from flask import Flask

from layers.settings import Settings

from .formats import DOWNLOADS_KEY, EXTENSION, FORMATS, enclosure_links

__all__ = ["DOWNLOADS_KEY", "EXTENSION", "FORMATS", "enclosure_links", "register"]


def register(app: Flask, settings: Settings) -> Flask:
    """The blueprint and the links; call after ``install_http_layer`` (see ``links.py``)."""
    from ..http.documents import add_extender
    from .links import EnclosureLinks
    from .views import blueprint

    if EXTENSION not in app.extensions:
        app.extensions[EXTENSION] = settings
        app.register_blueprint(blueprint)
        add_extender(app, EnclosureLinks(settings).extend)
    return app
