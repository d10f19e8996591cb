"""Valid Géo'DAE 1.0.7 rows for tests and the 1M-row timing, built column-wise with Arrow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

# One valid value per field (schema order). "" = empty cell.
DAE_VALID_ROW: dict[str, str] = {
    "nom": "DAE Mairie", "lat_coor1": "48.8521329", "long_coor1": "2.3068453", "adr_num": "14",
    "adr_voie": "Avenue Duquesne", "com_cp": "75007", "com_insee": "75107", "com_nom": "Paris",
    "acc": "Intérieur", "acc_lib": "oui", "acc_pcsec": "non", "acc_acc": "oui", "dae_mobile": "non",
    "acc_etg": "0", "acc_complt": "Hall d'entrée", "photo1": "http://www.monsite.com/monimage.jpg",
    "photo2": "", "disp_j": "lundi|mardi|jours fériés", "disp_h": "heures ouvrables|heures de nuit",
    "disp_complt": "", "tel1": "+33102030405", "tel2": "0102030405", "site_email": "contact@mairie.fr",
    "date_instal": "2019-09-30", "etat": "Actif", "etat_fonct": "En fonctionnement",
    "fab_siren": "123456789", "fab_rais": "Zoll", "mnt_siren": "123456789", "mnt_rais": "Maintenance SA",
    "modele": "AED PLUS", "num_serie": "X09E409930", "id_euro": "", "lc_ped": "oui",
    "dtpr_lcped": "2025-01-31", "dtpr_lcad": "2025-02-28", "dtpr_bat": "2026-01-01",
    "freq_mnt": "Tous les 6 mois", "dispsurv": "non", "dermnt": "2024-09-30", "expt_siren": "130016538",
    "expt_siret": "13001653800014", "expt_rais": "Commune de Démonstration",
    "expt_tel1": "+33102030405", "expt_tel2": "", "expt_email": "mairie@commune.fr",
}


def dae_rows(n: int) -> list[dict[str, str]]:
    """``n`` valid rows as dicts of strings (small fixtures), serial numbers made unique."""
    return [{**DAE_VALID_ROW, "num_serie": f"SN{i:06d}"} for i in range(n)]


def dae_frame(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` valid rows as Arrow-backed string columns (pandas 3 default), empty cells as NA."""
    rng = np.random.default_rng(seed)
    columns: dict[str, pd.Series] = {}
    for name, value in DAE_VALID_ROW.items():
        array = pa.array(np.full(n, value, dtype=object) if value else [None] * n, pa.string())
        columns[name] = array
    columns["lat_coor1"] = pc.cast(pa.array(rng.uniform(42.0, 51.0, n).round(7)), pa.string())
    columns["long_coor1"] = pc.cast(pa.array(rng.uniform(-4.5, 8.0, n).round(7)), pa.string())
    columns["num_serie"] = pc.binary_join_element_wise("SN", pc.cast(pa.array(np.arange(n)), pa.string()), "")
    columns["acc"] = pa.array(np.where(rng.random(n) < 0.5, "Intérieur", "Extérieur"), pa.string())
    return pd.DataFrame({name: array.to_pandas() for name, array in columns.items()})
