"""Vocabularies communes use become typed values."""

import pandas as pd
import pytest

from layers.values import parse_multi_value, to_boolean, to_date, to_integer, to_multi_value, to_number, as_text


@pytest.mark.parametrize("word,expected", [
    ("oui", True), ("non", False), ("t", True), ("f", False), ("true", True), ("False", False),
    ("1", True), ("0", False), ("VRAI", True), ("FAUX", False), ("Oui ", True), ("peut-être", None), (None, None),
])
def test_boolean_vocabularies(word, expected):
    value = to_boolean(pd.Series([word], dtype=object)).iloc[0]
    assert (value is pd.NA and expected is None) or value == expected


def test_native_booleans_and_numbers_stay_typed():
    assert to_boolean(pd.Series([True, False])).tolist() == [True, False]
    assert to_boolean(pd.Series([1, 0])).tolist() == [True, False]


def test_numbers_with_decimal_comma_and_padding():
    values = to_number(pd.Series([" 00000046,1645193", "5.7145295", "1 234,5", "", None, "abc"], dtype=object))
    assert values.iloc[0] == pytest.approx(46.1645193, abs=1e-9)
    assert values.iloc[1] == pytest.approx(5.7145295)
    assert values.iloc[2] == pytest.approx(1234.5)
    assert values.iloc[3:].isna().all()


def test_integers_written_as_floats():
    assert to_integer(pd.Series(["6.0", "12", "3,0", "2.5", None], dtype=object)).tolist()[:3] == [6, 12, 3]
    assert to_integer(pd.Series(["2.5"], dtype=object)).isna().all()


def test_float_ids_become_integer_text():
    assert as_text(pd.Series([6.0, 12.0, 1.5])).tolist() == ["6", "12", "1.5"]


def test_dates_iso_and_french():
    assert to_date(pd.Series(["2024-07-01", "01/07/2024", "2024-07-01T10:00:00", "hier"], dtype=object)).tolist()[:3] == [
        "2024-07-01", "2024-07-01", "2024-07-01"]


@pytest.mark.parametrize("cell,expected", [
    ("lundi|mardi", ["lundi", "mardi"]),
    ('{lundi,mardi,"jours fériés"}', ["lundi", "mardi", "jours fériés"]),
    ('["moteur", "visuel"]', ["moteur", "visuel"]),
    ("V1:V6:V13", ["V1", "V6", "V13"]),
    ("{}", []),
    ("24h/24", ["24h/24"]),
])
def test_multi_value_notations(cell, expected):
    assert parse_multi_value(cell) == expected


def test_multi_value_column_parses_each_distinct_value_once():
    series = pd.Series(["{a,b}", "{a,b}", None, "c|d"], dtype=object)
    out = to_multi_value(series)
    assert out.iloc[0] == ["a", "b"] and out.iloc[2] is None and out.iloc[3] == ["c", "d"]
