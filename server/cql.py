"""CQL2 (as parsed by pygeofilter, which pygeoapi uses) → the store's filter tree.

Supported: basic CQL2 — comparisons, AND / OR / NOT, LIKE, IN, BETWEEN, IS NULL — on
properties against literal values. Anything else (spatial or temporal predicates,
functions, arithmetic, property-to-property comparisons) raises ``UnsupportedFilter``,
which the API turns into a 400: a filter is never silently dropped.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pygeofilter import ast, values

from layers.store import And, Comparison, Not, Or, Where

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


class UnsupportedFilter(ValueError):
    """A CQL2 construct this server does not evaluate (message in French)."""


def _property(node: Any) -> str:
    if isinstance(node, ast.Attribute):
        return node.name
    raise UnsupportedFilter(f"une propriété est attendue, reçu « {node} »")


def _literal(node: Any) -> Any:
    if isinstance(node, (str, int, float, bool)) or node is None:
        return node
    if isinstance(node, (dt.date, dt.datetime)):
        return node.isoformat()
    if isinstance(node, values.Interval) or isinstance(node, values.Geometry) or isinstance(node, values.Envelope):
        raise UnsupportedFilter("les filtres spatiaux et temporels ne sont pas encore pris en charge")
    raise UnsupportedFilter(f"une valeur littérale est attendue, reçu « {node} »")


def _negate(where: Where, negated: bool) -> Where:
    return Not(where) if negated else where


def to_where(node: Any) -> Where:
    if isinstance(node, ast.And):
        return And((to_where(node.lhs), to_where(node.rhs)))
    if isinstance(node, ast.Or):
        return Or((to_where(node.lhs), to_where(node.rhs)))
    if isinstance(node, ast.Not):
        return Not(to_where(node.sub_node))
    op = _COMPARISONS.get(type(node))
    if op is not None:
        if isinstance(node.lhs, ast.Attribute):
            return Comparison(_property(node.lhs), op, _literal(node.rhs))  # type: ignore[arg-type]
        if isinstance(node.rhs, ast.Attribute):
            return Comparison(_property(node.rhs), _MIRRORED[op], _literal(node.lhs))  # type: ignore[arg-type]
        raise UnsupportedFilter("une comparaison doit porter sur une propriété")
    if isinstance(node, ast.Like):
        if node.nocase:
            raise UnsupportedFilter("ILIKE / CASEI n'est pas pris en charge")
        # CQL2 wildcards are SQL's: % (any), _ (one), \ (escape); pygeofilter reports its own
        # defaults in the node, the pattern text itself follows CQL2.
        return _negate(Comparison(_property(node.lhs), "like", _literal(node.pattern)), node.not_)
    if isinstance(node, ast.In):
        return _negate(Comparison(_property(node.lhs), "in", tuple(_literal(v) for v in node.sub_nodes)), node.not_)
    if isinstance(node, ast.Between):
        return _negate(Comparison(_property(node.lhs), "between", (_literal(node.low), _literal(node.high))), node.not_)
    if isinstance(node, ast.IsNull):
        return _negate(Comparison(_property(node.lhs), "isnull"), node.not_)
    if isinstance(node, (ast.SpatialComparisonPredicate, ast.SpatialDistancePredicate, ast.BBox, ast.Relate)):
        raise UnsupportedFilter("les filtres spatiaux (S_INTERSECTS, BBOX…) ne sont pas encore pris en charge")
    if isinstance(node, ast.TemporalPredicate):
        raise UnsupportedFilter("les filtres temporels (T_…) ne sont pas encore pris en charge")
    if isinstance(node, ast.ArrayPredicate):
        raise UnsupportedFilter("les filtres sur listes (A_…) ne sont pas encore pris en charge")
    raise UnsupportedFilter(f"expression non prise en charge : {type(node).__name__}")
