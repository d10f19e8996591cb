"""Cycle-path features against the aménagements cyclables JSON Schema (jsonschema, offline)."""

from __future__ import annotations

import copy
import json

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
import shapely
from shapely.geometry import shape

from validation_helpers import SCHEMAS
from layers.errors import SchemaError
from layers.validation import validate_features

EXAMPLE = SCHEMAS / "amenagements-cyclables/0.3.5/exemple-valide.json"


def example_feature() -> dict:
    return json.loads(EXAMPLE.read_text(encoding="utf-8"))["features"][0]


def as_frame(features: list[dict]) -> tuple[pd.DataFrame, gpd.GeoSeries]:
    """As a GeoJSON reader hands features over: native JSON values, absent keys as missing."""
    frame = pd.DataFrame([f["properties"] for f in features])
    geometry = gpd.GeoSeries([shape(f["geometry"]) if f["geometry"] else None for f in features], crs="EPSG:4326")
    return frame, geometry


def run(features, schema, first_row=1):
    frame, geometry = as_frame(features)
    return validate_features(frame, geometry, schema, np.arange(first_row, first_row + len(features)))


def test_official_example_is_valid(cycle):
    assert run(json.loads(EXAMPLE.read_text(encoding="utf-8"))["features"], cycle) == []


def test_official_example_read_by_geopandas_is_valid(cycle):
    # geopandas gives numpy arrays for nom_loc, datetimes for date_maj, int32 numbers
    frame = gpd.read_file(EXAMPLE)
    problems = validate_features(frame.drop(columns="geometry"), frame.geometry, cycle, np.arange(1, len(frame) + 1))
    assert problems == []


def test_invalid_features_give_the_expected_problems(cycle):
    features = [copy.deepcopy(example_feature()) for _ in range(8)]
    features[1]["properties"]["ame_d"] = "PISTE"
    features[2]["properties"]["code_com_d"] = "7510"
    features[3]["properties"]["code_com_d"] = "75107X"  # passes the published, unanchored pattern
    features[4]["properties"]["largeur_d"] = "3"
    del features[5]["properties"]["id_local"]
    features[6]["properties"].update(date_maj="2020-13-45", nom_loc="V1", lumiere="oui", trafic_vit=50.5)
    features[7]["properties"].update(code_com_g=None, sens_g="DOUBLE")
    problems = run(features, cycle)
    assert {(p.row, p.field, p.rule) for p in problems} == {
        (2, "ame_d", "enum"), (3, "code_com_d", "pattern"), (4, "code_com_d", "pattern"),
        (5, "largeur_d", "type"), (6, "id_local", "required"),
        (7, "date_maj", "type"), (7, "nom_loc", "type"), (7, "lumiere", "type"), (7, "trafic_vit", "type"),
        (8, "code_com_g", "required"), (8, "sens_g", "enum"),
    }
    by_key = {(p.row, p.field): p for p in problems}
    assert by_key[(2, "ame_d")].message.startswith("« PISTE » n'est pas une valeur autorisée (PISTE CYCLABLE,")
    assert by_key[(2, "ame_d")].value == "PISTE"
    assert "motif" in by_key[(4, "code_com_d")].message
    assert by_key[(5, "largeur_d")].message == "« 3 » est de type texte ; nombre attendu (sans guillemets)"
    assert by_key[(6, "id_local")].message == "valeur obligatoire manquante"
    assert "AAAA-MM-JJ" in by_key[(7, "date_maj")].message
    assert all(p.severity == "error" for p in problems)


def test_geometry_type_is_checked(cycle):
    features = [copy.deepcopy(example_feature()) for _ in range(4)]
    features[1]["geometry"] = {"type": "Point", "coordinates": [2.3, 48.8]}
    features[2]["geometry"] = {"type": "MultiLineString", "coordinates": [[[2.3, 48.8], [2.31, 48.81]]]}
    features[3]["geometry"] = None  # missing geometries are the normaliser's business
    problems = run(features, cycle, first_row=10)
    assert [(p.row, p.rule, p.value) for p in problems] == [(11, "geometry-type", "Point")]
    assert "LineString" in problems[0].message


