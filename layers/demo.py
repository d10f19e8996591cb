"""Demonstration data: the raw files a small intercommunalité would actually publish.

``write_demo(out_dir)`` writes, from a seed, one raw file per catalogue layer for the
fictitious « Communauté de communes du Val de Démonstration », made of twelve real
communes around Bourg-en-Bresse (Ain, 01: INSEE and postal codes with a leading zero):

- ``defibrillateurs-geodae.csv``: the national Géo'DAE export form (``c_`` prefix, ``;``,
  ``t``/``f``, PostgreSQL arrays, ``c_doublon``), with the usual mess: decimal commas,
  missing coordinates, one point outside the territory, natural persons as operators;
- ``defibrillateurs-commune.csv`` (extra, not returned): a commune's own file in plain
  DAE schema form, with phone numbers and e-mails for the RGPD rules to strip;
- ``amenagements-cyclables-l93.gpkg``: cycle-schema LineStrings in Lambert-93;
- ``lieux-accessibles.csv``: an acceslibre export (quoted cells, ``True``/``False``, JSON arrays);
- ``stationnement-velo.csv``: bicycle parking, ``coordonneesxy`` = ``"[lon,lat]"``, ``1``/``0``.

Everything is invented except the communes (names, codes, approximate centres).
Same seed, same bytes. ``python -m layers.demo [--out DIR] [--seed N]``.
"""

from __future__ import annotations

import argparse
import csv
import json
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely
from pyproj import Transformer

from .settings import CONFIG_DIR, load_settings

DEMO = "(démo)"
TERRITORY = "Communauté de communes du Val de Démonstration"
SOURCE = f"{TERRITORY} {DEMO}"
FILES = {
    "defibrillateurs": "defibrillateurs-geodae.csv",
    "amenagements-cyclables": "amenagements-cyclables-l93.gpkg",
    "lieux-accessibles": "lieux-accessibles.csv",
    "stationnement-velo": "stationnement-velo.csv",
}
COMMUNE_DAE_FILE = "defibrillateurs-commune.csv"  # extra DAE file with contacts (RGPD)
GPKG_LAYER = "amenagements_cyclables"
# GeoPackage timestamps come from this instead of the clock, so the bytes are reproducible.
GPKG_FIXED_DATE = "2025-01-01T00:00:00.000Z"

# name, INSEE code, postal code, latitude, longitude (approximate centre), population
COMMUNES = [
    ("Bourg-en-Bresse", "01053", "01000", 46.2052, 5.2255, 41_500),
    ("Péronnas", "01289", "01960", 46.1786, 5.2102, 6_600),
    ("Saint-Denis-lès-Bourg", "01344", "01000", 46.2022, 5.1893, 5_700),
    ("Viriat", "01451", "01440", 46.2539, 5.2155, 6_300),
    ("Attignat", "01024", "01340", 46.2866, 5.1591, 3_300),
    ("Polliat", "01301", "01310", 46.2487, 5.1296, 2_600),
    ("Buellas", "01065", "01310", 46.2090, 5.1366, 1_800),
    ("Montagnat", "01254", "01250", 46.1681, 5.2861, 1_900),
    ("Ceyzériat", "01072", "01250", 46.1815, 5.3200, 3_200),
    ("Jasseron", "01195", "01250", 46.2128, 5.3242, 1_700),
    ("Lent", "01211", "01240", 46.1197, 5.1953, 1_300),
    ("Servas", "01405", "01960", 46.1328, 5.1642, 1_200),
]
_NAME, _INSEE, _CP, _LAT, _LON, _POP = (np.array(c) for c in zip(*COMMUNES))
_LAT, _LON, _POP = _LAT.astype(float), _LON.astype(float), _POP.astype(float)
_WEIGHT = _POP / _POP.sum()
_SPREAD_M = 250 * np.sqrt(_POP / 1000) + 300  # ≈ 1.9 km for Bourg, ≈ 0.6 km for Servas

STREETS = [
    "Rue de la République", "Avenue Jean Jaurès", "Place de la Mairie", "Rue des Écoles",
    "Chemin du Moulin", "Route de Lyon", "Rue Victor Hugo", "Boulevard de Brou",
    "Rue du Stade", "Allée des Tilleuls", "Impasse des Vergers", "Rue de la Gare",
    "Avenue de Jasseron", "Rue Pasteur", "Place de l'Église", "Route de Pont-d'Ain",
    "Rue des Sports", "Chemin de la Reyssouze", "Rue du 8 Mai 1945", "Avenue Alsace-Lorraine",
]
PLACES = [
    "du Centre", "des Tilleuls", "Jean Moulin", "de la Gare", "Pasteur", "Victor Hugo",
    "les Vennes", "de la Reyssouze", "du Revermont", "Marie Curie", "des Sablons", "du Bief",
]
PEOPLE = [  # first name, surname, civility
    ("Jeanne", "Martin", "Mme"), ("Paul", "Lefèvre", "M."), ("Claire", "Dubois", "Mme"),
    ("Julien", "Roux", "M."), ("Ahmed", "Benali", "M."), ("Sophie", "Bernard", "Mme"),
    ("Lucie", "Girard", "Mme"), ("Marc", "Perrin", "M."),
]
FIRMS = ["SAS INDUSTRIES DU REVERMONT", "SAS LOGISTIQUE BRESSANE", "SA PLASTIQUES DE L'AIN DEMO",
         "SARL TRANSPORTS DU BIEF", "SAS AGROALIMENTAIRE DE BRESSE"]
