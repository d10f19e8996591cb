"""CQL2 (pygeofilter's AST, see ``cql_parse``) → the store's filter tree, checked against
the layer's fields.

Evaluated: comparisons, LIKE, IN, BETWEEN, IS NULL, AND / OR / NOT, INCLUDE / EXCLUDE,
and the spatial predicates S_INTERSECTS, S_DISJOINT, S_WITHIN, S_CONTAINS, S_EQUALS,
S_TOUCHES, S_OVERLAPS, S_CROSSES, S_DWITHIN (metres) between the feature's geometry and a
literal (``BBOX(…)`` literals and the ECQL ``BBOX(geom, …)`` predicate included).

Typed as CQL2 says: a property is compared with a literal of its own type (a text
property with a text, a number with a number, a boolean with TRUE/FALSE, a date with
DATE('…') or an ISO date text). Anything else — unknown property, wrong type, temporal
or array predicates, functions (CASEI…), arithmetic, property-to-property comparisons —
raises ``UnsupportedFilter`` naming the part, which the API turns into a 400: a filter is
never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Collection, Mapping

import shapely
import shapely.geometry
from pygeofilter import ast, values

from layers.store import And, Comparison, Not, Or, Spatial, Where

from .cql_parse import FilterSyntaxError

_COMPARISONS = {
    ast.Equal: "=",
    ast.NotEqual: "<>",
    ast.LessThan: "<",
    ast.LessEqual: "<=",
    ast.GreaterThan: ">",
    ast.GreaterEqual: ">=",
}
# a < x  ⇔  x > a: comparisons written literal-first are turned around.
_MIRRORED = {"=": "=", "<>": "<>", "<": ">", "<=": ">=", ">": "<", ">=": "<="}
# S_WITHIN(literal, geom) ⇔ S_CONTAINS(geom, literal); the others are symmetric.
_SPATIAL_MIRRORED = {"within": "contains", "contains": "within"}
GEOMETRY_NAMES = frozenset({"geometry", "geom"})
_KIND_LABELS = {
    "string": "texte", "integer": "entier", "number": "nombre", "boolean": "booléen",
    "date": "date", "datetime": "date et heure", "array": "liste", "object": "objet",
}


class UnsupportedFilter(ValueError):
    """A CQL2 construct this server does not evaluate (message in French, names ``filter``)."""


def _describe(value: Any) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, str):
        return f"'{value}' (texte)"
    if isinstance(value, (int, float)):
        return f"{value} (nombre)"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP('{value.isoformat()}')"
    if isinstance(value, dt.date):
        return f"DATE('{value.isoformat()}')"
    return str(value)


class _Translator:
    def __init__(self, fields: Mapping[str, str] | None, geometry_names: Collection[str]) -> None:
        self.checked = fields is not None  # without fields: names and types are left to the store
        self.fields = dict(fields or {})
        self.geometry_names = set(geometry_names) | GEOMETRY_NAMES

    # -- operands ------------------------------------------------------------------------
    def is_geometry(self, node: Any) -> bool:
        return isinstance(node, ast.Attribute) and node.name in self.geometry_names and node.name not in self.fields

    def property(self, node: Any) -> str:
        if not isinstance(node, ast.Attribute):
            raise UnsupportedFilter(f"filter : une propriété est attendue, reçu « {node} »")
        if self.is_geometry(node):
            raise UnsupportedFilter(
                f"filter : la géométrie « {node.name} » ne s'emploie que dans un prédicat spatial (S_INTERSECTS…)"
            )
        if self.checked and node.name not in self.fields:
            known = ", ".join(sorted(self.fields))
            raise UnsupportedFilter(f"filter : propriété inconnue « {node.name} » ; propriétés interrogeables : {known}")
        return node.name

    def literal(self, name: str, value: Any) -> Any:
        """``value`` checked against the type of ``name`` and brought to the stored form."""
        kind = self.fields.get(name)
        label = _KIND_LABELS.get(kind or "", kind)
        if isinstance(value, ast.Attribute):
            raise UnsupportedFilter(f"filter : comparaison entre propriétés (« {name} », « {value.name} ») non prise en charge")
        if isinstance(value, ast.Function):
            raise UnsupportedFilter(f"filter : fonction « {_function_name(value)} » non prise en charge")
        if isinstance(value, ast.Node):
            raise UnsupportedFilter(f"filter : expression « {value} » non prise en charge (arithmétique ?)")
        if isinstance(value, (values.Geometry, values.Envelope)):
            raise UnsupportedFilter(f"filter : géométrie comparée à la propriété « {name} » ({label})")
        if isinstance(value, values.Interval):
            raise UnsupportedFilter("filter : intervalles et prédicats temporels non pris en charge")
        if kind is None:
            return value.isoformat() if isinstance(value, dt.date) else value
        if kind in ("array", "object"):
            raise UnsupportedFilter(
                f"filter : « {name} » est une liste ; seul « {name} IS NULL » s'y applique "
                "(les fonctions A_CONTAINS… ne sont pas prises en charge)"
            )
        ok = (
            (kind == "string" and isinstance(value, str))
            or (kind in ("integer", "number") and isinstance(value, (int, float)) and not isinstance(value, bool))
            or (kind == "boolean" and isinstance(value, bool))
            or (kind == "date" and (type(value) is dt.date or _iso(value, dt.date.fromisoformat)))
            or (kind == "datetime" and (isinstance(value, dt.date) or _iso(value, dt.datetime.fromisoformat)))
        )
        if not ok:
            raise UnsupportedFilter(
                f"filter : la propriété « {name} » est de type {label} ; la valeur {_describe(value)} "
                "ne peut pas lui être comparée"
            )
        if kind == "datetime":
            return _stored_datetime(value if isinstance(value, dt.date) else dt.datetime.fromisoformat(value))
        if isinstance(value, dt.date):
            return value.isoformat()
        return value

    def geometry(self, value: Any) -> Any:
        if isinstance(value, values.Envelope):
            value = values.Geometry(dict(value.geometry))
        if not isinstance(value, values.Geometry):
            raise UnsupportedFilter(f"filter : géométrie littérale attendue (POINT(…), POLYGON(…), BBOX(…)), reçu « {value} »")
        try:
            return shapely.geometry.shape(value.geometry)
        except Exception as exc:  # noqa: BLE001 (shapely raises several types for bad GeoJSON)
            raise UnsupportedFilter(f"filter : géométrie littérale illisible ({exc})") from None

    # -- predicates ----------------------------------------------------------------------
    def spatial(self, op: str, lhs: Any, rhs: Any, distance: float | None = None) -> Spatial:
        if self.is_geometry(lhs) and not isinstance(rhs, ast.Attribute):
            return Spatial(op, self.geometry(rhs), distance)  # type: ignore[arg-type]
        if self.is_geometry(rhs) and not isinstance(lhs, ast.Attribute):
            return Spatial(_SPATIAL_MIRRORED.get(op, op), self.geometry(lhs), distance)  # type: ignore[arg-type]
        raise UnsupportedFilter(
            f"filter : un prédicat spatial compare la géométrie des entités (« geometry ») à une géométrie littérale ; "
            f"reçu « {lhs} » et « {rhs} »"
        )

    def translate(self, node: Any) -> Where:
        if isinstance(node, FilterSyntaxError):
            raise UnsupportedFilter(node.message)
        if isinstance(node, ast.And):
            return And((self.translate(node.lhs), self.translate(node.rhs)))
        if isinstance(node, ast.Or):
            return Or((self.translate(node.lhs), self.translate(node.rhs)))
        if isinstance(node, ast.Not):
            return Not(self.translate(node.sub_node))
        if isinstance(node, ast.Include):
            return Or(()) if node.not_ else And(())
        op = _COMPARISONS.get(type(node))
        if op is not None:
            for side in (node.lhs, node.rhs):
                if isinstance(side, ast.Function):
                    raise UnsupportedFilter(f"filter : fonction « {_function_name(side)} » non prise en charge")
            if isinstance(node.lhs, ast.Attribute) and not isinstance(node.rhs, ast.Attribute):
                name = self.property(node.lhs)
                return Comparison(name, op, self.literal(name, node.rhs))  # type: ignore[arg-type]
            if isinstance(node.rhs, ast.Attribute) and not isinstance(node.lhs, ast.Attribute):
                name = self.property(node.rhs)
                return Comparison(name, _MIRRORED[op], self.literal(name, node.lhs))  # type: ignore[arg-type]
            if isinstance(node.lhs, ast.Attribute):
                self.property(node.lhs), self.property(node.rhs)
                raise UnsupportedFilter(
                    f"filter : comparaison entre propriétés (« {node.lhs.name} », « {node.rhs.name} ») non prise en charge"
                )
            raise UnsupportedFilter(f"filter : une comparaison doit porter sur une propriété ({node})")
        if isinstance(node, ast.Like):
            if node.nocase:
                raise UnsupportedFilter("filter : ILIKE (LIKE sans casse) n'est pas pris en charge")
            name = self.property(node.lhs)
            if self.fields.get(name, "string") != "string":
                raise UnsupportedFilter(f"filter : LIKE ne s'applique qu'aux textes ; « {name} » est de type "
                                        f"{_KIND_LABELS.get(self.fields[name], self.fields[name])}")
            if isinstance(node.pattern, ast.Function):
                raise UnsupportedFilter(f"filter : fonction « {_function_name(node.pattern)} » non prise en charge")
            if not isinstance(node.pattern, str):
                raise UnsupportedFilter(f"filter : motif LIKE attendu entre apostrophes, reçu « {node.pattern} »")
            where: Where = Comparison(name, "like", node.pattern)
            return Not(where) if node.not_ else where
        if isinstance(node, ast.In):
            name = self.property(node.lhs)
            where = Comparison(name, "in", tuple(self.literal(name, v) for v in node.sub_nodes))
            return Not(where) if node.not_ else where
        if isinstance(node, ast.Between):
            name = self.property(node.lhs)
            if self.fields.get(name) == "boolean":
                raise UnsupportedFilter(f"filter : BETWEEN ne s'applique pas au booléen « {name} »")
            where = Comparison(name, "between", (self.literal(name, node.low), self.literal(name, node.high)))
            return Not(where) if node.not_ else where
        if isinstance(node, ast.IsNull):
            if self.is_geometry(node.lhs):
                raise UnsupportedFilter("filter : « geometry IS NULL » n'est pas pris en charge")
            where = Comparison(self.property(node.lhs), "isnull")
            return Not(where) if node.not_ else where
        if isinstance(node, ast.SpatialComparisonPredicate):
            return self.spatial(node.op.name.lower(), node.lhs, node.rhs)
        if isinstance(node, ast.SpatialDistancePredicate):
            if str(node.units).lower() not in ("meters", "metres", "meter", "metre", "m"):
                raise UnsupportedFilter(f"filter : unité de distance « {node.units} » non prise en charge (mètres)")
            if isinstance(node.distance, bool) or not isinstance(node.distance, (int, float)) or node.distance < 0:
                raise UnsupportedFilter(f"filter : S_DWITHIN attend une distance positive en mètres, reçu « {node.distance} »")
            within = self.spatial("dwithin", node.lhs, node.rhs, float(node.distance))
            return Not(within) if isinstance(node, ast.DistanceBeyond) else within
        if isinstance(node, ast.Relate):
            raise UnsupportedFilter("filter : S_RELATE n'est pas pris en charge")
        if isinstance(node, ast.TemporalPredicate):
            raise UnsupportedFilter(f"filter : prédicat temporel {node.op.name} non pris en charge")
        if isinstance(node, ast.ArrayPredicate):
            raise UnsupportedFilter(f"filter : prédicat sur liste {node.op.name} (A_…) non pris en charge")
        if isinstance(node, ast.Function):
            raise UnsupportedFilter(f"filter : fonction « {_function_name(node)} » non prise en charge")
        if isinstance(node, ast.Attribute):
            raise UnsupportedFilter(f"filter : « {node.name} » seul n'est pas une condition (comparaison attendue)")
        raise UnsupportedFilter(f"filter : expression non prise en charge : {type(node).__name__}")


def _function_name(node: ast.Function) -> str:
    # pygeofilter reads CASEI(x) as lower(x).
    return "CASEI" if node.name.lower() == "lower" else node.name


def _iso(value: Any, parser: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parser(value)
    except ValueError:
        return False
    return True


def _stored_datetime(value: dt.date) -> str:
    """As GDAL writes GeoPackage datetimes (UTC, ``Z``, milliseconds only when not zero)."""
    if not isinstance(value, dt.datetime):
        value = dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    text = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{value.microsecond // 1000:03d}Z" if value.microsecond // 1000 else f"{text}Z"


def to_where(node: Any, fields: Mapping[str, str] | None = None, geometry_names: Collection[str] = ()) -> Where:
    """The store filter for ``node``; ``fields`` maps each queryable property to its store type
    (``None``: names and types are not checked here, the store still refuses unknown names)."""
    return _Translator(fields, geometry_names).translate(node)
