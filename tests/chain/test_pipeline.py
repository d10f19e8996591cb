"""From a raw commune file to a published, RGPD-clean layer — or a report, with nothing half-published."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from layers.errors import PublicationError, ValidationFailed
from layers.pipeline import ingest_file, validate_file


def sha(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_geodae_export_is_published_typed_and_clean(catalogue, store, geodae_csv):
    result = ingest_file(catalogue, store, "defibrillateurs", geodae_csv)
    assert result.published
    counts = result.report.counts
    assert counts["lues"] == 6 and counts["publiables"] == 3 and counts["rejetees"] == 3
    rules = result.report.by_rule()
    assert rules.get("geometry-missing") == 1 and rules.get("outside-territory") == 1 and rules.get("duplicate") == 1
    assert rules.get("enum", 0) >= 1  # "Interieur" is not in the schema's vocabulary

    layer = store.read_layer("defibrillateurs").set_index("id")
    assert sorted(layer.index) == ["SN-001", "SN-002", "SN-006"]
    nice = layer.loc["SN-001"]
    assert nice.geometry.x == pytest.approx(7.2661, abs=1e-6) and nice.geometry.y == pytest.approx(43.7031, abs=1e-6)
    assert nice["com_cp"] == "06000" and nice["com_insee"] == "06088"
    assert bool(nice["acc_lib"]) is True and bool(nice["acc_pcsec"]) is False
    assert list(nice["disp_j"]) == ["lundi", "mardi", "jours fériés"]
    assert list(layer.loc["SN-006", "disp_h"]) == ["heures ouvrables", "heures de nuit"]
    # RGPD: the natural person's name and SIREN are gone, the commune's stay; no phone column, no free-text phone
    assert pd.isna(layer.loc["SN-002", "expt_rais"]) and pd.isna(layer.loc["SN-002", "expt_siren"])
    assert layer.loc["SN-001", "expt_rais"] == "Commune de Nice"
    assert not [c for c in layer.columns if c.startswith(("tel", "expt_tel", "photo")) or "mail" in c]
    assert "acc_complt" not in layer.columns and "disp_complt" not in layer.columns
    assert "gid" not in layer.columns and "doublon" not in layer.columns
    meta = store.metadata("defibrillateurs")
    assert meta["counts"] == {"read": 6, "published": 3, "rejected": 3}
    assert meta["conformance"]["conforms"] is False
    assert meta["source"]["sha256"] == sha(geodae_csv)
    assert meta["licence"]["url"].startswith("https://")


def test_ids_are_stable_across_reingestion(catalogue, store, tmp_path):
    path = tmp_path / "velo.csv"
    path.write_text(
        "id_local,code_com,coordonneesxy,capacite,type_accroche,gratuit\n"
        'A1,38185,"[5.7145295,45.191463]",8,CADRE ET ROUE,1\n'
        ',38185,"[5.72,45.19]",4,ROUE,0\n', encoding="utf-8")
    ingest_file(catalogue, store, "stationnement-velo", path)
    first = store.read_layer("stationnement-velo")["id"].tolist()
    ingest_file(catalogue, store, "stationnement-velo", path)
    assert store.read_layer("stationnement-velo")["id"].tolist() == first
    assert "A1" in first and len(set(first)) == 2


def test_strict_refuses_and_leaves_previous_layer_byte_for_byte(catalogue, store, geodae_csv, tmp_path):
    ok = tmp_path / "ok.csv"
    ok.write_text(
        "id_local,code_com,coordonneesxy,capacite,type_accroche,gratuit\n"
        'A1,38185,"[5.7145295,45.191463]",8,CADRE ET ROUE,1\n', encoding="utf-8")
    ingest_file(catalogue, store, "stationnement-velo", ok, strict=True)
    before = sha(store.path("stationnement-velo"))
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "id_local,code_com,coordonneesxy,capacite,type_accroche,gratuit\n"
        'A1,38185,"[5.7145295,45.191463]",huit,ACCROCHE MAGIQUE,1\n', encoding="utf-8")
    with pytest.raises(ValidationFailed) as info:
        ingest_file(catalogue, store, "stationnement-velo", bad, strict=True)
    assert {p.field for p in info.value.report.errors} >= {"capacite", "type_accroche"}
    assert sha(store.path("stationnement-velo")) == before


def test_injected_failure_mid_publication_leaves_previous_layer(catalogue, store, geodae_csv):
    ingest_file(catalogue, store, "defibrillateurs", geodae_csv)
    before = sha(store.path("defibrillateurs"))

    def boom():
        raise OSError("disque plein (simulé)")

    with pytest.raises(PublicationError):
        ingest_file(catalogue, store, "defibrillateurs", geodae_csv, fail_after_write=boom)
    assert sha(store.path("defibrillateurs")) == before
    assert not [p for p in store.path("defibrillateurs").parent.iterdir() if "tmp" in p.name]


def test_nothing_publishable_is_refused(catalogue, store, tmp_path):
    path = tmp_path / "vide.csv"
    path.write_text("id_local,coordonneesxy,capacite,type_accroche\nA1,,8,ROUE\n", encoding="utf-8")
    with pytest.raises(PublicationError, match="aucune ligne publiable"):
        ingest_file(catalogue, store, "stationnement-velo", path)
    assert store.metadata("stationnement-velo") is None


def test_validate_reports_row_field_value_rule(catalogue, geodae_csv):
    report = validate_file(catalogue, "defibrillateurs", geodae_csv)
    enum = [p for p in report.problems if p.rule == "enum" and p.field == "acc"]
    assert enum and enum[0].row == 7 and enum[0].value == "Interieur"
    assert "ERREUR" in report.to_text() and '"rule": "enum"' in report.to_json()


def test_messy_values_are_typed(catalogue, store, tmp_path):
    path = tmp_path / "velo.csv"
    path.write_text(
        "id_local;code_com;coordonneesxy;capacite;type_accroche;gratuit;couverture;commentaires\n"
        '6.0;1053;"[5.2250,46.2050]";8,0;ROUE;VRAI;0;Appeler M. Dupont au 06 12 34 56 78\n'
        '7.0;01053;"[5.2260,46.2060]";4;CADRE;FAUX;1;\n', encoding="utf-8")
    result = ingest_file(catalogue, store, "stationnement-velo", path)
    layer = store.read_layer("stationnement-velo").set_index("id")
    assert sorted(layer.index) == ["6", "7"]
    assert layer.loc["6", "code_com"] == "01053"  # INSEE code padded back
    assert int(layer.loc["6", "capacite"]) == 8
    assert layer["gratuit"].tolist() == [True, False] and layer["couverture"].tolist() == [False, True]
    assert "commentaires" not in layer.columns  # free text dropped by the layer's RGPD rule
    assert "float-id" in result.report.by_rule() and "code-padded" in result.report.by_rule()


def test_commune_file_with_phones_and_emails_publishes_none(catalogue, store, tmp_path):
    from layers.demo import write_demo
    import re

    write_demo(tmp_path / "demo")
    result = ingest_file(catalogue, store, "defibrillateurs", tmp_path / "demo" / "defibrillateurs-commune.csv")
    assert result.published
    layer = store.read_layer("defibrillateurs")
    assert not [c for c in layer.columns if re.search(r"tel|mail|photo|complt", c)]
    from layers.rgpd import EMAIL, PHONE

    values = [str(v) for v in layer.drop(columns="geometry").to_numpy().ravel()]
    assert not [v for v in values if PHONE.search(v) or EMAIL.search(v)]


def test_catalogue_indexes_are_built_in_the_published_file(catalogue, store, geodae_csv):
    import sqlite3

    ingest_file(catalogue, store, "defibrillateurs", geodae_csv)
    with sqlite3.connect(store.path("defibrillateurs")) as conn:
        names = {row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'defibrillateurs'")}
    wanted = catalogue.layer("defibrillateurs").indexes
    assert {f"idx_defibrillateurs_{name}" for name in wanted} <= names
    assert store.metadata("defibrillateurs")["indexes"] == list(wanted)
    grenoble = store.query("defibrillateurs", properties={"com_nom": "Grenoble"})
    assert sorted(grenoble.ids) == ["SN-002", "SN-006"] and grenoble.number_matched == 2


def test_an_indexed_column_absent_from_the_file_is_noted_not_fatal(catalogue, store, tmp_path):
    path = tmp_path / "velo.csv"  # no "mobilier" nor "acces" column (both optional)
    path.write_text(
        "id_local,code_com,coordonneesxy,capacite,type_accroche,gratuit\n"
        'A1,38185,"[5.7145295,45.191463]",8,CADRE ET ROUE,1\n', encoding="utf-8")
    result = ingest_file(catalogue, store, "stationnement-velo", path)
    assert store.metadata("stationnement-velo")["indexes"] == ["code_com", "type_accroche"]
    assert any("Index non créé" in note and "« mobilier »" in note and "« acces »" in note
               for note in result.report.notes)