# manufacturer, model, serial-number prefix
DEVICES = [
    ("ZOLL", "AED Plus", "X"), ("ZOLL", "AED 3", "AA"), ("PHILIPS", "HeartStart HS1", "A1"),
    ("PHILIPS", "HeartStart FRx", "B2"), ("SCHILLER", "FRED easyport", "SC"),
    ("PHYSIO-CONTROL", "LIFEPAK CR2", "LP"), ("CARDIAC SCIENCE", "Powerheart G5", "G5"),
    ("DEFIBTECH", "Lifeline VIEW", "DV"), ("HEARTSINE", "samaritan PAD 360P", "HS"),
]
MAINTAINERS = ["AIN SECOURS MAINTENANCE", "CARDIO SERVICES RHONE-ALPES", "DEFIB EXPERT DEMO"]
WEEK = ["lundi", "mardi", "mercredi", "jeudi", "vendredi"]
# availability kind → (disp_j values, disp_h values) options
DISP = {
    "24h": [(["7j/7"], ["24h/24"])],
    "office": [(WEEK, ["heures ouvrables"]), (WEEK + ["samedi"], ["heures ouvrables"])],
    "shop": [(WEEK + ["samedi"], ["heures ouvrables"]), (WEEK + ["samedi", "dimanche"], ["heures ouvrables"])],
    "sport": [(WEEK + ["samedi", "dimanche", "jours fériés"], ["heures ouvrables", "heures de nuit"])],
    "school": [(["lundi", "mardi", "jeudi", "vendredi"], ["heures ouvrables"]), (WEEK, ["heures ouvrables"])],
    "events": [(["événements"], ["heures ouvrables", "heures de nuit"])],
}
# DAE site: name template, weight, share outdoors, operator (a kind, or a company name
# template), availability kind
SITES = [
    ("Mairie de {commune}", 4, 0.3, "commune", "office"),
    ("École {place}", 6, 0.2, "commune", "school"),
    ("Gymnase {place}", 5, 0.1, "commune", "sport"),
    ("Salle des fêtes de {commune}", 4, 0.3, "commune", "events"),
    ("Stade {place}", 5, 0.7, "commune", "sport"),
    ("Église de {commune}", 2, 0.9, "commune", "24h"),
    ("Cimetière de {commune}", 2, 1.0, "commune", "24h"),
    ("Parking {place}", 2, 1.0, "commune", "24h"),
    ("Centre aquatique {place}", 1, 0.0, "epci", "sport"),
    ("Collège {place}", 3, 0.2, "departement", "school"),
    ("Lycée {place}", 2, 0.2, "region", "school"),
    ("Pharmacie {place}", 10, 0.5, "SELARL PHARMACIE {PLACE}", "shop"),
    ("Supermarché {place}", 6, 0.2, "SAS BRESSE DISTRIBUTION", "shop"),
    ("Boulangerie {place}", 3, 0.3, "SARL BOULANGERIE {PLACE}", "shop"),
    ("Banque {place}", 3, 0.1, "SA CREDIT DE L'AIN DEMO", "office"),
    ("Entreprise — site {place}", 10, 0.2, "firm", "office"),
    ("Hôtel {place}", 2, 0.0, "SAS HOTELLERIE BRESSANE", "24h"),
    ("EHPAD {place}", 3, 0.1, "SA RESIDENCES SENIORS DEMO", "24h"),
    ("Cabinet médical {place}", 1, 0.0, "person", "office"),
    ("Cabinet de kinésithérapie {place}", 0.6, 0.0, "person", "office"),
]
ACC_COMPLT = [
    "Dans le hall d'entrée, à gauche de l'accueil", "Sur la façade, côté parking",
    "Au rez-de-chaussée près de l'ascenseur", "Armoire murale chauffée", "Vestiaire des arbitres",
    "Clé à demander au gardien, tél. 06 12 34 56 78", "Derrière le comptoir",
]
GEODAE_DROPPED = ("tel1", "tel2", "site_email", "expt_tel1", "expt_tel2", "expt_email")


def write_demo(out_dir: Path, seed: int = 42) -> dict[str, Path]:
    """Write the demo raw files into ``out_dir``; return catalogue layer id → file written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng_dae, rng_commune, rng_cycle, rng_a11y, rng_bike = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(5)
    )
    paths = {layer: out_dir / name for layer, name in FILES.items()}
    _write_csv(_geodae_frame(rng_dae), paths["defibrillateurs"], sep=";")
    _write_csv(_commune_dae_frame(rng_commune), out_dir / COMMUNE_DAE_FILE, sep=",")
    _write_cycle_gpkg(rng_cycle, paths["amenagements-cyclables"])
    _write_csv(_acceslibre_frame(rng_a11y), paths["lieux-accessibles"], sep=",", quoting=csv.QUOTE_STRINGS)
    _write_csv(_bike_parking_frame(rng_bike), paths["stationnement-velo"], sep=",")
    (out_dir / "README.txt").write_text(_readme(seed), encoding="utf-8")
    return paths


# ----------------------------------------------------------------------------- helpers


def _write_csv(frame: pd.DataFrame, path: Path, *, sep: str, quoting: int = csv.QUOTE_MINIMAL) -> None:
    rows = frame.astype(object).where(frame.notna(), None).values.tolist()
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, delimiter=sep, quoting=quoting, lineterminator="\n")
        writer.writerow(frame.columns)
        writer.writerows(rows)


def _fields(schema: str) -> list[dict]:
    return json.loads((CONFIG_DIR / "schemas" / schema).read_text(encoding="utf-8"))["fields"]


def _luhn_complete(body: str) -> str:
    """Append the digit that makes ``body`` pass the Luhn check (SIREN/SIRET)."""
    total = 0
    for i, ch in enumerate(reversed(body)):
        d = int(ch) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return body + str((10 - total % 10) % 10)


def _siren(rng: np.random.Generator, first: str = "") -> str:
    body = first + "".join(map(str, rng.integers(0, 10, 8 - len(first))))
    return _luhn_complete(body)


def _siret(rng: np.random.Generator, siren: str) -> str:
    return _luhn_complete(siren + "".join(map(str, rng.integers(0, 10, 4))))


def _scatter(rng: np.random.Generator, com: np.ndarray, scale: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Points around the centres of communes ``com`` (indices), in degrees."""
    dx, dy = rng.normal(0, 1, (2, len(com))) * _SPREAD_M[com] * scale
    lat = _LAT[com] + dy / 111_320
    lon = _LON[com] + dx / (111_320 * np.cos(np.radians(_LAT[com])))
    return lat, lon


