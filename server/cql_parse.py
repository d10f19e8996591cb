"""Parsing CQL2 filters (text and JSON) into pygeofilter's AST, as pygeoapi would — plus
what pygeofilter 0.4 lacks for the filters this server evaluates.

pygeofilter's parsers are used as they are, with four additions:

- ``S_DWITHIN(geom, POINT(…), 500)`` (distance in metres) in both encodings: the text
  grammar gets one extra rule, the JSON operator ``s_dwithin`` is recognised;
- the CQL2 bounding-box literal ``BBOX(w, s, e, n)`` (text) and ``{"bbox": […]}`` (JSON)
  become ordinary polygon literals, so that pygeoapi's ``filter-crs`` handling
  (``modify_pygeofilter``, which reprojects geometry literals only) applies to them too —
  pygeofilter reads the JSON one with its axes mixed up;
- the ECQL predicate ``BBOX(geom, w, s, e, n[, crs])`` becomes ``S_INTERSECTS`` with a
  polygon (carrying its CRS when one is given); the CQL2 1.0 JSON ``between`` (three
  arguments) is read as well as pygeofilter's older two-argument form;
- a filter that does not parse becomes a ``FilterSyntaxError`` node holding a French
  message that says where it fails, instead of an exception: pygeoapi turns any parser
  exception into a bare "Bad CQL text", the provider turns this node into a 400 naming
  the problem.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pygeofilter.parsers.cql2_text.parser as cql2_text_module
from lark import Lark, v_args
from lark.exceptions import LarkError, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from pygeofilter import ast, values
from pygeofilter.parsers.cql2_json import parse as parse_pygeofilter_json

TEXT_LANGUAGES = {"cql2-text", "cql-text"}
JSON_LANGUAGES = {"cql2-json", "cql-json"}
_DWITHIN_FUNCTION = "__s_dwithin__"  # how the JSON pre-pass hands S_DWITHIN to pygeofilter's walker
_METRES_UNITS = {"meters", "metres", "meter", "metre", "m"}


class FilterSyntaxError(ast.Node):
    """Stands for a filter that could not be parsed (``message`` in French, for the 400)."""

    def __init__(self, message: str) -> None:
        self.message = message

    def get_template(self) -> str:
        return "<filtre illisible>"

    def __repr__(self) -> str:
        return f"FilterSyntaxError({self.message!r})"


# -- text -----------------------------------------------------------------------------

_SPATIAL_RULE = "?spatial_predicate:"
_DWITHIN_RULE = (
    '?spatial_predicate: "S_DWITHIN"i "(" expression "," expression "," full_number ")" -> dwithin_spatial_predicate\n'
    "                  |"
)


@v_args(meta=False, inline=True)
class _Transformer(cql2_text_module.CQLTransformer):
    def dwithin_spatial_predicate(self, lhs: Any, rhs: Any, distance: float) -> ast.DistanceWithin:
        return ast.DistanceWithin(lhs, rhs, distance, "meters")


def _text_parser() -> Lark:
    folder = Path(cql2_text_module.__file__).parent
    grammar = (folder / "grammar.lark").read_text(encoding="utf-8")
    if grammar.count(_SPATIAL_RULE) != 1 or "%import .wkt.ewkt_geometry" not in grammar:
        raise RuntimeError("grammaire CQL2 de pygeofilter inattendue : S_DWITHIN ne peut pas y être ajouté")
    grammar = grammar.replace(_SPATIAL_RULE, _DWITHIN_RULE, 1)
    # Imported from the parsers folder by absolute name (the grammar is no longer a file).
    grammar = grammar.replace("%import .wkt.ewkt_geometry", "%import wkt.ewkt_geometry")
    return Lark(
        grammar,
        parser="lalr",
        maybe_placeholders=False,
        transformer=_Transformer(),
        import_paths=[str(folder.parent)],
    )


_TEXT_PARSER = _text_parser()


def _text_error(text: str, exc: Exception) -> str:
    if isinstance(exc, UnexpectedEOF):
        return "filter : expression CQL2 incomplète (fin de texte inattendue)"
    if isinstance(exc, (UnexpectedCharacters, UnexpectedInput)) and getattr(exc, "column", None):
        column = exc.column
        context = text[max(0, column - 21): column + 20]
        return f"filter : expression CQL2 illisible à partir de la colonne {column} : « {context} »"
    return f"filter : expression CQL2 illisible ({type(exc).__name__})"


def parse_text(text: str) -> ast.Node:
    try:
        return normalise(_TEXT_PARSER.parse(text))
    except LarkError as exc:
        return FilterSyntaxError(_text_error(text, getattr(exc, "orig_exc", exc)))
    except (ValueError, TypeError) as exc:
        return FilterSyntaxError(f"filter : expression CQL2 illisible : {exc}")


# -- JSON -----------------------------------------------------------------------------


def _box_polygon(box: list[Any]) -> dict[str, Any]:
    if len(box) == 6:  # with heights: the store is 2D
        box = [box[0], box[1], box[3], box[4]]
    if len(box) != 4 or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in box):
        raise ValueError(f"bbox attend 4 nombres (ouest, sud, est, nord), reçu {box!r}")
    west, south, east, north = (float(v) for v in box)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


def _prepare_json(node: Any) -> Any:
    """Rewrite what pygeofilter's JSON walker gets wrong or does not know."""
    if isinstance(node, list):
        return [_prepare_json(item) for item in node]
    if not isinstance(node, dict):
        return node
    if "bbox" in node and "type" not in node and "op" not in node:
        return _box_polygon(node["bbox"])
    op = str(node.get("op", "")).lower()
    if op == "s_dwithin":
        return {"function": {"name": _DWITHIN_FUNCTION, "arguments": _prepare_json(node.get("args"))}}
    args = node.get("args")
    if op == "between" and isinstance(args, list) and len(args) == 3:
        # CQL2 1.0 writes [value, low, high]; pygeofilter 0.4 reads [value, [low, high]].
        return {**node, "args": [_prepare_json(args[0]), [_prepare_json(args[1]), _prepare_json(args[2])]]}
    return {key: _prepare_json(value) for key, value in node.items()}


