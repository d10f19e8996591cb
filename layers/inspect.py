"""``geocommune inspect``: what a source file holds, before any schema is applied.

Reads the file with the same readers as ingestion, so what inspection says (format,
encoding, separator, CRS and how it was found, geometry form) is what ingestion will do.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .readers import read_source
from .territory import Territory

_MAX_COLUMNS_SHOWN = 60
_MAX_NOTES_SHOWN = 20


def inspect_file(
    path: str | Path,
    *,
    layer: str | None = None,
    crs: str | None = None,
    coordinates: dict[str, str] | None = None,
    territory: Territory | None = None,
) -> dict[str, Any]:
    """A JSON-ready description of one layer of a source file."""
    table = read_source(path, layer=layer, crs=crs, coordinates=coordinates, territory=territory)
    geometry = table.geometry
    present = geometry[~(geometry.isna() | geometry.is_empty.fillna(False))]
    counts = present.geom_type.value_counts()
    if len(present):
        minx, miny, maxx, maxy = (float(v) for v in present.total_bounds)
        bbox = [round(minx, 7), round(miny, 7), round(maxx, 7), round(maxy, 7)]
    else:
        bbox = None
    return {
        "path": str(table.path),
        "format": table.format,
        "encoding": table.encoding,
        "separator": table.separator,
        "layer": table.layer,
        "layers": list(table.layers),
        "crs": table.source_crs,
        "crs_source": table.crs_source,
        "geometry_form": table.geometry_form,
        "geometry_types": [str(t) for t in counts.index],
        "geometry_type_counts": {str(k): int(v) for k, v in counts.items()},
        "coordinate_columns": list(table.coordinate_columns),
        "count": table.count,
        "count_null_geometry": table.count_null_geometry,
        "bbox_wgs84": bbox,
        "columns": [str(c) for c in table.frame.columns],
        "dtypes": {str(c): str(t) for c, t in table.frame.dtypes.items()},
        "first_row_number": int(table.row_numbers[0]) if len(table.row_numbers) else None,
        "notes": [p.to_dict() for p in table.notes],
    }


def _separator_label(separator: str | None) -> str:
    names = {";": "point-virgule « ; »", ",": "virgule « , »", "\t": "tabulation",
             "|": "barre verticale « | »", ", ": "virgule suivie d'une espace « , »"}
    return names.get(separator or "", f"« {separator} »")


def format_inspection_text(info: dict[str, Any]) -> str:
    """The inspection in French, for people."""
    lines = [f"Fichier : {info.get('path', '')}", f"Format : {info['format']}"]
    if info.get("encoding"):
        lines.append(f"Encodage : {info['encoding']}")
    if info.get("separator"):
        lines.append(f"Séparateur : {_separator_label(info['separator'])}")
    if info.get("layer"):
        layers = info.get("layers") or []
        others = f" (couches du fichier : {', '.join(layers)})" if len(layers) > 1 else ""
        lines.append(f"Couche : {info['layer']}{others}")
    crs, how = info.get("crs") or "inconnu", info.get("crs_source") or "non déterminé"
    lines.append(f"Système de coordonnées : {crs} — {how}")
    lines.append(f"Géométrie : {info.get('geometry_form')}")
    types = info.get("geometry_type_counts") or {}
    if types:
        lines.append("Types de géométrie : " + ", ".join(f"{k} ({v})" for k, v in types.items()))
    lines.append(f"Entités : {info['count']} dont {info['count_null_geometry']} sans géométrie")
    bbox = info.get("bbox_wgs84")
    if bbox:
        lines.append(
            "Emprise (WGS84, lon/lat) : "
            f"ouest {bbox[0]:.6f}, sud {bbox[1]:.6f}, est {bbox[2]:.6f}, nord {bbox[3]:.6f}"
        )
    columns = info.get("columns") or []
    shown = columns[:_MAX_COLUMNS_SHOWN]
    more = f" … (+{len(columns) - len(shown)})" if len(columns) > len(shown) else ""
    lines.append(f"Colonnes ({len(columns)}) : " + ", ".join(shown) + more)
    notes = info.get("notes") or []
    if notes:
        lines.append(f"Remarques de lecture ({len(notes)}) :")
        labels = {"error": "ERREUR", "warning": "AVERTISSEMENT", "info": "INFO"}
        for note in notes[:_MAX_NOTES_SHOWN]:
            where = f"ligne {note['row']} : " if note.get("row") is not None else ""
            value = f" (valeur : « {note['value']} »)" if note.get("value") else ""
            label = labels.get(note.get("severity"), "INFO")
            lines.append(f"  {label} [{note['rule']}] {where}{note['message']}{value}")
        if len(notes) > _MAX_NOTES_SHOWN:
            lines.append(f"  … et {len(notes) - _MAX_NOTES_SHOWN} autre(s) remarque(s)")
    return "\n".join(lines)


__all__ = ["inspect_file", "format_inspection_text"]