def _dates(rng: np.random.Generator, n: int, start: str, end: str) -> np.ndarray:
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    return (lo + rng.integers(0, int((hi - lo).astype(int)), n)).astype(str)


def _pg_array(values: list[str]) -> str:
    """PostgreSQL array literal, quoting elements as ``COPY`` does: ``{lundi,"jours fériés"}``."""
    quoted = [f'"{v}"' if any(c in v for c in ' ,{}"\\') else v for v in values]
    return "{" + ",".join(quoted) + "}"


def _tf(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, "t", "f")


# ----------------------------------------------------------------------------- DAE


def _dae_rows(rng: np.random.Generator, n: int) -> dict[str, np.ndarray | list]:
    """DAE attributes in schema names, multi-values as Python lists, booleans as bools."""
    com = rng.choice(len(COMMUNES), n, p=_WEIGHT)
    weights = np.array([s[1] for s in SITES], dtype=float)
    site = rng.choice(len(SITES), n, p=weights / weights.sum())
    place = rng.choice(PLACES, n)
    lat, lon = _scatter(rng, com)
    outdoor = rng.random(n) < np.array([s[2] for s in SITES])[site]
    operator, siren, siret, names, disp_j, disp_h = [], [], [], [], [], []
    person = np.array([SITES[s][3] == "person" for s in site])
    known: dict[str, str] = {  # operator → SIREN, stable within a file
        TERRITORY.upper(): _luhn_complete("20004213"),
        "DEPARTEMENT DE L'AIN": _luhn_complete("22010001"),
        "REGION AUVERGNE-RHONE-ALPES": _luhn_complete("20005376"),
    }
    first_person = True
    for i in range(n):
        template, _, _, kind, disp_kind = SITES[site[i]]
        names.append(template.format(commune=_NAME[com[i]], place=place[i]) + f" {DEMO}")
        if kind == "commune":
            name, insee = _NAME[com[i]], _INSEE[com[i]]
            op = ("COMMUNE D'" if name[0] in "AEIOUÉ" else "COMMUNE DE ") + name.upper()
            known.setdefault(op, _luhn_complete("21" + insee[:2] + "0" + insee[2:]))
        elif kind == "epci":
            op = TERRITORY.upper()
        elif kind == "departement":
            op = "DEPARTEMENT DE L'AIN"
        elif kind == "region":
            op = "REGION AUVERGNE-RHONE-ALPES"
        elif kind == "person":  # a health professional in private practice: a natural person
            k = 0 if first_person else rng.integers(len(PEOPLE))
            first, last, civility = PEOPLE[k]
            style = 0 if first_person else rng.integers(3)
            op = [f"Dr {first} {last}", f"{last.upper()} {first}", f"{civility} {first} {last}"][style]
            first_person = False
        elif kind == "firm":
            op = FIRMS[rng.integers(len(FIRMS))]
        else:
            op = kind.format(PLACE=place[i].upper())
        if op not in known:
            known[op] = _siren(rng, "8" if kind == "person" else str(rng.integers(3, 9)))
        operator.append(op)
        sir = known[op]
        siren.append(sir)
        siret.append(_siret(rng, sir) if rng.random() < 0.8 else None)
        if outdoor[i] and rng.random() < 0.8:
            disp_kind = "24h"
        options = DISP[disp_kind]
        j, h = options[rng.integers(len(options))]
        if rng.random() < 0.02:
            j, h = ["non renseigné"], ["non renseigné"]
        disp_j.append(list(j))
        disp_h.append(list(h))
    device = rng.integers(len(DEVICES), size=n)
    maintainer = rng.integers(0, len(MAINTAINERS) + 1, n)  # the last one: not given
    serial_numbers = rng.permutation(np.arange(10_000_000, 10_000_000 + 50 * n, 50))[:n]
    etat_fonct = rng.choice(
        ["En fonctionnement", "Hors service", "Absent momentanément", "Inconnu", "Supprimé définitivement"],
        n, p=[0.9, 0.05, 0.02, 0.02, 0.01],
    )
    return {
        "nom": names,
        "lat_coor1": lat, "long_coor1": lon,
        "adr_num": np.where(rng.random(n) < 0.85, rng.integers(1, 120, n).astype(str), ""),
        "adr_voie": rng.choice(STREETS, n),
        "com_cp": _CP[com], "com_insee": _INSEE[com], "com_nom": _NAME[com],
        "acc": np.where(outdoor, "Extérieur", "Intérieur"),
        "acc_lib": outdoor | (rng.random(n) < 0.55),
        "acc_pcsec": rng.random(n) < 0.1,
        "acc_acc": ~outdoor & (rng.random(n) < 0.6),
        "dae_mobile": rng.random(n) < 0.03,
        "acc_etg": np.where(outdoor, "0", rng.choice(["0", "0", "0", "1", "-1", "RDC", ""], n)),
        "acc_complt": np.where(rng.random(n) < 0.25, rng.choice(ACC_COMPLT, n), ""),
        "photo1": [f"https://photos.exemple.fr/dae/{i}.jpg" if r < 0.05 else "" for i, r in enumerate(rng.random(n))],
        "photo2": [""] * n,
        "disp_j": disp_j, "disp_h": disp_h,
        "disp_complt": np.where(rng.random(n) < 0.05, "Fermé en août", ""),
        "date_instal": _dates(rng, n, "2008-01-01", "2024-12-31"),
        "etat": rng.choice(["Actif", "A supprimer", "Non identifié"], n, p=[0.96, 0.02, 0.02]),
        "etat_fonct": etat_fonct,
        "fab_siren": np.array([_siren(rng, "3") for _ in DEVICES])[device],
        "fab_rais": np.array([d[0] for d in DEVICES])[device],
        "mnt_siren": np.array([_siren(rng, "4") for _ in MAINTAINERS] + [""])[maintainer],
        "mnt_rais": np.array(MAINTAINERS + [""])[maintainer],
        "modele": np.array([d[1] for d in DEVICES])[device],
        "num_serie": [f"{DEVICES[d][2]}{s:09d}" for d, s in zip(device, serial_numbers)],
        "id_euro": [""] * n,
        "lc_ped": rng.random(n) < 0.3,
        "dtpr_lcped": _dates(rng, n, "2025-06-01", "2029-12-31"),
        "dtpr_lcad": _dates(rng, n, "2025-06-01", "2029-12-31"),
        "dtpr_bat": _dates(rng, n, "2025-06-01", "2030-12-31"),
        "freq_mnt": rng.choice(["Tous les ans", "Tous les 6 mois", "Tous les 2 ans", ""], n),
        "dispsurv": rng.random(n) < 0.7,
        "dermnt": _dates(rng, n, "2021-01-01", "2025-06-30"),
        "expt_siren": siren, "expt_siret": siret, "expt_rais": operator,
        "_person": person,
    }


