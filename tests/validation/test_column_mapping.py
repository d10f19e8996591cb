"""Matching real-world column names to schema fields, with a warning for every guess."""

from __future__ import annotations

from layers.mapping import map_columns

DAE_MAPPING = {"lat_coor12": "lat_coor1", "latitude": "lat_coor1", "longitude": "long_coor1"}


def renamed(result) -> dict[str, str]:
    return {p.value: p.field for p in result.problems if p.rule == "column-renamed"}


def test_exact_names_are_mapped_silently(dae):
    result = map_columns(dae.names, dae)
    assert result.rename == {n: n for n in dae.names}
    assert result.unknown == [] and result.missing == [] and result.problems == []


def test_case_and_spaces(dae):
    result = map_columns(["NOM", "long_coor1 ", " Lat_Coor1", "Adr Voie"], dae)
    assert result.rename == {"NOM": "nom", "long_coor1 ": "long_coor1", " Lat_Coor1": "lat_coor1",
                             "Adr Voie": "adr_voie"}
    assert renamed(result) == result.rename
    assert all(p.severity == "warning" and p.row is None for p in result.problems)
    message = next(p.message for p in result.problems if p.value == "NOM")
    assert "« NOM »" in message and "« nom »" in message and "casse" in message


def test_acceslibre_name_case(acceslibre):
    result = map_columns(["Name", "ID", "postal_code"], acceslibre)
    assert result.rename == {"Name": "name", "ID": "id", "postal_code": "postal_code"}


def test_catalogue_mapping_for_misspelt_columns(dae, cycle):
    result = map_columns(["lat_coor12", "long_coor1", "nom"], dae, DAE_MAPPING)
    assert result.rename["lat_coor12"] == "lat_coor1"
    problem = next(p for p in result.problems if p.value == "lat_coor12")
    assert problem.rule == "column-renamed" and "catalogue" in problem.message and problem.field == "lat_coor1"

    cycle_result = map_columns(["acces_ame", "ame_d"], cycle, {"acces_ame": "access_ame"})
    assert cycle_result.rename == {"acces_ame": "access_ame", "ame_d": "ame_d"}
    assert "catalogue" in cycle_result.problems[0].message


def test_catalogue_mapping_ignores_surrounding_spaces(dae):
    result = map_columns(["lat", "long "], dae, {"lat": "lat_coor1", "long": "long_coor1"})
    assert result.rename == {"lat": "lat_coor1", "long ": "long_coor1"}


def test_misspelling_without_catalogue_is_a_fuzzy_guess(dae, cycle):
    result = map_columns(["lat_coor12", "adr_voi"], dae)
    assert result.rename == {"lat_coor12": "lat_coor1", "adr_voi": "adr_voie"}
    assert all("approximatif" in p.message for p in result.problems)
    assert map_columns(["acces_ame"], cycle).rename == {"acces_ame": "access_ame"}


def test_fuzzy_match_must_be_unique(dae):
    # expt_sirett is as close to expt_siret as to expt_siren: no guess
    result = map_columns(["expt_sirett", "zzz"], dae)
    assert result.rename == {} and result.unknown == ["expt_sirett", "zzz"]


def test_dbf_truncated_names(dae, acceslibre):
    result = map_columns(["date_insta", "nom"], dae)  # date_instal has 11 characters
    assert result.rename["date_insta"] == "date_instal"
    assert "10 caractères" in result.problems[0].message and "DBF" in result.problems[0].message
    # cheminemen… starts many acceslibre fields: ambiguous, left alone
    ambiguous = map_columns(["cheminemen"], acceslibre)
    assert ambiguous.rename == {} and ambiguous.unknown == ["cheminemen"]
    # a 10-character name that is a field itself stays exact
    assert map_columns(["dtpr_lcped"], dae).problems == []


def test_two_columns_never_share_a_field(dae):
    result = map_columns(["lat_coor1", "lat_coor12", "NOM", "nom"], dae, DAE_MAPPING)
    assert result.rename == {"lat_coor1": "lat_coor1", "nom": "nom"}
    assert result.unknown == ["lat_coor12", "NOM"]
    conflicts = [p for p in result.problems if p.rule == "column-conflict"]
    assert {(p.value, p.field) for p in conflicts} == {("lat_coor12", "lat_coor1"), ("NOM", "nom")}
    assert all(p.severity == "warning" and "supplémentaire" in p.message for p in conflicts)


def test_exact_match_wins_over_earlier_guess(dae):
    # "Nom" comes first, but the exact "nom" claims the field in the first pass
    result = map_columns(["Nom", "nom"], dae)
    assert result.rename == {"nom": "nom"} and result.unknown == ["Nom"]


def test_unknown_and_missing(dae):
    result = map_columns(["nom", "gid", "c_doublon"], dae)
    assert result.unknown == ["gid", "c_doublon"]
    assert result.missing == [n for n in dae.names if n != "nom"]


def test_catalogue_target_outside_schema_is_reported(dae):
    result = map_columns(["x"], dae, {"x": "champ_inexistant"})
    assert result.rename == {} and result.unknown == ["x"]
    assert result.problems[0].rule == "column-mapping" and "absent du schéma" in result.problems[0].message
