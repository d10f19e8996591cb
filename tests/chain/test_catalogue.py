"""The layer catalogue loads, and a malformed one gets a clear error naming the entry."""

from pathlib import Path

import pytest
import yaml

from layers.catalogue import load_catalogue
from layers.errors import CatalogueError, UnknownLayerError
from layers.settings import CONFIG_DIR

CATALOGUE = CONFIG_DIR / "catalogue.yaml"


def test_shipped_catalogue_declares_the_four_layers():
    cat = load_catalogue(CATALOGUE)
    assert cat.ids == ["defibrillateurs", "amenagements-cyclables", "lieux-accessibles", "stationnement-velo"]
    dae = cat.layer("defibrillateurs")
    assert dae.schema.version == "1.0.7" and dae.schema.path.is_file()
    assert dae.licence.url.startswith("https://")
    assert dae.title["fr"] and dae.title["en"] and dae.description["en"]
    assert dae.rgpd.drops("tel1") and dae.rgpd.drops("expt_email") and dae.rgpd.drops("photo2")
    assert not dae.rgpd.drops("nom")
    assert cat.layer("amenagements-cyclables").licence.spdx == "ODbL-1.0"
    assert dae.frequency_label == {"fr": "mensuelle", "en": "monthly"}


def test_unknown_layer_names_the_known_ones():
    with pytest.raises(UnknownLayerError, match="defibrillateurs"):
        load_catalogue(CATALOGUE).layer("piscines")


def _write(tmp_path: Path, mutate) -> Path:
    raw = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    mutate(raw)
    for layer in raw["layers"]:
        layer["schema"]["path"] = str(CONFIG_DIR / layer["schema"]["path"])
    path = tmp_path / "catalogue.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("mutate,expected", [
    (lambda c: c["layers"][0].pop("licence"), r"layers\[0\].*licence"),
    (lambda c: c["layers"][1]["title"].pop("en"), r"layers\[1\]\.title.*en"),
    (lambda c: c["layers"][0].update(licence="cc-by"), "licence « cc-by »"),
    (lambda c: c["layers"][2].update(id="defibrillateurs"), "identifiant en double"),
    (lambda c: c["layers"][0]["schema"].update(path="nulle/part.json"), "schéma introuvable"),
    (lambda c: c["layers"][0].update(adapter="inexistant"), "inexistant"),
    (lambda c: c["layers"][0].update(update_frequency="parfois"), "update_frequency"),
    (lambda c: c["layers"][0]["rgpd"].update(drop_patterns=["(tel"]), "expression régulière"),
    (lambda c: c["territory"].update(bboxes=[[10, 50, 0, 40]]), "emprise invalide"),
    (lambda c: c["layers"][0].update(indexes=["com_nom", "com_nom"]), r"indexes.*non-unique"),
    (lambda c: c["layers"][0].update(indexes="com_nom"), r"indexes.*array"),
])
def test_malformed_catalogue(tmp_path, mutate, expected):
    with pytest.raises(CatalogueError, match=expected) as info:
        load_catalogue(_write(tmp_path, mutate))
    assert "catalogue.yaml" in str(info.value)


def test_unreadable_yaml_names_the_line(tmp_path):
    path = tmp_path / "catalogue.yaml"
    path.write_text("publisher:\n  name: x\nlayers: [\n", encoding="utf-8")
    with pytest.raises(CatalogueError, match="ligne"):
        load_catalogue(path)


def test_missing_catalogue(tmp_path):
    with pytest.raises(CatalogueError, match="introuvable"):
        load_catalogue(tmp_path / "absent.yaml")


def test_shipped_catalogue_indexes_the_fields_people_filter_on():
    cat = load_catalogue(CATALOGUE)
    assert {"com_insee", "com_nom", "com_cp", "etat_fonct", "acc"} <= set(cat.layer("defibrillateurs").indexes)
    assert all(layer.indexes for layer in cat.layers)


@pytest.mark.parametrize("layer,name,expected", [
    (0, "comnom", r"« comnom » n'est pas un champ publié de la couche \(schéma schema-dae 1\.0\.7\) ; "
                  r"champs possibles : .*com_nom"),
    (0, "tel1", "« tel1 » est retiré avant publication"),  # RGPD
    (0, "expt_email", "« expt_email » est retiré avant publication"),  # RGPD, by pattern
    (0, "lat_coor1", "« lat_coor1 » est une coordonnée"),
    (0, "disp_j", "« disp_j » est une liste"),
    (0, "id", "« id » est l'identifiant des entités"),
    (1, "comm", "« comm » est retiré avant publication"),
    (2, "id", "« id » est l'identifiant des entités"),  # acceslibre's own id is the feature id
])
def test_index_on_a_field_the_layer_does_not_publish(tmp_path, layer, name, expected):
    def mutate(c):
        c["layers"][layer]["indexes"] = [c["layers"][layer]["indexes"][0], name]

    with pytest.raises(CatalogueError, match=expected) as info:
        load_catalogue(_write(tmp_path, mutate))
    message = str(info.value)
    assert "catalogue.yaml" in message and f"layers[{layer}] (" in message and info.value.field == "indexes"