def _coord(values: np.ndarray) -> list[str]:
    return [f"{v:.7f}" for v in values]


def _geodae_frame(rng: np.random.Generator, n: int = 1_990, n_duplicates: int = 10) -> pd.DataFrame:
    rows = _dae_rows(rng, n)
    names = [f["name"] for f in _fields("dae/1.0.7/schema.json") if f["name"] not in GEODAE_DROPPED]
    frame = pd.DataFrame({name: rows[name] for name in names}, dtype=object)
    for col in ("acc_lib", "acc_pcsec", "acc_acc", "dae_mobile", "lc_ped", "dispsurv"):
        frame[col] = _tf(frame[col].to_numpy())
    frame["disp_j"] = [_pg_array(v) for v in frame["disp_j"]]
    frame["disp_h"] = [_pg_array(v) for v in frame["disp_h"]]
    frame["lat_coor1"], frame["long_coor1"] = _coord(frame["lat_coor1"]), _coord(frame["long_coor1"])
    # Real-world mess: decimal commas, no coordinates, a typo that lands outside France.
    pick = rng.choice(n, 10, replace=False)
    for i in pick[:6]:
        frame.loc[i, ["lat_coor1", "long_coor1"]] = frame.loc[i, ["lat_coor1", "long_coor1"]].str.replace(".", ",")
    frame.loc[pick[6:8], ["lat_coor1", "long_coor1"]] = ""
    frame.loc[pick[8], "long_coor1"] = frame.loc[pick[8], "long_coor1"].replace("5.", "52.", 1)
    frame.loc[pick[9], "com_nom"] = str(frame.loc[pick[9], "com_nom"]).upper().replace("-", " ")
    frame.columns = ["c_" + c for c in frame.columns]
    frame.insert(0, "c_gid", np.cumsum(rng.integers(1, 40, n)) + 1000)
    frame["c_doublon"] = "f"
    dup = frame.loc[np.sort(rng.choice(n, n_duplicates, replace=False))].copy()
    dup["c_gid"] = frame["c_gid"].max() + np.arange(1, n_duplicates + 1) * 7
    dup["c_doublon"] = "t"
    dup["c_date_instal"] = _dates(rng, n_duplicates, "2023-01-01", "2024-12-31")
    return pd.concat([frame, dup], ignore_index=True)


