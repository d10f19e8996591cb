"""Loading the national schemas: FieldSpecs, visible defect corrections, clear errors, offline $ref."""

from __future__ import annotations

import json
import os
import re
import shutil

import jsonschema
import pytest
from referencing.exceptions import Unresolvable

from validation_helpers import ACCESLIBRE, CYCLE, DAE, SCDL, SCHEMAS, STATIONNEMENT
from layers.catalogue import SchemaRef, load_catalogue
from layers.errors import SchemaError
from layers.schemas import GEOJSON_SCHEMA_DIR, geojson_registry, load_schema
from layers.settings import CONFIG_DIR


def test_every_catalogue_schema_loads():
    catalogue = load_catalogue(CONFIG_DIR / "catalogue.yaml")
    for layer in catalogue.layers:
        schema = load_schema(layer.schema)
        assert schema.kind == layer.schema.kind and schema.fields
        assert (schema.name, schema.version) == (layer.schema.name, layer.schema.version)


def test_scdl_and_every_acceslibre_table_load():
    assert len(load_schema(SCDL).fields) == 21
    for folder in sorted((SCHEMAS / "acceslibre/0.0.20").iterdir()):
        if folder.is_dir():
            assert load_schema(SchemaRef(folder.name, "0.0.20", "table-schema", folder / "schema.json")).fields


def test_load_is_cached_and_refreshed_when_the_file_changes(tmp_path):
    copy = tmp_path / "schema.json"
    shutil.copy(DAE.path, copy)
    ref = SchemaRef("dae", "1.0.7", "table-schema", copy)
    first = load_schema(ref)
    assert load_schema(ref) is first
    os.utime(copy, ns=(1, 1))
    assert load_schema(ref) is not first


def test_dae_fields(dae):
    assert len(dae.fields) == 46 and dae.defects
    lat = dae.field("lat_coor1")
    assert (lat.type, lat.required, lat.minimum, lat.maximum) == ("number", True, -90.0, 90.0)
    assert dae.field("acc_lib").true_values == ("oui",) and dae.field("acc_lib").false_values == ("non",)
    assert dae.field("acc").enum == ("Intérieur", "Extérieur")
    assert dae.field("num_serie").unique and dae.field("photo1").format == "uri"
    assert dae.field("date_instal").type == "date" and dae.primary_key == []


def test_dae_phone_defect_is_fixed_and_listed(dae):
    pattern = dae.field("tel1").pattern
    assert re.fullmatch(pattern, "0102030405") and re.fullmatch(pattern, "+33102030405")
    assert not re.fullmatch(pattern, "01 02 03 04 05") and not re.fullmatch(pattern, "102030405")
    note = next(d for d in dae.defects if "0XXXXXXXXX" in d)
    assert all(f"« {name} »" in note for name in ("tel1", "tel2", "expt_tel1", "expt_tel2"))
    published = json.loads(DAE.path.read_text(encoding="utf-8"))
    assert not re.fullmatch(published["fields"][20]["constraints"]["pattern"], "0102030405")  # file untouched


def test_acceslibre_defects_are_fixed_and_listed(acceslibre):
    lat, lon = acceslibre.field("latitude"), acceslibre.field("longitude")
    assert (lat.minimum, lat.maximum) == (-90.0, 90.0) and (lon.minimum, lon.maximum) == (-180.0, 180.0)
    activite = acceslibre.field("activite")
    assert activite.type == "string" and "Mairie" in activite.enum and activite.item_enum is None
    assert acceslibre.field("labels").item_enum == ("autre", "dpt", "mobalib", "th", "handiplage")
    assert acceslibre.primary_key == ["id"] and acceslibre.field("id").unique
    text = "\n".join(acceslibre.defects)
    assert "contraints" in text and "-90..90" in text and "-180..180" in text
    assert "« activite »" in text and "arrayItem.enum" in text
    assert "contraints" not in json.dumps(acceslibre.raw)  # raw is the corrected descriptor