def test_lists_as_json_text_and_integral_floats(cycle):
    # from a GeoPackage: lists stored as JSON text; integers as floats because of a missing value
    features = [copy.deepcopy(example_feature()) for _ in range(2)]
    features[1]["properties"].pop("trafic_vit")
    frame, geometry = as_frame(features)
    frame["nom_loc"] = ['["V1:V6:V13"]', '["V2"]']
    assert frame["trafic_vit"].dtype == float
    assert validate_features(frame, geometry, cycle, np.array([1, 2])) == []


def test_table_schema_is_refused(dae):
    frame, geometry = as_frame([example_feature()])
    with pytest.raises(SchemaError):
        validate_features(frame, geometry, dae, np.array([1]))


def test_lengths_must_agree(cycle):
    frame, geometry = as_frame([example_feature()])
    with pytest.raises(ValueError):
        validate_features(frame, geometry, cycle, np.array([1, 2]))


def test_a_thousand_features_one_error(cycle):
    features = [copy.deepcopy(example_feature()) for _ in range(1000)]
    for i, feature in enumerate(features):
        feature["properties"]["id_local"] = f"AC{i}"
    features[500]["properties"]["ame_g"] = "?"
    problems = run(features, cycle)
    assert [(p.row, p.field) for p in problems] == [(501, "ame_g")]
    assert shapely.get_type_id(as_frame(features[:1])[1].values[0]) == 1


def test_required_attribute_absent_from_the_whole_file(cycle):
    features = [copy.deepcopy(example_feature()) for _ in range(3)]
    for feature in features:
        del feature["properties"]["code_com_g"]
    problems = run(features, cycle)
    assert [(p.row, p.field, p.rule) for p in problems] == [(None, "code_com_g", "missing-column")]


def _invalid_features() -> list[dict]:
    features = [copy.deepcopy(example_feature()) for _ in range(6)]
    features[1]["properties"].update(ame_d="PISTE", largeur_d="3")
    features[2]["properties"].update(code_com_d="75107X", nom_loc=["V1", 3])
    del features[3]["properties"]["id_local"]
    features[4]["properties"].update(date_maj="2020-02-30", lumiere=1)
    features[5]["geometry"] = {"type": "Point", "coordinates": [2.3, 48.8]}
    return features


def test_column_path_and_per_feature_path_agree(cycle):
    """The distinct-value shortcut gives exactly what one validator call per feature gives."""
    from dataclasses import replace

    raw = copy.deepcopy(cycle.raw)
    properties = raw["properties"]["features"]["items"]["properties"]["properties"]
    properties["additionalProperties"] = True  # harmless, but not judged attribute by attribute
    per_feature = replace(cycle, raw=raw)
    features = _invalid_features()
    fast, slow = run(features, cycle), run(features, per_feature)
    assert [(p.row, p.field, p.rule, p.message, p.value) for p in fast] == \
           [(p.row, p.field, p.rule, p.message, p.value) for p in slow]
    assert {(p.row, p.field, p.rule) for p in fast} == {
        (2, "ame_d", "enum"), (2, "largeur_d", "type"), (3, "code_com_d", "pattern"), (3, "nom_loc", "type"),
        (4, "id_local", "required"), (5, "date_maj", "type"), (5, "lumiere", "type"), (6, None, "geometry-type"),
    }


def test_ten_thousand_features_column_wise_finds_the_one_error(cycle):
    feature = example_feature()
    n = 10_000
    frame = pd.DataFrame([feature["properties"]] * n)
    frame["id_local"] = [f"AC{i}" for i in range(n)]
    frame.loc[n - 1, "ame_g"] = "?"
    geometry = gpd.GeoSeries([shape(feature["geometry"])] * n, crs="EPSG:4326")
    problems = validate_features(frame, geometry, cycle, np.arange(1, n + 1))
    assert [(p.row, p.field, p.rule) for p in problems] == [(n, "ame_g", "enum")]