def _commune_dae_frame(rng: np.random.Generator, n: int = 50) -> pd.DataFrame:
    """One commune's own file: plain DAE schema, ``oui``/``non``, ``|`` lists, contacts included."""
    rows = _dae_rows(rng, n)
    fields = _fields("dae/1.0.7/schema.json")
    mobile = lambda: "+336" + "".join(map(str, rng.integers(0, 10, 8)))  # noqa: E731
    rows["tel1"] = [mobile() for _ in range(n)]
    rows["tel2"] = [mobile() if rng.random() < 0.2 else "" for _ in range(n)]
    rows["expt_tel1"] = [mobile() for _ in range(n)]
    rows["expt_tel2"] = [""] * n
    rows["site_email"] = [f"accueil.site{i}@exemple.fr" if rng.random() < 0.5 else "" for i in range(n)]
    rows["expt_email"] = [
        f"cabinet{i}@exemple.fr" if is_person else f"dae.{i}@mairie.exemple.fr"
        for i, is_person in enumerate(rows["_person"])
    ]
    rows["num_serie"] = [f"C{s}" for s in rows["num_serie"]]
    frame = pd.DataFrame({f["name"]: rows[f["name"]] for f in fields}, dtype=object)
    for f in fields:
        if f["type"] == "boolean":
            frame[f["name"]] = np.where(frame[f["name"]].to_numpy(), "oui", "non")
    frame["disp_j"] = ["|".join(v) for v in frame["disp_j"]]
    frame["disp_h"] = ["|".join(v) for v in frame["disp_h"]]
    frame["lat_coor1"], frame["long_coor1"] = _coord(frame["lat_coor1"]), _coord(frame["long_coor1"])
    return frame


# ----------------------------------------------------------------------------- cycle paths

CYCLE_KINDS = [
    # weight, ame_d, ame_g, sens_d, sens_g, regime, local, step (m), speed, width range (m)
    (20, "BANDE CYCLABLE", "BANDE CYCLABLE", "UNIDIRECTIONNEL", "UNIDIRECTIONNEL", "EN AGGLOMERATION", "CHAUSSEE", 30, 50, (1.2, 1.8)),
    (18, "PISTE CYCLABLE", "AUCUN", "BIDIRECTIONNEL", None, "EN AGGLOMERATION", "TROTTOIR", 35, 50, (2.5, 3.5)),
    (8, "PISTE CYCLABLE", "PISTE CYCLABLE", "UNIDIRECTIONNEL", "UNIDIRECTIONNEL", "EN AGGLOMERATION", "INTERMEDIAIRE", 35, 50, (1.5, 2.2)),
    (12, "VOIE VERTE", "AUCUN", "BIDIRECTIONNEL", None, "HORS AGGLOMERATION", None, 80, None, (3.0, 5.0)),
    (12, "AUCUN", "DOUBLE SENS CYCLABLE NON MATERIALISE", None, "UNIDIRECTIONNEL", "ZONE 30", "CHAUSSEE", 20, 30, None),
    (6, "AUCUN", "DOUBLE SENS CYCLABLE BANDE", None, "UNIDIRECTIONNEL", "ZONE 30", "CHAUSSEE", 20, 30, (1.0, 1.5)),
    (6, "VELO RUE", "VELO RUE", "UNIDIRECTIONNEL", "UNIDIRECTIONNEL", "ZONE 30", "CHAUSSEE", 20, 30, None),
    (4, "COULOIR BUS+VELO", "AUCUN", "UNIDIRECTIONNEL", None, "EN AGGLOMERATION", "CHAUSSEE", 30, 50, (3.5, 4.5)),
    (5, "AMENAGEMENT MIXTE PIETON VELO HORS VOIE VERTE", "AUCUN", "BIDIRECTIONNEL", None, "ZONE DE RENCONTRE", "TROTTOIR", 25, 20, (2.5, 4.0)),
    (5, "CHAUSSEE A VOIE CENTRALE BANALISEE", "CHAUSSEE A VOIE CENTRALE BANALISEE", "UNIDIRECTIONNEL", "UNIDIRECTIONNEL", "HORS AGGLOMERATION", "CHAUSSEE", 60, 70, (1.0, 1.5)),
    (4, "AUCUN", "AUCUN", None, None, "AIRE PIETONNE", None, 20, 5, None),
]
CYCLE_COMMENTS = [
    "forte pente sur 50 mètres", "revêtement dégradé, réfection prévue", "éclairage solaire",
    "traversée de la RD 1083 à sécuriser", "signalé par M. Girard, tél. 06 98 76 54 32",
    "marquage effacé", "jalonnement vers la gare",
]