def test_acceslibre_sante_example_values_are_accepted():
    sante = load_schema(SchemaRef("sante", "0.0.20", "table-schema",
                                  SCHEMAS / "acceslibre/0.0.20/sante/schema.json"))
    assert {"mental_psychique", "psychique", "cognitif"} <= set(sante.field("accueil_soignant_experience").item_enum)
    assert any("accueil_soignant_experience" in d and "psychique" in d for d in sante.defects)


def test_stationnement_fields_and_defects(stationnement):
    point = stationnement.field("coordonneesxy")
    assert (point.type, point.format, point.required) == ("geopoint", "array", True)
    assert stationnement.primary_key == ["id_local"]  # a string in the file
    assert "1" in stationnement.field("gratuit").true_values and "0" in stationnement.field("gratuit").false_values
    assert any("exemple-valide.csv" in d and "saut de ligne" in d for d in stationnement.defects)


def test_cycle_fields_from_json_schema(cycle):
    assert cycle.kind == "json-schema" and len(cycle.fields) == 30
    assert {f.name for f in cycle.fields if f.required} == {"id_local", "code_com_d", "code_com_g", "ame_d", "ame_g"}
    assert cycle.field("largeur_d").type == "number" and cycle.field("trafic_vit").type == "integer"
    assert cycle.field("lumiere").type == "boolean" and cycle.field("date_maj").type == "date"
    nom_loc = cycle.field("nom_loc")
    assert (nom_loc.type, nom_loc.item_type) == ("array", "string")
    assert "VOIE VERTE" in cycle.field("ame_d").enum


def test_cycle_defects_are_fixed_and_listed(cycle):
    pattern = cycle.field("code_com_d").pattern
    assert pattern.endswith("$") and re.search(pattern, "75107") and not re.search(pattern, "75107X")
    properties = cycle.raw["properties"]["features"]["items"]["properties"]["properties"]["properties"]
    assert properties["code_com_g"]["pattern"].endswith("$")
    text = "\n".join(cycle.defects)
    assert "« code_com_d », « code_com_g »" in text and "https://geojson.org/schema/FeatureCollection.json" in text
    assert "Draft 7" in text and "0.3.4" in text and "LineString" in text


@pytest.mark.parametrize("ref", [DAE, ACCESLIBRE, STATIONNEMENT, SCDL, CYCLE], ids=lambda r: r.name)
def test_defects_are_french_sentences(ref):
    for defect in load_schema(ref).defects:
        assert defect[0].islower() or defect[0].isupper()
        assert defect.endswith(".") and len(defect) > 30


# -- our GeoJSON schema, offline ----------------------------------------------------------------
def test_feature_collection_schema_is_valid_draft7_and_registered():
    document = json.loads((GEOJSON_SCHEMA_DIR / "FeatureCollection.json").read_text(encoding="utf-8"))
    jsonschema.Draft7Validator.check_schema(document)
    resolved = geojson_registry().resolver().lookup("https://geojson.org/schema/FeatureCollection.json")
    assert resolved.contents["$id"] == document["$id"]
    with pytest.raises(Unresolvable):  # nothing is fetched from the network
        geojson_registry().resolver().lookup("https://geojson.org/schema/Unknown.json")


def test_feature_collection_schema_follows_rfc7946():
    document = json.loads((GEOJSON_SCHEMA_DIR / "FeatureCollection.json").read_text(encoding="utf-8"))
    validator = jsonschema.Draft7Validator(document)
    line = {"type": "LineString", "coordinates": [[2.3, 48.8], [2.31, 48.81]]}
    good = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": line, "properties": {"a": 1}, "id": 3},
        {"type": "Feature", "geometry": None, "properties": None},
        {"type": "Feature", "properties": {}, "geometry": {"type": "GeometryCollection", "geometries": [line]}},
    ], "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:OGC:1.3:CRS84"}}}
    assert list(validator.iter_errors(good)) == []
    bad = [
        {"type": "FeatureCollection"},  # no features
        {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": None}]},  # no properties
        {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "LineString", "coordinates": [[2.3, 48.8]]}}]},
        {"type": "FeatureCollection", "features": [
            {"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": ["2.3", 48.8]}}]},
        {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": None, "id": [1]}]},
        {"type": "FeatureCollection", "features": [], "bbox": [1, 2]},
    ]
    for document in bad:
        assert list(validator.iter_errors(document)), document


