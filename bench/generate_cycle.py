"""Generate a large cycle-path layer in the national schema's shape (aménagements cyclables 0.3.5).

LineStrings of 5 to 50 vertices, smooth random walks (the heading drifts, with an occasional
right-angle turn) starting around the same 30 French city centres as ``generate.py``;
greenways run longer and further out. Every field of the schema the demo file fills, with its
enumerations (``ame_d``/``ame_g``, ``regime_*``, ``sens_*``, ``statut_*``, ``revet_*``…), ids
``BENCH-AC-0000001``; a free-text comment (``comm``, removed by the RGPD rules) on some lines.
Written as a GeoPackage in Lambert-93 (EPSG:2154), as most communes publish it, so that the
ingestion pays for the reprojection a real file costs; ``geocommune ingest amenagements-cyclables``
accepts it. Column-wise numpy only: about 10 s for 200,000 lines.

    python bench/generate_cycle.py --rows 200000 --seed 42 --out bench/out/cycle-200000-seed42.gpkg
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from generate import CITIES  # noqa: E402

LAYER = "amenagements_cyclables"
KINDS = [
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
COMMENTS = ["forte pente sur 50 mètres", "revêtement dégradé, réfection prévue", "éclairage solaire",
            "traversée à sécuriser", "marquage effacé", "jalonnement vers la gare"]


def _pick(kind: np.ndarray, column: int) -> np.ndarray:
    return np.array([k[column] for k in KINDS], dtype=object)[kind]


def generate(rows: int = 200_000, seed: int = 42):
    """A GeoDataFrame of ``rows`` cycle-path LineStrings (EPSG:2154), deterministic for ``seed``."""
    import geopandas as gpd
    import shapely
    from pyproj import Transformer

    rng = np.random.default_rng(seed)
    n = rows
    names, insee, _cp, lat0, lon0, pop = (np.array(c) for c in zip(*CITIES))
    pop = pop.astype(float)
    city = rng.choice(len(CITIES), n, p=pop / pop.sum())
    weights = np.array([k[0] for k in KINDS], dtype=float)
    kind = rng.choice(len(KINDS), n, p=weights / weights.sum())
    greenway = _pick(kind, 1) == "VOIE VERTE"
    sigma_m = (1500 + 60 * np.sqrt(pop)[city]) * np.where(greenway, 2.5, 1.0)
    lat = lat0.astype(float)[city] + rng.normal(0, 1, n) * sigma_m / 111_320
    lon = lon0.astype(float)[city] + rng.normal(0, 1, n) * sigma_m / (111_320 * np.cos(np.radians(lat)))
    x0, y0 = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True).transform(lon, lat)

    n_vertices = rng.integers(5, 51, n)
    step = np.array([k[7] for k in KINDS], dtype=float)[kind]
    line_of = np.repeat(np.arange(n), n_vertices)
    starts = np.concatenate([[0], np.cumsum(n_vertices)[:-1]])
    turn = rng.normal(0, 0.08, line_of.size) + np.where(rng.random(line_of.size) < 0.03,
                                                         rng.choice([-1.57, 1.57], line_of.size), 0)
    turn[starts] = rng.uniform(0, 2 * np.pi, n)
    heading = np.cumsum(turn)
    heading -= np.repeat(heading[starts] - turn[starts], n_vertices)  # restart the sum on each line
    seg = step[line_of] * rng.uniform(0.7, 1.3, line_of.size)
    seg[starts] = 0
    cx, cy = np.cumsum(seg * np.cos(heading)), np.cumsum(seg * np.sin(heading))
    cx -= np.repeat(cx[starts], n_vertices)
    cy -= np.repeat(cy[starts], n_vertices)
    coords = np.column_stack([np.repeat(x0, n_vertices) + cx, np.repeat(y0, n_vertices) + cy]).round(2)
    geoms = shapely.linestrings(coords, indices=line_of)

    regime = _pick(kind, 5)
    bounds = [KINDS[k][9] or (0.0, 0.0) for k in range(len(KINDS))]
    lo = np.array([b[0] for b in bounds])[kind]
    hi = np.array([b[1] for b in bounds])[kind]
    unmeasured = (hi == 0) | (rng.random(n) < 0.2)

    def width(column: int) -> np.ndarray:
        return np.where((_pick(kind, column) == "AUCUN") | unmeasured, np.nan, np.round(rng.uniform(lo, hi), 1))

    statut = rng.choice(["EN SERVICE", "EN TRAVAUX", "PROVISOIRE"], n, p=[0.93, 0.04, 0.03])
    revet = np.where(greenway, rng.choice(["LISSE", "RUGUEUX", "MEUBLE"], n, p=[0.6, 0.25, 0.15]), "LISSE")
    speed = _pick(kind, 8)
    city_names = names.astype(object)[city]
    osm = rng.integers(10**8, 10**9, n).astype(str).astype(object)
    osm[rng.random(n) >= 0.4] = None
    days = rng.integers(0, 1276, n)
    frame = pd.DataFrame({
        "id_local": pd.Series(np.arange(1, n + 1)).map("BENCH-AC-{:07d}".format).to_numpy(dtype=object),
        "reseau_loc": np.where(greenway, "Structurant",
                               rng.choice(["Structurant", "Autre", "REV"], n, p=[0.3, 0.65, 0.05])).astype(object),
        "nom_loc": np.where(greenway, "Voie verte de " + city_names, None),
        "id_osm": osm,
        "num_iti": np.where(greenway & (rng.random(n) < 0.5), "0050:", None),
        "code_com_d": insee.astype(object)[city], "ame_d": _pick(kind, 1), "regime_d": regime,
        "sens_d": _pick(kind, 3), "largeur_d": width(1),
        "local_d": np.where(_pick(kind, 1) == "AUCUN", None, _pick(kind, 6)),
        "statut_d": statut.astype(object), "revet_d": revet.astype(object),
        "code_com_g": insee.astype(object)[city], "ame_g": _pick(kind, 2),
        "regime_g": np.where(rng.random(n) < 0.05, "AUTRE", regime), "sens_g": _pick(kind, 4),
        "largeur_g": width(2), "local_g": np.where(_pick(kind, 2) == "AUCUN", None, _pick(kind, 6)),
        "statut_g": statut.astype(object), "revet_g": revet.astype(object),
        "access_ame": np.where(greenway, rng.choice(["ROLLER", "VTC"], n), "VELO DE ROUTE").astype(object),
        "date_maj": (np.datetime64("2022-01-01", "D") + days).astype(str).astype(object),
        "trafic_vit": pd.array([None if s is None else int(s) for s in np.array([k[8] for k in KINDS], dtype=object)]
                               , dtype="Int32")[kind],
        "lumiere": pd.array(np.where(rng.random(n) < 0.15, None, rng.random(n) < 0.6), dtype="boolean"),
        "d_service": pd.array(rng.integers(1995, 2025, n), dtype="Int32"),
        "comm": np.where(rng.random(n) < 0.15, rng.choice(COMMENTS, n), None),
        "source": "Banc de geocommune (données fictives)", "project_c": "Lambert 93", "ref_geo": "BD TOPO",
    })
    return gpd.GeoDataFrame(frame, geometry=geoms, crs="EPSG:2154")


def write_gpkg(path: Path, rows: int = 200_000, seed: int = 42) -> Path:
    """Write the file atomically (a partial file never has the final name)."""
    import pyogrio

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.stem}.{os.getpid()}.part.gpkg")
    partial.unlink(missing_ok=True)
    pyogrio.write_dataframe(generate(rows, seed), partial, layer=LAYER, driver="GPKG")
    partial.replace(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Génère une couche d'aménagements cyclables (schéma 0.3.5).")
    parser.add_argument("--rows", type=int, default=200_000, help="nombre de lignes (défaut : 200 000)")
    parser.add_argument("--seed", type=int, default=42, help="graine (défaut : 42)")
    parser.add_argument("--out", type=Path, default=None, help="GeoPackage (défaut : bench/out/cycle-N-seedS.gpkg)")
    args = parser.parse_args(argv)
    out = args.out or Path(__file__).parent / "out" / f"cycle-{args.rows}-seed{args.seed}.gpkg"
    start = time.perf_counter()
    write_gpkg(out, args.rows, args.seed)
    print(f"{args.rows} lignes écrites dans {out} ({out.stat().st_size / 2**20:.1f} Mio) "
          f"en {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
