"""validate_frame beyond the frictionless cases: messages, native types, row numbers, dtypes."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from validation_helpers import SCHEMAS, read_csv
from dae_factory import dae_frame, dae_rows
from layers.validation import validate_frame


def frame_of(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, dtype=object)
    return frame.where(frame != "", None)


def run(frame, schema, rows=None):
    rows = np.arange(2, len(frame) + 2) if rows is None else np.asarray(rows)
    return validate_frame(frame, schema, rows)


def one(problems, field, rule):
    found = [p for p in problems if p.field == field and p.rule == rule]
    assert len(found) == 1, problems
    return found[0]


def test_valid_dae_frame_has_no_problem(dae):
    assert run(frame_of(dae_rows(3)), dae) == []


def test_messages_are_french_and_helpful(dae):
    rows = dae_rows(3)
    rows[0].update(acc="Interieur", lat_coor1="46,1645193", acc_lib="peut-être", date_instal="30/09/2019",
                   photo1="www.monsite.com/a.jpg", com_cp="7500")
    rows[1].update(nom=None, long_coor1="181", dermnt="2021-02-29", num_serie=rows[0]["num_serie"],
                   disp_j="lundi|mardi ", tel1="01 02 03 04 05")
    problems = run(frame_of(rows), dae, [10, 11, 12])
    enum = one(problems, "acc", "enum")
    assert enum.message.startswith("« Interieur » n'est pas une valeur autorisée (Intérieur, Extérieur)")
    assert "vouliez-vous dire « Intérieur »" in enum.message
    assert (enum.row, enum.value, enum.severity) == (10, "Interieur", "error")
    comma = one(problems, "lat_coor1", "type")
    assert "virgule décimale" in comma.message and "46.1645193" in comma.message
    assert "oui pour vrai, non pour faux" in one(problems, "acc_lib", "type").message
    assert "écrire 2019-09-30" in one(problems, "date_instal", "type").message
    assert "https://" in one(problems, "photo1", "type").message
    assert "motif" in one(problems, "com_cp", "pattern").message
    required = one(problems, "nom", "required")
    assert (required.message, required.row, required.value) == ("valeur obligatoire manquante", 11, None)
    assert "maximum autorisé (180)" in one(problems, "long_coor1", "maximum").message
    assert "calendrier" in one(problems, "dermnt", "type").message
    assert "déjà ligne 10" in one(problems, "num_serie", "unique").message
    assert "espaces en trop" in one(problems, "disp_j", "pattern").message
    assert one(problems, "tel1", "pattern").row == 11
    assert [p.row for p in problems] == sorted(p.row for p in problems)


def test_missing_required_columns_one_problem_each(dae):
    frame = frame_of(dae_rows(4)).drop(columns=["nom", "modele", "photo1"])
    problems = run(frame, dae)
    assert [(p.rule, p.field, p.row) for p in problems] == [
        ("missing-column", "nom", None), ("missing-column", "modele", None)]
    assert problems[0].message == "colonne obligatoire « nom » absente du fichier"


def test_extra_columns_are_ignored(dae):
    frame = frame_of(dae_rows(2)).assign(gid=["1", "x"], commentaire=[None, "ok"])
    assert run(frame, dae) == []


def test_validation_never_changes_the_frame(dae):
    rows = dae_rows(3)
    rows[0].update(lat_coor1="46,5", acc_lib="Oui", acc=" Intérieur")
    frame = frame_of(rows)
    before = frame.copy(deep=True)
    assert run(frame, dae)
    pd.testing.assert_frame_equal(frame, before)


def test_string_and_object_dtypes_give_the_same_problems(dae):
    rows = dae_rows(20)
    rows[3].update(lat_coor1="abc", acc="ext", dermnt="2024-02-30", com_cp=None)
    rows[7].update(num_serie=rows[2]["num_serie"], acc_lib="1")
    as_object = frame_of(rows)
    as_arrow = as_object.astype("str")  # pandas 3 default: Arrow-backed strings, NaN for missing
    assert run(as_object, dae) == run(as_arrow, dae) != []


def test_native_types_from_geopackage_or_shapefile(dae):
    rows = dae_rows(3)
    frame = frame_of(rows)
    frame["lat_coor1"] = [48.85, 95.0, np.nan]  # float column
    frame["long_coor1"] = [2.3, 2.4, 2.5]
    frame["acc_lib"] = [True, False, True]  # real booleans pass whatever trueValues say
    frame["lc_ped"] = pd.array([True, None, False], dtype="boolean")
    frame["com_cp"] = [6000, 75007, 1053]  # postal codes read as numbers lost their zero
    frame["adr_num"] = [14, 3, 1]  # a number in a free string field is fine
    frame["date_instal"] = pd.to_datetime(["2019-09-30", "2020-01-01", None])
    frame["dermnt"] = [dt.date(2024, 9, 30), dt.date(2024, 1, 1), dt.date(2023, 5, 4)]
    problems = run(frame, dae)
    assert {(p.row, p.field, p.rule) for p in problems} == {
        (3, "lat_coor1", "maximum"), (4, "lat_coor1", "required"),
        (2, "com_cp", "pattern"), (4, "com_cp", "pattern"),
    }


def test_integer_fields_with_native_numbers(stationnement):
    frame = read_csv(SCHEMAS / "stationnement-cyclable/1.1.1/exemple-valide.csv")
    frame = pd.concat([frame] * 3, ignore_index=True)
    frame["id_local"] = ["A", "B", "C"]
    frame["capacite"] = [8.0, 8.5, np.nan]  # a float column from a GeoPackage
    frame["d_service"] = pd.array([2017, None, 2020], dtype="Int64")
    problems = run(frame, stationnement)
    assert {(p.row, p.field, p.rule) for p in problems} == {(3, "capacite", "type"), (4, "capacite", "required")}


def test_geopoint_forms(stationnement):
    frame = read_csv(SCHEMAS / "stationnement-cyclable/1.1.1/exemple-valide.csv")
    cells = ["[5.7145295,45.191463]\n", " [ 5.71 , 45.19 ] ", "[45.19, 95.71]", "45.19, 5.71", "[5,71;45,19]",
             "[5.71]", "POINT (5.71 45.19)"]
    frame = pd.concat([frame] * len(cells), ignore_index=True)
    frame["id_local"] = [f"S{i}" for i in range(len(cells))]
    frame["coordonneesxy"] = cells
    problems = run(frame, stationnement)
    assert [p.row for p in problems] == [4, 5, 6, 7, 8]
    assert all(p.rule == "type" and p.field == "coordonneesxy" for p in problems)
    assert "hors limites" in problems[0].message and "inversées" in problems[0].message
    assert "[2.35, 48.85]" in problems[1].message


def test_arrays_and_item_enums(acceslibre):
    base = read_csv(SCHEMAS / "acceslibre/0.0.20/base/exemple.csv").iloc[[0] * 5].reset_index(drop=True)
    base["id"] = [f"id{i}" for i in range(5)]
    base["labels"] = ['["th"]', '["th", "mobalib"]', '["th", "inconnu"]', "{th,dpt}", '"th"']
    problems = run(base, acceslibre)
    assert [(p.row, p.rule) for p in problems] == [(4, "enum"), (5, "type"), (6, "type")]
    assert "« inconnu »" in problems[0].message and "élément de la liste" in problems[0].message
    assert "{a,b}" in problems[1].message and '["a", "b"]' in problems[1].message


def test_lists_from_geojson_columns(acceslibre):
    base = read_csv(SCHEMAS / "acceslibre/0.0.20/base/exemple.csv").iloc[[0] * 3].reset_index(drop=True)
    base["id"] = ["a", "b", "c"]
    base["labels"] = pd.Series([["th"], np.array(["dpt", "x"]), None], dtype=object)
    problems = run(base, acceslibre)
    assert [(p.row, p.field, p.rule) for p in problems] == [(3, "labels", "enum")]


def test_long_enumerations_are_summarised(acceslibre):
    base = read_csv(SCHEMAS / "acceslibre/0.0.20/base/exemple.csv").iloc[[0]].reset_index(drop=True)
    base["activite"] = ["mairie"]
    problem = one(run(base, acceslibre), "activite", "enum")
    assert "valeurs autorisées)" in problem.message and "vouliez-vous dire « Mairie »" in problem.message
    assert len(problem.message) < 600


def test_row_numbers_are_reported_as_given(dae):
    rows = dae_rows(3)
    rows[2]["acc"] = "Dehors"
    problems = run(frame_of(rows), dae, [7, 9, 42])
    assert [(p.row, p.field) for p in problems] == [(42, "acc")]
    with pytest.raises(ValueError):
        run(frame_of(rows), dae, [1, 2])


def test_a_repeated_bad_value_is_explained_once_but_reported_per_row(dae):
    frame = dae_frame(5000)
    frame.loc[::2, "acc"] = "dedans"
    problems = run(frame, dae)
    assert len(problems) == 2500 and len({id(p.message) for p in problems}) == 1


def test_other_pandas_dtypes(dae):
    rows = dae_rows(3)
    frame = frame_of(rows)
    frame["acc"] = pd.Series(["Intérieur", "Dehors", "Extérieur"], dtype="category")
    frame["nom"] = pd.Series(["a", None, "c"], dtype="string[python]")
    frame["date_instal"] = pd.Series([dt.datetime(2019, 9, 30), None, dt.datetime(2020, 1, 1)], dtype=object)
    frame["adr_num"] = pd.Series([14, "14 bis", None], dtype=object)
    assert {(p.row, p.field, p.rule) for p in run(frame, dae)} == {(3, "acc", "enum"), (3, "nom", "required")}


def test_known_divergences_from_frictionless_are_stricter(tmp_path, dae):
    """Where frictionless's Python parsers are lenient, we follow ISO 8601 / RFC 3986 to the letter."""
    from validation_helpers import frictionless_errors, our_errors, write_csv

    rows = dae_rows(4)
    rows[0]["date_instal"] = "2019-9-30"  # strptime accepts one-digit months; ISO 8601 does not
    rows[1]["lat_coor1"] = "4_8.5"  # Decimal accepts underscores
    rows[2]["long_coor1"] = "NaN"  # Decimal accepts NaN (frictionless then fails its bounds)
    rows[3]["photo1"] = "https://www.monsite.com/mon image.jpg"  # a space in a URI
    path = write_csv(tmp_path / "dae.csv", rows)
    assert frictionless_errors(path, dae.raw) == {(4, "long_coor1", "minimum"), (4, "long_coor1", "maximum")}
    assert our_errors(path, dae) == {(2, "date_instal", "type"), (3, "lat_coor1", "type"),
                                     (4, "long_coor1", "type"), (5, "photo1", "type")}