def test_cycle_schema_validates_the_official_example_offline(cycle):
    from layers.schemas import json_schema_validator_class

    example = json.loads((SCHEMAS / "amenagements-cyclables/0.3.5/exemple-valide.json").read_text(encoding="utf-8"))
    cls = json_schema_validator_class(cycle.raw)
    assert cls is jsonschema.Draft7Validator
    validator = cls(cycle.raw, registry=geojson_registry(), format_checker=cls.FORMAT_CHECKER)
    assert list(validator.iter_errors(example)) == []
    example["type"] = "Feature"  # the $ref to FeatureCollection is really applied
    assert [e.validator for e in validator.iter_errors(example)] == ["enum"]


# -- broken files ---------------------------------------------------------------------------
def _ref(path, kind="table-schema"):
    return SchemaRef("essai", "1.0", kind, path)


@pytest.mark.parametrize("content, words", [
    ('{"fields": [', "JSON invalide"),
    ("[1, 2]", "objet JSON"),
    ('{"name": "x"}', "fields"),
    ('{"fields": [{"type": "string"}]}', "sans nom"),
    ('{"fields": [{"name": "a", "type": "texte"}]}', "type « texte »"),
    ('{"fields": [{"name": "a", "constraints": {"pattern": "(["}}]}', "expression régulière"),
    ('{"fields": [{"name": "a"}, {"name": "a"}]}', "deux fois"),
    ('{"fields": [{"name": "a"}], "primaryKey": "b"}', "clé primaire"),
    ('{"fields": [{"name": "a", "type": "number", "constraints": {"minimum": "bas"}}]}', "minimum"),
])
def test_broken_table_schema_raises_schema_error_in_french(tmp_path, content, words):
    path = tmp_path / "schema.json"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema(_ref(path))
    assert words in info.value.message and info.value.file == str(path)


def test_broken_json_reports_its_line(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text('{\n  "fields": [\n    {"name": "a",}\n  ]\n}', encoding="utf-8")
    with pytest.raises(SchemaError) as info:
        load_schema(_ref(path))
    assert info.value.line == 3 and str(path) in str(info.value)


def test_missing_file_and_unknown_kind(tmp_path):
    with pytest.raises(SchemaError, match="introuvable"):
        load_schema(_ref(tmp_path / "absent.json"))
    path = tmp_path / "schema.json"
    path.write_text('{"fields": [{"name": "a"}]}', encoding="utf-8")
    with pytest.raises(SchemaError, match="type de schéma inconnu"):
        load_schema(_ref(path, "xml-schema"))


def test_json_schema_with_unresolvable_ref_fails_offline(tmp_path):
    document = json.loads(CYCLE.path.read_text(encoding="utf-8"))
    document["allOf"][0]["$ref"] = "https://example.org/schema/Ailleurs.json"
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SchemaError, match="hors ligne"):
        load_schema(_ref(path, "json-schema"))


def test_json_schema_without_feature_properties(tmp_path):
    path = tmp_path / "schema.json"
    path.write_text('{"type": "object"}', encoding="utf-8")
    with pytest.raises(SchemaError, match="introuvables"):
        load_schema(_ref(path, "json-schema"))


def test_invalid_json_schema(tmp_path):
    document = json.loads(CYCLE.path.read_text(encoding="utf-8"))
    document["properties"]["features"]["type"] = "tableau"
    path = tmp_path / "schema.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(SchemaError, match="JSON Schema invalide"):
        load_schema(_ref(path, "json-schema"))