def _cycle_frame(rng: np.random.Generator, n: int = 320) -> tuple[pd.DataFrame, np.ndarray]:
    to_l93 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    weights = np.array([k[0] for k in CYCLE_KINDS], dtype=float)
    kind = rng.choice(len(CYCLE_KINDS), n, p=weights / weights.sum())
    greenway = np.array([CYCLE_KINDS[k][1] == "VOIE VERTE" for k in kind])
    com = rng.choice(len(COMMUNES), n, p=_WEIGHT)
    lat, lon = _scatter(rng, com, scale=np.where(greenway, 2.5, 1.0))
    x0, y0 = to_l93.transform(lon, lat)
    n_vertices = rng.integers(5, 51, n)
    step = np.array([CYCLE_KINDS[k][7] for k in kind], dtype=float)
    # Smooth random walks: heading drifts slowly, with an occasional right-angle turn.
    line_of = np.repeat(np.arange(n), n_vertices)
    turn = rng.normal(0, 0.08, line_of.size) + np.where(rng.random(line_of.size) < 0.03, rng.choice([-1.57, 1.57], line_of.size), 0)
    starts = np.concatenate([[0], np.cumsum(n_vertices)[:-1]])
    turn[starts] = rng.uniform(0, 2 * np.pi, n)
    heading = np.cumsum(turn)
    heading -= np.repeat(heading[starts] - turn[starts], n_vertices)  # restart the sum per line
    seg = step[line_of] * rng.uniform(0.7, 1.3, line_of.size)
    seg[starts] = 0
    dx, dy = seg * np.cos(heading), seg * np.sin(heading)
    cx, cy = np.cumsum(dx), np.cumsum(dy)
    cx -= np.repeat(cx[starts], n_vertices)
    cy -= np.repeat(cy[starts], n_vertices)
    coords = np.column_stack([np.repeat(x0, n_vertices) + cx, np.repeat(y0, n_vertices) + cy]).round(2)
    geoms = shapely.linestrings(coords, indices=line_of)

    pick = lambda i: np.array([CYCLE_KINDS[k][i] for k in kind], dtype=object)  # noqa: E731
    regime = pick(5)
    lo, hi = (np.array([(CYCLE_KINDS[k][9] or (0, 0))[j] for k in kind], dtype=float) for j in (0, 1))
    unmeasured = (hi == 0) | (rng.random(n) < 0.2)
    width = lambda side: np.where((pick(side) == "AUCUN") | unmeasured, np.nan, np.round(rng.uniform(lo, hi), 1))  # noqa: E731
    statut = rng.choice(["EN SERVICE", "EN TRAVAUX", "PROVISOIRE"], n, p=[0.93, 0.04, 0.03])
    revet = np.where(greenway, rng.choice(["LISSE", "RUGUEUX", "MEUBLE"], n, p=[0.6, 0.25, 0.15]), "LISSE")
    both_regime = np.where(rng.random(n) < 0.05, "AUTRE", regime)
    speed = pick(8)
    frame = pd.DataFrame({
        "id_local": [f"VDD-AC-{i:04d}" for i in range(1, n + 1)],
        "reseau_loc": np.where(greenway, "Structurant", rng.choice(["Structurant", "Autre", "REV"], n, p=[0.3, 0.65, 0.05])),
        "nom_loc": np.where(greenway, "Voie verte de la Reyssouze", None),
        "id_osm": [str(v) if r < 0.4 else None for v, r in zip(rng.integers(10**8, 10**9, n), rng.random(n))],
        "num_iti": np.where(greenway & (rng.random(n) < 0.5), "0050:", None),
        "code_com_d": _INSEE[com], "ame_d": pick(1), "regime_d": regime, "sens_d": pick(3),
        "largeur_d": width(1), "local_d": np.where(pick(1) == "AUCUN", None, pick(6)),
        "statut_d": statut, "revet_d": revet,
        "code_com_g": _INSEE[com], "ame_g": pick(2), "regime_g": both_regime, "sens_g": pick(4),
        "largeur_g": width(2), "local_g": np.where(pick(2) == "AUCUN", None, pick(6)),
        "statut_g": statut, "revet_g": revet,
        "access_ame": np.where(greenway, rng.choice(["ROLLER", "VTC"], n), "VELO DE ROUTE"),
        "date_maj": _dates(rng, n, "2022-01-01", "2025-06-30"),  # text, as in most real files
        "trafic_vit": pd.array([None if s is None else int(s) for s in speed], dtype="Int32"),
        "lumiere": pd.array(np.where(rng.random(n) < 0.15, None, rng.random(n) < 0.6), dtype="boolean"),
        "d_service": pd.array(rng.integers(1995, 2025, n), dtype="Int32"),
        "comm": np.where(rng.random(n) < 0.15, rng.choice(CYCLE_COMMENTS, n), None),
        "source": SOURCE, "project_c": "Lambert 93", "ref_geo": "BD TOPO",
    })
    return frame, geoms


def _write_cycle_gpkg(rng: np.random.Generator, path: Path) -> None:
    import geopandas as gpd

    frame, geoms = _cycle_frame(rng)
    gdf = gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:2154")
    path.unlink(missing_ok=True)
    previous = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": GPKG_FIXED_DATE})
    try:
        # GeoPackage 1.2, as QGIS and GDAL < 3.10 write it (1.4 makes older GDAL warn).
        pyogrio.write_dataframe(gdf, path, layer=GPKG_LAYER, driver="GPKG", dataset_options={"VERSION": "1.2"})
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": previous})


# ----------------------------------------------------------------------------- acceslibre

