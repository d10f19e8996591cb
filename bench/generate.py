"""Generate a large Géo'DAE-like DAE file for the ingestion benchmark.

Same form as the national Géo'DAE export (and as the demo file): every DAE schema 1.0.7
field prefixed ``c_`` except the phone and e-mail fields the export drops, plus
``c_gid`` and ``c_doublon``; ``;`` separator; booleans ``t``/``f``; multi-values as
PostgreSQL arrays. Points cluster around 30 real French city centres. A little
real-world mess is kept (decimal commas, missing coordinates, a few points outside
France, flagged duplicates, natural persons as operators) so that the benchmark pays
for the same checks a real file costs.

Column-wise numpy/pandas only: about 10 s for 1,000,000 rows on one core.

    python bench/generate.py --rows 1000000 --seed 42 --out bench/out/geodae.csv
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np
import pandas as pd

# name, INSEE code, postal code, latitude, longitude, population (thousands)
CITIES = [
    ("Paris", "75056", "75001", 48.8566, 2.3522, 2100), ("Marseille", "13055", "13001", 43.2965, 5.3698, 870),
    ("Lyon", "69123", "69001", 45.7640, 4.8357, 520), ("Toulouse", "31555", "31000", 43.6047, 1.4442, 500),
    ("Nice", "06088", "06000", 43.7102, 7.2620, 345), ("Nantes", "44109", "44000", 47.2184, -1.5536, 320),
    ("Montpellier", "34172", "34000", 43.6108, 3.8767, 300), ("Strasbourg", "67482", "67000", 48.5734, 7.7521, 290),
    ("Bordeaux", "33063", "33000", 44.8378, -0.5792, 260), ("Lille", "59350", "59000", 50.6292, 3.0573, 235),
    ("Rennes", "35238", "35000", 48.1173, -1.6778, 225), ("Reims", "51454", "51100", 49.2583, 4.0317, 180),
    ("Toulon", "83137", "83000", 43.1242, 5.9280, 180), ("Saint-Étienne", "42218", "42000", 45.4397, 4.3872, 175),
    ("Le Havre", "76351", "76600", 49.4944, 0.1079, 165), ("Grenoble", "38185", "38000", 45.1885, 5.7245, 158),
    ("Dijon", "21231", "21000", 47.3220, 5.0415, 160), ("Angers", "49007", "49000", 47.4784, -0.5632, 157),
    ("Nîmes", "30189", "30000", 43.8367, 4.3601, 150), ("Clermont-Ferrand", "63113", "63000", 45.7772, 3.0870, 147),
    ("Le Mans", "72181", "72000", 48.0061, 0.1996, 145), ("Aix-en-Provence", "13001", "13100", 43.5297, 5.4474, 145),
    ("Brest", "29019", "29200", 48.3904, -4.4861, 140), ("Tours", "37261", "37000", 47.3941, 0.6848, 137),
    ("Amiens", "80021", "80000", 49.8941, 2.2958, 134), ("Limoges", "87085", "87000", 45.8336, 1.2611, 130),
    ("Perpignan", "66136", "66000", 42.6887, 2.8948, 120), ("Besançon", "25056", "25000", 47.2378, 6.0241, 120),
    ("Ajaccio", "2A004", "20000", 41.9192, 8.7386, 73), ("Bourg-en-Bresse", "01053", "01000", 46.2052, 5.2255, 41),
]
SITES = ["Mairie", "École", "Gymnase", "Stade", "Pharmacie", "Supermarché", "Salle des fêtes",
         "Entreprise", "Collège", "Lycée", "EHPAD", "Hôtel", "Piscine", "Banque", "Gare", "Cabinet médical"]
PLACES = ["du Centre", "des Tilleuls", "Jean Moulin", "de la Gare", "Pasteur", "Victor Hugo",
          "Marie Curie", "des Sablons", "Jean Jaurès", "de la République", "du Parc", "des Écoles"]
STREETS = ["Rue de la République", "Avenue Jean Jaurès", "Place de la Mairie", "Rue des Écoles",
           "Boulevard Gambetta", "Rue Victor Hugo", "Route Nationale", "Rue Pasteur", "Allée des Tilleuls"]
COMPANIES = ["SAS GRANDE DISTRIBUTION DEMO", "SELARL PHARMACIE CENTRALE", "SA BANQUE REGIONALE DEMO",
             "SAS HOTELLERIE DE FRANCE DEMO", "SA RESIDENCES SENIORS DEMO", "SAS INDUSTRIES DEMO"]
PERSONS = ["Dr Jeanne Martin", "Dr Paul Lefèvre", "Mme Claire Dubois", "ROUX Julien", "M. Ahmed Benali"]
DEVICES = [("ZOLL", "AED Plus", "X"), ("PHILIPS", "HeartStart HS1", "A1"), ("SCHILLER", "FRED easyport", "SC"),
           ("PHYSIO-CONTROL", "LIFEPAK CR2", "LP"), ("CARDIAC SCIENCE", "Powerheart G5", "G5"),
           ("DEFIBTECH", "Lifeline VIEW", "DV"), ("HEARTSINE", "samaritan PAD 360P", "HS")]
DISP_J = ["{7j/7}", "{lundi,mardi,mercredi,jeudi,vendredi}", "{lundi,mardi,mercredi,jeudi,vendredi,samedi}",
          '{lundi,mardi,mercredi,jeudi,vendredi,samedi,dimanche,"jours fériés"}', "{événements}", '{"non renseigné"}']
DISP_H = ["{24h/24}", '{"heures ouvrables"}', '{"heures ouvrables","heures de nuit"}',
          '{"heures ouvrables"}', '{"heures ouvrables","heures de nuit"}', '{"non renseigné"}']
# DAE schema 1.0.7 field order, without the fields the Géo'DAE export drops (phones, e-mails).
FIELDS = [
    "nom", "lat_coor1", "long_coor1", "adr_num", "adr_voie", "com_cp", "com_insee", "com_nom", "acc",
    "acc_lib", "acc_pcsec", "acc_acc", "dae_mobile", "acc_etg", "acc_complt", "photo1", "photo2",
    "disp_j", "disp_h", "disp_complt", "date_instal", "etat", "etat_fonct", "fab_siren", "fab_rais",
    "mnt_siren", "mnt_rais", "modele", "num_serie", "id_euro", "lc_ped", "dtpr_lcped", "dtpr_lcad",
    "dtpr_bat", "freq_mnt", "dispsurv", "dermnt", "expt_siren", "expt_siret", "expt_rais",
]
COLUMNS = ["c_gid"] + ["c_" + f for f in FIELDS] + ["c_doublon"]


def luhn_complete(body: np.ndarray, digits: int) -> np.ndarray:
    """Append a Luhn check digit to each ``digits``-digit integer of ``body`` (vectorised)."""
    total = np.zeros(body.shape, dtype=np.int64)
    rest = body.astype(np.int64)
    for position in range(digits):  # from the right; the check digit will sit at position 0
        d = rest % 10
        rest //= 10
        if position % 2 == 0:
            d = d * 2
            d = np.where(d > 9, d - 9, d)
        total += d
    return body.astype(np.int64) * 10 + (10 - total % 10) % 10


def _pick(rng: np.random.Generator, values: list[str], n: int, p=None) -> np.ndarray:
    return np.asarray(values, dtype=object)[rng.choice(len(values), n, p=p)]


def _dates(rng: np.random.Generator, n: int, start: str, days: int) -> np.ndarray:
    return (np.datetime64(start, "D") + rng.integers(0, days, n)).astype(str).astype(object)


def _tf(mask: np.ndarray) -> np.ndarray:
    return np.where(mask, "t", "f").astype(object)


def generate(rows: int = 1_000_000, seed: int = 42) -> pd.DataFrame:
    """A Géo'DAE-like frame of ``rows`` rows (strings and ints), deterministic for ``seed``."""
    rng = np.random.default_rng(seed)
    n_dup = max(1, rows // 200)
    n = rows - n_dup
    names, insee, cp, lat0, lon0, pop = (np.array(c) for c in zip(*CITIES))
    pop = pop.astype(float)
    city = rng.choice(len(CITIES), n, p=pop / pop.sum())
    sigma_m = 1500 + 60 * np.sqrt(pop)[city]  # ≈ 4 km in Paris, 2 km in Bourg-en-Bresse
    lat = lat0.astype(float)[city] + rng.normal(0, 1, n) * sigma_m / 111_320
    lon = lon0.astype(float)[city] + rng.normal(0, 1, n) * sigma_m / (111_320 * np.cos(np.radians(lat)))
    lat_s, lon_s = np.round(lat, 7).astype(str).astype(object), np.round(lon, 7).astype(str).astype(object)
    mess = rng.random(n)
    comma = mess < 0.003
    lat_s[comma] = [v.replace(".", ",") for v in lat_s[comma]]
    lon_s[comma] = [v.replace(".", ",") for v in lon_s[comma]]
    lat_s[(mess >= 0.003) & (mess < 0.004)] = ""
    lon_s[(mess >= 0.003) & (mess < 0.004)] = ""
    lon_s[(mess >= 0.004) & (mess < 0.0041)] = "52.2222"  # a typo that lands outside France

    city_names = names.astype(object)[city]
    outdoor = rng.random(n) < 0.3
    device = rng.integers(len(DEVICES), size=n)
    dev = np.array(DEVICES, dtype=object)
    serial = pd.Series(rng.permutation(n) + 10_000_000).astype(str).str.zfill(9).to_numpy(dtype=object)
    kind = rng.random(n)
    commune = kind < 0.4
    person = kind > 0.99
    operator = np.where(commune, "COMMUNE DE " + pd.Series(city_names).str.upper().to_numpy(dtype=object),
                        np.where(person, _pick(rng, PERSONS, n), _pick(rng, COMPANIES, n)))
    siren = luhn_complete(rng.integers(10_000_000, 99_999_999, n), 8)
    siret = luhn_complete(siren * 10_000 + rng.integers(0, 10_000, n), 13).astype(str).astype(object)
    siret[rng.random(n) < 0.2] = ""
    fab_siren = luhn_complete(np.arange(30_000_000, 30_000_000 + len(DEVICES)), 8).astype(str)
    disp = rng.integers(len(DISP_J), size=n)
    disp[outdoor & (rng.random(n) < 0.8)] = 0

    frame = pd.DataFrame({
        "c_gid": np.cumsum(rng.integers(1, 5, n)) + 1000,
        "c_nom": _pick(rng, SITES, n) + " " + _pick(rng, PLACES, n) + " (" + city_names + ")",
        "c_lat_coor1": lat_s, "c_long_coor1": lon_s,
        "c_adr_num": rng.integers(1, 200, n).astype(str).astype(object),
        "c_adr_voie": _pick(rng, STREETS, n),
        "c_com_cp": cp.astype(object)[city], "c_com_insee": insee.astype(object)[city], "c_com_nom": city_names,
        "c_acc": np.where(outdoor, "Extérieur", "Intérieur").astype(object),
        "c_acc_lib": _tf(outdoor | (rng.random(n) < 0.5)), "c_acc_pcsec": _tf(rng.random(n) < 0.1),
        "c_acc_acc": _tf(~outdoor & (rng.random(n) < 0.6)), "c_dae_mobile": _tf(rng.random(n) < 0.03),
        "c_acc_etg": _pick(rng, ["0", "0", "1", "-1", ""], n),
        "c_acc_complt": _pick(rng, ["", "", "", "Dans le hall d'entrée", "Sur la façade, côté parking"], n),
        "c_photo1": "", "c_photo2": "",
        "c_disp_j": np.array(DISP_J, dtype=object)[disp], "c_disp_h": np.array(DISP_H, dtype=object)[disp],
        "c_disp_complt": "",
        "c_date_instal": _dates(rng, n, "2008-01-01", 6200),
        "c_etat": _pick(rng, ["Actif", "A supprimer", "Non identifié"], n, p=[0.96, 0.02, 0.02]),
        "c_etat_fonct": _pick(rng, ["En fonctionnement", "Hors service", "Absent momentanément", "Inconnu"], n,
                              p=[0.92, 0.04, 0.02, 0.02]),
        "c_fab_siren": fab_siren.astype(object)[device], "c_fab_rais": dev[device, 0],
        "c_mnt_siren": "", "c_mnt_rais": "",
        "c_modele": dev[device, 1], "c_num_serie": dev[device, 2] + serial, "c_id_euro": "",
        "c_lc_ped": _tf(rng.random(n) < 0.3),
        "c_dtpr_lcped": _dates(rng, n, "2025-06-01", 1600), "c_dtpr_lcad": _dates(rng, n, "2025-06-01", 1600),
        "c_dtpr_bat": _dates(rng, n, "2025-06-01", 2000),
        "c_freq_mnt": _pick(rng, ["Tous les ans", "Tous les 6 mois", ""], n),
        "c_dispsurv": _tf(rng.random(n) < 0.7),
        "c_dermnt": _dates(rng, n, "2021-01-01", 1600),
        "c_expt_siren": siren.astype(str).astype(object), "c_expt_siret": siret, "c_expt_rais": operator,
        "c_doublon": "f",
    })
    dup = frame.iloc[np.sort(rng.choice(n, n_dup, replace=False))].copy()
    dup["c_gid"] = frame["c_gid"].iloc[-1] + np.arange(1, n_dup + 1)
    dup["c_doublon"] = "t"
    return pd.concat([frame, dup], ignore_index=True)[COLUMNS]


def write_csv(path: Path, rows: int = 1_000_000, seed: int = 42) -> Path:
    """Write the file atomically (a partial file never has the final name)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + f".{os.getpid()}.part")
    generate(rows, seed).to_csv(partial, sep=";", index=False, encoding="utf-8", lineterminator="\n")
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Génère un gros fichier DAE au format de l'export Géo'DAE.")
    parser.add_argument("--rows", type=int, default=1_000_000, help="nombre de lignes (défaut : 1 000 000)")
    parser.add_argument("--seed", type=int, default=42, help="graine (défaut : 42)")
    parser.add_argument("--out", type=Path, default=None, help="fichier CSV (défaut : bench/out/geodae-N-seedS.csv)")
    args = parser.parse_args(argv)
    out = args.out or Path(__file__).parent / "out" / f"geodae-{args.rows}-seed{args.seed}.csv"
    start = time.perf_counter()
    write_csv(out, args.rows, args.seed)
    size = out.stat().st_size / 2**20
    print(f"{args.rows} lignes écrites dans {out} ({size:.1f} Mio) en {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
