"""The parameters of a download, checked here: the HTTP layer's table leaves this endpoint alone.

CSV parameters, both optional:

* ``sep``: ``,`` (default, RFC 4180, for programs) or ``;`` — the French spreadsheet
  profile: ``;`` between cells, **decimal comma** in numbers (Excel and LibreOffice in
  French read « 48,85 » as a number and « 48.85 » as text), and a UTF-8 byte-order mark,
  without which Excel reads UTF-8 as Windows-1252 (« DÃ©fibrillateur »). The ``,`` file
  has no BOM: Python's ``csv`` module and many tools would keep it in the first column
  name. WKT stays with decimal points in both (it is a geometry syntax, not a number).
* ``geometry``: ``latlon`` (``longitude``, ``latitude`` columns; the default for layers
  of points, and only for them) or ``wkt`` (one ``wkt`` column; any layer, the default for
  lines and polygons).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from ..http.errors import InvalidParameter
from .formats import Format

SEPARATORS = (",", ";")
GEOMETRY_COLUMNS = ("latlon", "wkt")


@dataclass(frozen=True)
class CsvOptions:
    sep: str = ","
    geometry: str = "wkt"

    @property
    def french(self) -> bool:
        """The French spreadsheet profile: ``;``, decimal comma, byte-order mark."""
        return self.sep == ";"


def is_point_layer(geometry_types: list[str], catalogue_geometry: str) -> bool:
    """Only points (or, for a layer published empty, points announced by the catalogue)."""
    if geometry_types:
        return set(geometry_types) == {"Point"}
    return catalogue_geometry == "Point"


def check_parameters(fmt: Format, args: Mapping[str, str], point_layer: bool) -> CsvOptions | None:
    """The format's options from the query string; raises ``InvalidParameter`` (400) for an
    unknown, repeated or invalid parameter. ``None`` for the formats without options."""
    lists = args.lists() if hasattr(args, "lists") else ((k, [v]) for k, v in args.items())  # type: ignore[union-attr]
    for name, values in lists:
        if name not in fmt.parameters:
            accepted = ", ".join(sorted(fmt.parameters)) or "aucun"
            raise InvalidParameter(
                name, f"paramètre inconnu « {name} » pour le téléchargement {fmt.label} (acceptés : {accepted})"
            )
        if len(values) > 1:
            raise InvalidParameter(name, f"{name} : une seule valeur attendue")
    if fmt.key != "csv":
        return None
    sep = args.get("sep", ",")
    if sep not in SEPARATORS:
        raise InvalidParameter(
            "sep",
            f"sep : « {sep} » non pris en charge ; « , » (par défaut) "
            "ou « ; » (tableur français, virgule décimale)",
        )
    geometry = args.get("geometry", "latlon" if point_layer else "wkt")
    if geometry not in GEOMETRY_COLUMNS:
        raise InvalidParameter("geometry", f"geometry : « {geometry} » non pris en charge ; latlon ou wkt")
    if geometry == "latlon" and not point_layer:
        raise InvalidParameter(
            "geometry", "geometry=latlon ne s'applique qu'aux couches de points ; pour les lignes et polygones : wkt"
        )
    return CsvOptions(sep, geometry)