VENUES = [
    # name template, activite (acceslibre enum), weight
    ("Mairie de {commune}", "Mairie", 1), ("Boulangerie {place}", "Boulangerie Pâtisserie", 6),
    ("Pharmacie {place}", "Pharmacie", 4), ("Restaurant {place}", "Restaurant", 8),
    ("Café {place}", "Café, bar, brasserie", 5), ("Salon de coiffure {place}", "Coiffure", 5),
    ("Cabinet infirmier {person}", "Infirmier", 2), ("Dr {person}", "Médecin généraliste", 3),
    ("Bureau de poste de {commune}", "Bureau de poste", 1), ("Médiathèque {place}", "Bibliothèque médiathèque", 1),
    ("École maternelle {place}", "École maternelle", 2), ("École élémentaire {place}", "École élémentaire", 2),
    ("Gymnase {place}", "Gymnase", 2), ("Supermarché {place}", "Supermarché", 2), ("Hôtel {place}", "Hôtel", 2),
    ("Garage {place}", "Garage automobile", 3), ("Optique {place}", "Opticien", 2),
    ("Agence bancaire {place}", "Banques, caisses d'épargne", 2), ("Librairie {place}", "Librairie", 1),
    ("Fleurs {place}", "Fleuriste", 2), ("Immobilier {place}", "Agence immobilière", 2),
    ("Boucherie {place}", "Boucherie / commerce de viande", 2), ("Tabac presse {place}", "Bar tabac", 3),
    ("Salle des fêtes de {commune}", "Salle des fêtes", 1), ("Église de {commune}", "Lieu de culte", 1),
    ("Ehpad {place}", "Ehpad", 1), ("Crèche {place}", "Crèche", 1), ("Étude de Maître {person}", "Notaire", 1),
    ("Kinésithérapie {person}", "Kinésithérapeute", 2), ("Clinique vétérinaire {place}", "Vétérinaire", 1),
    ("Auto-école {place}", "Auto école", 1), ("Office de tourisme {place}", "Office de tourisme", 0.3),
    ("Vêtements {place}", "Vêtements", 4), ("Cycles {place}", "Cycle vente et entretien", 1),
]
A11Y_ONLY_FOR = {  # field prefix → the only activities it is filled for
    "accueil_chambre": {"Hôtel", "Ehpad"},
    "accueil_isoloir": {"Mairie"}, "accueil_urne": {"Mairie"}, "transport_bureau_de_vote": {"Mairie"},
    "accueil_classes": {"École maternelle", "École élémentaire"},
    "accueil_espaces_ouverts": {"École maternelle", "École élémentaire", "Ehpad"},
}
A11Y_IDENTITY = {"id", "name", "postal_code", "commune", "numero", "voie", "lieu_dit", "code_insee",
                 "siret", "contact_url", "site_internet", "longitude", "latitude", "activite"}


def _acceslibre_frame(rng: np.random.Generator, n: int = 1_500) -> pd.DataFrame:
    fields = _fields("acceslibre/0.0.20/base/schema.json")
    weights = np.array([v[2] for v in VENUES], dtype=float)
    venue = rng.choice(len(VENUES), n, p=weights / weights.sum())
    com = rng.choice(len(COMMUNES), n, p=_WEIGHT)
    place = rng.choice(PLACES, n)
    lat, lon = _scatter(rng, com, scale=0.8)
    person = [" ".join(PEOPLE[k]) for k in rng.integers(len(PEOPLE), size=n)]
    cols: dict[str, object] = {
        "id": [str(uuid.UUID(bytes=rng.bytes(16), version=4)) for _ in range(n)],
        "name": [VENUES[v][0].format(commune=_NAME[c], place=p, person=pp) + f" {DEMO}"
                 for v, c, p, pp in zip(venue, com, place, person)],
        "postal_code": _CP[com],
        "commune": np.where(rng.random(n) < 0.1, np.char.upper(_NAME[com].astype(str)), _NAME[com]),
        "numero": [int(k) if r < 0.8 else None for k, r in zip(rng.integers(1, 150, n), rng.random(n))],
        "voie": rng.choice(STREETS, n),
        "lieu_dit": [None] * n,
        "code_insee": _INSEE[com],
        "siret": [int(_siret(rng, _siren(rng, "8"))) if r < 0.7 else None for r in rng.random(n)],
        "contact_url": [f"https://www.exemple.fr/contact/{i}" if r < 0.2 else None for i, r in enumerate(rng.random(n))],
        "site_internet": [f"https://lieu-{i}.exemple.fr/" if r < 0.3 else None for i, r in enumerate(rng.random(n))],
        "longitude": [repr(float(v)) for v in lon.round(6)],
        "latitude": [repr(float(v)) for v in lat.round(6)],
        "activite": [VENUES[v][1] for v in venue],
    }
    plain_pied = rng.random(n) < 0.65
    for f in fields:
        name = f["name"]
        if name in A11Y_IDENTITY:
            continue
        filled = rng.random(n) < rng.uniform(0.15, 0.7)
        for prefix, activities in A11Y_ONLY_FOR.items():
            if name.startswith(prefix):
                filled &= np.isin(cols["activite"], list(activities))
        if f["type"] == "boolean":
            values = np.where(rng.random(n) < 0.6, "True", "False")
        elif f["type"] == "integer":
            values = rng.integers(80, 160, n) if "largeur" in name else rng.integers(0, 6, n)
        elif f["type"] == "array":
            enum = f["arrayItem"]["enum"]
            values = [json.dumps(sorted(rng.choice(enum, rng.integers(1, len(enum) + 1), replace=False).tolist()),
                                 ensure_ascii=False) for _ in range(n)]
        elif "enum" in f.get("constraints", {}):
            values = rng.choice(f["constraints"]["enum"], n)
        else:
            values = np.full(n, "https://www.exemple.fr/registre.pdf", dtype=object)
        cols[name] = [v.item() if isinstance(v, np.generic) else v for v in np.where(filled, np.asarray(values, dtype=object), None)]
    # A few coherent pairs, so the map's popups tell a plausible story.
    cols["entree_plain_pied"] = np.where(plain_pied, "True", "False")
    cols["entree_marches"] = [None if p else int(k) for p, k in zip(plain_pied, rng.integers(1, 5, n))]
    cols["labels_familles_handicap"] = [
        json.dumps(sorted(rng.choice(["auditif", "mental", "moteur", "visuel"], rng.integers(1, 5), replace=False).tolist()))
        if r < 0.2 else None for r in rng.random(n)
    ]
    return pd.DataFrame({f["name"]: cols[f["name"]] for f in fields}, dtype=object)


