"""Our vectorised validator agrees with frictionless, the reference Table Schema validator.

Each case runs both on the same CSV file, frictionless with the corrected descriptor
(``NationalSchema.raw``), and compares the (row, field, rule) sets. Each case also pins
the expected set, so that agreement cannot come from both finding nothing.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from validation_helpers import SCHEMAS, frictionless_errors, our_errors, read_csv, write_csv
from dae_factory import dae_rows


def agree(path: Path, schema) -> set:
    ours = our_errors(path, schema)
    reference = frictionless_errors(path, schema.raw)
    assert ours == reference, f"ours only: {ours - reference} ; frictionless only: {reference - ours}"
    return ours


# -- official examples --------------------------------------------------------------------
@pytest.mark.parametrize("schema_name, example", [
    ("acceslibre", "acceslibre/0.0.20/base/exemple.csv"),
    ("stationnement", "stationnement-cyclable/1.1.1/exemple-valide.csv"),
])
def test_official_examples_are_valid_for_both(request, schema_name, example):
    schema = request.getfixturevalue(schema_name)
    assert agree(SCHEMAS / example, schema) == set()


def test_all_acceslibre_examples_are_valid_with_their_own_schema(tmp_path):
    from layers.catalogue import SchemaRef
    from layers.schemas import load_schema

    for folder in sorted((SCHEMAS / "acceslibre/0.0.20").iterdir()):
        if folder.is_dir():
            schema = load_schema(SchemaRef(folder.name, "0.0.20", "table-schema", folder / "schema.json"))
            assert agree(folder / "exemple.csv", schema) == set(), folder.name


# -- DAE ---------------------------------------------------------------------------------------
def test_dae_valid_rows(tmp_path, dae):
    assert agree(write_csv(tmp_path / "dae.csv", dae_rows(4)), dae) == set()


def test_dae_invalid_cells(tmp_path, dae):
    rows = dae_rows(5)
    rows[1].update(lat_coor1="48,85", acc="Interieur", acc_lib="Oui", com_cp="7500")  # line 3
    rows[2].update(nom="", long_coor1="200", date_instal="30/09/2019", tel2="01 02 03 04 05",
                   disp_j="lundi,mardi")  # line 4
    rows[3].update(num_serie=rows[0]["num_serie"], lat_coor1="-95", site_email="pas-un-mail",
                   photo1="www.monsite.com/a.jpg", etat_fonct="", dermnt="2021-02-29")  # line 5
    rows[4].update(expt_email="", tel1="0102030405", etat="actif", fab_siren="12345678",
                   disp_h="non renseigné", acc_pcsec="oui")  # line 6: national phone now accepted
    found = agree(write_csv(tmp_path / "dae.csv", rows), dae)
    assert found == {
        (3, "lat_coor1", "type"), (3, "acc", "enum"), (3, "acc_lib", "type"), (3, "com_cp", "pattern"),
        (4, "nom", "required"), (4, "long_coor1", "maximum"), (4, "date_instal", "type"),
        (4, "tel2", "pattern"), (4, "disp_j", "pattern"),
        (5, "num_serie", "unique"), (5, "lat_coor1", "minimum"), (5, "site_email", "type"),
        (5, "photo1", "type"), (5, "etat_fonct", "required"), (5, "dermnt", "type"),
        (6, "expt_email", "required"), (6, "etat", "enum"), (6, "fab_siren", "pattern"),
    }


def test_dae_missing_required_columns(tmp_path, dae):
    rows = dae_rows(2)
    columns = [c for c in rows[0] if c not in ("modele", "expt_rais", "etat", "photo2")]
    found = agree(write_csv(tmp_path / "dae.csv", rows, columns), dae)
    # one problem per missing *required* field; etat and photo2 are optional
    assert found == {(None, "modele", "missing-column"), (None, "expt_rais", "missing-column")}


# -- stationnement cyclable -------------------------------------------------------------------
def test_stationnement_invalid_cells(tmp_path, stationnement):
    example = read_csv(SCHEMAS / "stationnement-cyclable/1.1.1/exemple-valide.csv").iloc[0].to_dict()
    rows = [dict(example, id_local=f"S{i}") for i in range(7)]
    rows[1].update(coordonneesxy="[5.7145295;45.191463]", capacite="8.5")  # line 3
    rows[2].update(coordonneesxy="[200,45.19]", type_accroche="roue", gratuit="oui")  # line 4
    rows[3].update(id_local="S0", code_com="3818", date_maj="2020-13-01")  # line 5
    rows[4].update(id_local="", capacite="", mobilier="arceau")  # line 6
    rows[5].update(coordonneesxy=" [5.72, 45.19] ", gratuit="VRAI", capacite_cargo="-2")  # line 7: valid
    rows[6].update(code_com="2A004", url_info="pas une adresse", d_service="2017.0")  # line 8
    found = agree(write_csv(tmp_path / "velo.csv", rows), stationnement)
    assert found == {
        (3, "coordonneesxy", "type"), (3, "capacite", "type"),
        (4, "coordonneesxy", "type"), (4, "type_accroche", "enum"), (4, "gratuit", "type"),
        (5, "id_local", "unique"), (5, "code_com", "pattern"), (5, "date_maj", "type"),
        (6, "id_local", "required"), (6, "capacite", "required"), (6, "mobilier", "enum"),
        (8, "url_info", "type"), (8, "d_service", "type"),
    }


def test_stationnement_official_example_keeps_its_newline(tmp_path, stationnement):
    copy = shutil.copy(SCHEMAS / "stationnement-cyclable/1.1.1/exemple-valide.csv", tmp_path / "ex.csv")
    assert read_csv(Path(copy)).loc[0, "coordonneesxy"].endswith("\n")
    assert agree(Path(copy), stationnement) == set()


# -- acceslibre (after the load-time corrections) -------------------------------------------------
def test_acceslibre_invalid_cells(tmp_path, acceslibre):
    base = read_csv(SCHEMAS / "acceslibre/0.0.20/base/exemple.csv")
    rows = [dict(base.iloc[i].to_dict()) for i in range(4)]
    rows[0].update(latitude="95", longitude="-190", activite="Mairie")  # line 2: only the fixed ranges catch these
    rows[1].update(activite="Marie", labels='["th", "foo"]', entree_marches="2.5")  # line 3
    rows[2].update(id=rows[0]["id"], labels="th|dpt", conformite="peut-être", siret="123")  # line 4
    rows[3].update(postal_code=None, site_internet="www.monsite.fr",
                   accueil_audiodescription='["avec_app"]', entree_dispositif_appel_type='["sonnette"]')  # line 5
    found = agree(write_csv(tmp_path / "erp.csv", rows, list(base.columns)), acceslibre)
    assert found == {
        (2, "latitude", "maximum"), (2, "longitude", "minimum"),
        (3, "activite", "enum"), (3, "labels", "enum"), (3, "entree_marches", "type"),
        (4, "id", "unique"), (4, "labels", "type"), (4, "conformite", "type"), (4, "siret", "pattern"),
        (5, "postal_code", "required"), (5, "site_internet", "type"), (5, "entree_dispositif_appel_type", "enum"),
    }


# -- SCDL équipements (lengths, bounds, \\u escapes in patterns) -----------------------------------
SCDL_ROW = {
    "COLL_NOM": "Commune de Démo", "COLL_SIRET": "21010053400011", "EQUIP_UID": "01053-20240101-001",
    "EQUIP_THEME": "Equipement culturel", "EQUIP_CODE": "BIB", "EQUIP_TYPE": "Bibliothèque",
    "EQUIP_NOM": "Médiathèque", "ADR_NUMERO": "1", "ADR_NOMVOIE": "Rue de l'Église",
    "ADR_CODEPOSTAL": "01000", "ADR_COMMUNE": "Bourg-en-Bresse", "ADR_CLE_INTEROP": "01053_0420_00001",
    "ERP_ID": "", "ERP_TYPE": "S", "ERP_CATEGORIE": "3", "EQUIP_LAT": "46.2", "EQUIP_LONG": "5.22",
    "EQUIP_OUVERTURE": "", "EQUIP_TEL": "0474000000", "EQUIP_EMAIL": "mediatheque@bourg.fr",
    "EQUIP_WEB": "https://bourg.fr",
}


def test_scdl_lengths_bounds_and_unicode_patterns(tmp_path, scdl):
    rows = [dict(SCDL_ROW) for _ in range(4)]
    rows[1].update(EQUIP_UID="01053-20240101-0011", ADR_NOMVOIE="Ru", ERP_CATEGORIE="6")  # line 3
    rows[2].update(ADR_COMMUNE="Paris 12", ERP_CATEGORIE="0", ADR_CLE_INTEROP="0105")  # line 4
    rows[3].update(ADR_COMMUNE="Saint-Étienne", EQUIP_THEME="Culture")  # line 5: É is in \u00C0-\u00FF
    found = agree(write_csv(tmp_path / "equip.csv", rows), scdl)
    assert found == {
        (3, "EQUIP_UID", "max-length"), (3, "EQUIP_UID", "pattern"), (3, "ADR_NOMVOIE", "min-length"),
        (3, "ERP_CATEGORIE", "maximum"),
        (4, "ADR_COMMUNE", "pattern"), (4, "ERP_CATEGORIE", "minimum"), (4, "ADR_CLE_INTEROP", "min-length"),
        (5, "EQUIP_THEME", "enum"),
    }


# -- the published defects, shown by frictionless itself on the uncorrected files -------------------
def test_uncorrected_acceslibre_lets_out_of_range_latitude_through(tmp_path, acceslibre):
    import json

    base = read_csv(SCHEMAS / "acceslibre/0.0.20/base/exemple.csv")
    row = dict(base.iloc[0].to_dict(), latitude="95", activite="Marie", labels='["foo"]')
    path = write_csv(tmp_path / "erp.csv", [row], list(base.columns))
    published = json.loads((SCHEMAS / "acceslibre/0.0.20/base/schema.json").read_text(encoding="utf-8"))
    assert frictionless_errors(path, published) == set()  # the published file checks none of these
    assert our_errors(path, acceslibre) == {(2, "latitude", "maximum"), (2, "activite", "enum"),
                                            (2, "labels", "enum")}


def test_uncorrected_dae_rejects_national_phone_numbers(tmp_path, dae):
    import json

    rows = dae_rows(1)
    rows[0].update(tel1="0102030405", tel2="+33102030405")
    path = write_csv(tmp_path / "dae.csv", rows)
    published = json.loads((SCHEMAS / "dae/1.0.7/schema.json").read_text(encoding="utf-8"))
    assert frictionless_errors(path, published) == {(2, "tel1", "pattern")}
    assert our_errors(path, dae) == set()
