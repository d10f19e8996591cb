"""Raw files as communes really publish them, written fresh for each test."""

from __future__ import annotations

from pathlib import Path

import pytest

from layers.catalogue import load_catalogue
from layers.settings import CONFIG_DIR, Settings
from layers.store import open_store

GEODAE_HEADER = (
    "c_gid;c_nom;c_lat_coor1;c_long_coor1;c_adr_num;c_adr_voie;c_com_cp;c_com_insee;c_com_nom;c_acc;c_acc_lib;"
    "c_acc_pcsec;c_acc_acc;c_acc_etg;c_acc_complt;c_disp_j;c_disp_h;c_disp_complt;c_date_instal;c_etat_fonct;"
    "c_fab_rais;c_modele;c_num_serie;c_dermnt;c_expt_siren;c_expt_rais;c_doublon"
)
GEODAE_ROWS = [
    # a clean row: commune operator, Nice postal code with its leading zero
    '1;DAE Mairie;43,7031;7,2661;1;Place du Pin;06000;06088;Nice;Intérieur;t;f;t;RDC;Hall, tél. 04 93 00 00 00;{lundi,mardi,"jours fériés"};{"heures ouvrables"};;2020-01-15;En fonctionnement;Zoll;AED Plus;SN-001;2024-03-01;213800000;Commune de Nice;f',
    # operator is a natural person: name and SIREN must not be published
    '2;DAE Cabinet médical;45.1885;5.7245;3;Rue Félix Poulat;38000;38185;Grenoble;Extérieur;t;f;f;;;{7j/7};{24h/24};;;En fonctionnement;Schiller;Fred PA-1;SN-002;2024-02-01;812345678;Dr Jeanne Martin;f',
    # duplicate flagged by the export
    '3;DAE Cabinet médical bis;45.1885;5.7245;3;Rue Félix Poulat;38000;38185;Grenoble;Extérieur;t;f;f;;;{7j/7};{24h/24};;;En fonctionnement;Schiller;Fred PA-1;SN-003;2024-02-01;812345678;SARL Santé;t',
    # no coordinates at all
    '4;DAE sans position;;;;;38000;38185;Grenoble;Intérieur;f;f;f;;;{lundi};{"heures ouvrables"};;;Hors service;Zoll;AED 3;SN-004;2023-01-01;213800000;Commune;f',
    # outside the territory (Atlantic)
    '5;DAE en mer;30.0;-30.0;;;38000;38185;Grenoble;Intérieur;f;f;f;;;{lundi};{"heures ouvrables"};;;En fonctionnement;Zoll;AED 3;SN-005;2023-01-01;213800000;Commune;f',
    # schema problem only (bad enum), still publishable in lenient mode
    '6;DAE Gymnase;45.19;5.73;;;38000;38185;Grenoble;Interieur;t;f;f;;;{lundi,mardi};{"heures ouvrables","heures de nuit"};;;En fonctionnement;Zoll;AED 3;SN-006;2023-06-01;213800000;Ville de Grenoble;f',
]


@pytest.fixture
def catalogue():
    return load_catalogue(CONFIG_DIR / "catalogue.yaml")


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(data_dir=tmp_path / "data", catalogue=CONFIG_DIR / "catalogue.yaml", store="",
                    demo_dir=tmp_path / "demo")


@pytest.fixture
def store(settings):
    return open_store(settings)


@pytest.fixture
def geodae_csv(tmp_path) -> Path:
    path = tmp_path / "geodae.csv"
    path.write_bytes(("\r\n".join([GEODAE_HEADER, *GEODAE_ROWS])).encode("utf-8"))  # CRLF, no trailing newline
    return path
