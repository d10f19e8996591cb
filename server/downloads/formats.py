"""The whole-layer download formats and the links that advertise them.

One table (``FORMATS``) says what is offered: the URL suffix (``download.<key>``), the
media type, whether the body is streamed (GeoJSON, CSV) or built once per publication as
a file (GeoPackage, FlatGeobuf, which cannot be written as a stream), and the
``rel="enclosure"`` links of each collection. Imported by the configuration generator:
nothing here imports the HTTP layer. Parameters: ``options.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

EXTENSION = "geocommune_downloads"  # the blueprint's name (its view: ``download``)
# The key of a generated pygeoapi resource holding its enclosure links, for the HTML page
# (templates/collections/_downloads.html). Not in the resource's ``links``: see links.py.
DOWNLOADS_KEY = "geocommune_downloads"


@dataclass(frozen=True)
class Format:
    key: str  # the URL suffix: /collections/{id}/download.<key>
    extension: str  # of the file name given to the client
    media_type: str
    label: str  # the format's name, for people
    streamed: bool  # generated while sent (True) or built once per publication and served as a file
    parameters: frozenset[str] = frozenset()


FORMATS: dict[str, Format] = {
    "geojson": Format("geojson", "geojson", "application/geo+json", "GeoJSON", True),
    "csv": Format("csv", "csv", "text/csv; charset=utf-8", "CSV", True, frozenset({"sep", "geometry"})),
    "gpkg": Format("gpkg", "gpkg", "application/geopackage+sqlite3", "GeoPackage", False),
    "fgb": Format("fgb", "fgb", "application/flatgeobuf", "FlatGeobuf", False),
}


def download_path(layer_id: str, fmt: str) -> str:
    return f"/collections/{quote(layer_id, safe='')}/download.{fmt}"


def enclosure_links(base_url: str, layer_id: str) -> list[dict[str, str]]:
    """One ``rel="enclosure"`` link per format of the collection (absolute URLs, French titles)."""
    base = base_url.rstrip("/")
    return [
        {
            "type": fmt.media_type.split(";")[0],
            "rel": "enclosure",
            "title": f"Télécharger toute la couche ({fmt.label})",
            "href": f"{base}{download_path(layer_id, fmt.key)}",
        }
        for fmt in FORMATS.values()
    ]