def parse_json(document: str | bytes | dict[str, Any]) -> ast.Node:
    try:
        root = json.loads(document) if isinstance(document, (str, bytes)) else document
    except ValueError as exc:
        return FilterSyntaxError(f"filter : JSON illisible ({exc})")
    try:
        return normalise(parse_pygeofilter_json(_prepare_json(root)))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        return FilterSyntaxError(f"filter : expression CQL2 JSON illisible : {exc}")
    except Exception as exc:  # pygeofilter raises a bare Exception for a wrong filter-lang member
        return FilterSyntaxError(f"filter : expression CQL2 JSON illisible : {exc}")


def parse(text: str | bytes, language: str | None = None) -> ast.Node:
    """``filter`` in ``filter-lang`` (by default: JSON when it looks like JSON, else text)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    language = (language or "").strip().lower() or None
    if language in JSON_LANGUAGES or (language is None and text.lstrip().startswith("{")):
        return parse_json(text)
    if language is None or language in TEXT_LANGUAGES:
        return parse_text(text)
    return FilterSyntaxError(f"filter-lang : langage « {language} » inconnu (cql2-text ou cql2-json)")


# -- normalisation --------------------------------------------------------------------


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"nombre attendu, reçu {value!r}")
    return float(value)


def _normalise_value(value: Any) -> Any:
    if isinstance(value, values.Envelope):
        return values.Geometry(dict(value.geometry))
    if isinstance(value, ast.Function) and value.name.lower() == "bbox":
        return values.Geometry(_box_polygon([_number(v) for v in value.arguments]))
    return normalise(value)


def normalise(node: Any) -> Any:
    """Bring the extensions above to pygeofilter's own node types (in place where possible)."""
    if isinstance(node, list):
        return [_normalise_value(item) for item in node]
    if isinstance(node, ast.Not):
        node.sub_node = normalise(node.sub_node)
        return node
    if isinstance(node, ast.Function) and node.name == _DWITHIN_FUNCTION:
        if len(node.arguments) != 3:
            raise ValueError("S_DWITHIN attend trois arguments : géométrie, géométrie, distance en mètres")
        lhs, rhs, distance = node.arguments
        return ast.DistanceWithin(_normalise_value(lhs), _normalise_value(rhs), _number(distance), "meters")
    if isinstance(node, ast.BBox):
        polygon = _box_polygon([_number(v) for v in (node.minx, node.miny, node.maxx, node.maxy)])
        if node.crs:
            polygon["crs"] = {"type": "name", "properties": {"name": node.crs}}
        return ast.GeometryIntersects(normalise(node.lhs), values.Geometry(polygon))
    if isinstance(node, ast.SpatialDistancePredicate) and str(node.units).lower() not in _METRES_UNITS:
        if str(node.units).lower() in ("kilometers", "kilometres", "km"):
            node.distance, node.units = _number(node.distance) * 1000.0, "meters"
    if isinstance(node, ast.Node) and dataclasses.is_dataclass(node):
        for item in dataclasses.fields(node):
            setattr(node, item.name, _normalise_value(getattr(node, item.name)))
    return node