# ----------------------------------------------------------------------------- bicycle parking


def _bike_parking_frame(rng: np.random.Generator, n: int = 300) -> pd.DataFrame:
    com = rng.choice(len(COMMUNES), n, p=_WEIGHT)
    lat, lon = _scatter(rng, com, scale=0.7)
    mobilier = rng.choice(["ARCEAU", "RATELIER", "RACK DOUBLE ETAGE", "POTELET", "ARCEAU VELO GRANDE TAILLE", "AUTRE"],
                          n, p=[0.7, 0.1, 0.04, 0.06, 0.05, 0.05])
    locker = rng.random(n) < 0.06
    point = [f"[{x:.7f},{y:.7f}]" for x, y in zip(lon, lat)]
    for i in rng.choice(n, 4, replace=False):  # forms seen in real files
        point[i] = point[i].replace(",", ", ") if i % 2 else point[i] + "\n"
    capacity = np.where(locker, rng.choice([10, 20, 40], n), 2 * rng.integers(1, 11, n))
    bool01 = lambda p, fill=0.85: [None if r > fill else int(v) for v, r in zip(rng.random(n) < p, rng.random(n))]  # noqa: E731
    comments = ["Près de l'entrée de la mairie", "Arceaux abîmés, signalé aux services techniques",
                "Consigne accessible avec la carte TER", "Demande de M. Perrin (06 11 22 33 44) : ajouter 4 places",
                "Devant la boulangerie", "Côté parvis de l'église"]
    return pd.DataFrame({
        "id_local": [f"VDD-STA-{i:04d}" for i in range(1, n + 1)],
        "id_osm": [f"n{v}" if r < 0.4 else None for v, r in zip(rng.integers(10**8, 10**10, n), rng.random(n))],
        "code_com": _INSEE[com],
        "coordonneesxy": point,
        "capacite": capacity,
        "capacite_cargo": [int(k) if r < 0.2 else None for k, r in zip(rng.integers(1, 4, n), rng.random(n))],
        "type_accroche": np.where(mobilier == "RATELIER", "ROUE", np.where(mobilier == "AUTRE", "SANS ACCROCHE", "CADRE ET ROUE")),
        "mobilier": mobilier,
        "acces": np.where(locker, "ABONNEMENT OU INSCRIPTION PREALABLE", "LIBRE ACCES"),
        "gratuit": np.where(locker, 0, 1),
        "protection": np.where(locker, rng.choice(["CONSIGNE COLLECTIVE FERMEE", "BOX INDIVIDUEL FERME"], n), "STATIONNEMENT NON FERME"),
        "couverture": bool01(0.3), "surveillance": bool01(0.1), "lumiere": bool01(0.5),
        "url_info": np.where(locker, "https://www.exemple.fr/consignes-velo", None),
        "d_service": [int(y) if r < 0.7 else None for y, r in zip(rng.integers(2005, 2025, n), rng.random(n))],
        "source": SOURCE,
        "proprietaire": [f"Commune de {c}" for c in _NAME[com]],
        "gestionnaire": [f"Commune de {c}" for c in _NAME[com]],
        "date_maj": _dates(rng, n, "2022-01-01", "2025-06-30"),
        "commentaires": np.where(rng.random(n) < 0.12, rng.choice(comments, n), None),
    }, dtype=object)


# ----------------------------------------------------------------------------- README


def _readme(seed: int) -> str:
    communes = "\n".join(f"  - {c[0]} (INSEE {c[1]}, {c[2]})" for c in COMMUNES)
    files = "\n".join(f"  - {name} → couche « {layer} »" for layer, name in FILES.items())
    return f"""DONNÉES DE DÉMONSTRATION — FICTIVES
====================================

Ces fichiers sont générés par geocommune (layers/demo.py, graine {seed}) pour montrer
la chaîne de publication. Ils ne décrivent PAS la réalité : seuls les noms, codes INSEE,
codes postaux et centres approximatifs des communes sont réels. Les noms des lieux
portent la mention « {DEMO} ».

Territoire fictif : {TERRITORY}, formé de communes réelles autour de Bourg-en-Bresse (Ain) :
{communes}

Fichiers bruts, sous les formes que publient réellement les communes :
{files}
  - {COMMUNE_DAE_FILE} → fichier DAE d'une commune, au format du schéma (sans préfixe
    c_, oui/non, listes séparées par |), AVEC téléphones et courriels (fictifs) : sert à
    vérifier que les règles RGPD les retirent.

Désordre volontaire : virgules décimales, DAE sans coordonnées, un point hors du territoire,
doublons signalés (c_doublon = t), exploitants personnes physiques, codes à zéro initial
(01000, 01053), cellule « [lon,lat] » avec espace ou retour à la ligne.

Régénérer : python -m layers.demo --out DOSSIER --seed {seed}   (ou : make demo)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Écrit les fichiers bruts de démonstration.")
    parser.add_argument("--out", type=Path, default=None, help="dossier de sortie (défaut : GEOCOMMUNE_DEMO_DIR)")
    parser.add_argument("--seed", type=int, default=42, help="graine du générateur (défaut : 42)")
    args = parser.parse_args(argv)
    out = args.out or load_settings().demo_dir
    for layer, path in write_demo(out, args.seed).items():
        print(f"{layer:24} {path} ({path.stat().st_size / 1024:.0f} Kio)")
    print(f"Données de démonstration écrites dans {out} (voir README.txt).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
