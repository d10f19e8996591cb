"""Personal data never leaves."""

import pandas as pd

from layers.catalogue import RGPDRules
from layers.report import Report
from layers.rgpd import looks_like_person, strip_personal_data


def test_person_detection():
    names = pd.Series(["Dr Jeanne Martin", "Jean DUPONT", "DUPONT Jean", "EI Paul Roux", "Mme Durand",
                       "Mairie de Meylan", "SARL Durand Frères", "Pharmacie du Centre", "Association Sportive",
                       "Decathlon Grenoble", None])
    assert looks_like_person(names).tolist() == [True, True, True, True, True, False, False, False, False, False, False]


def test_strip_drops_columns_blanks_persons_and_scrubs_free_text():
    frame = pd.DataFrame({
        "nom": ["DAE mairie", "DAE cabinet"],
        "tel1": ["+33612345678", "0476000000"],
        "expt_email": ["a@b.fr", "c@d.fr"],
        "photo1": ["http://x/a.jpg", None],
        "expt_rais": ["Commune de Meylan", "Dr Jeanne Martin"],
        "expt_siren": ["213802295", "812345678"],
        "acc_etg": ["RDC, appeler le 06 12 34 56 78", "1er étage, écrire à dr.martin@exemple.fr"],
    })
    rules = RGPDRules(drop=("tel1",), drop_patterns=("e?mail", "^photo"), drop_if_person_test="expt_rais",
                      drop_if_person_fields=("expt_rais", "expt_siren"), scrub_free_text=True, note={})
    report = Report(layer="t", source="f")
    out = strip_personal_data(frame, rules, report, free_text_fields=["acc_etg", "nom"])
    assert set(out.columns) == {"nom", "expt_rais", "expt_siren", "acc_etg"}
    assert out["expt_rais"].tolist() == ["Commune de Meylan", None]
    assert out["expt_siren"].tolist() == ["213802295", None]
    assert "06 12" not in out["acc_etg"].iloc[0] and "[retiré]" in out["acc_etg"].iloc[0]
    assert "@" not in out["acc_etg"].iloc[1]
    assert report.counts["lignes_personne_physique_anonymisees"] == 1
    assert report.counts["textes_libres_expurges"] == 2
