"""The ``geocommune`` command as a data team types it: real subprocess, real files.

Every error path answers one clear French line naming the file and the problem, a
non-zero exit code, and never a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GEOCOMMUNE = [sys.executable, "-m", "server.cli"]

DAE_CSV = (
    "nom;lat_coor1;long_coor1;com_cp;acc;acc_lib;disp_j;disp_h;tel1;expt_email;etat_fonct;fab_rais;modele;"
    "num_serie;dermnt;expt_siren;expt_rais;expt_tel1\n"
    "DAE Mairie;45,1885;5,7245;06000;Intérieur;oui;lundi|mardi;heures ouvrables;+33612345678;a@b.fr;"
    "En fonctionnement;Zoll;AED;SN1;2024-01-01;213800000;Commune de Grenoble;+33476000000\n"
)


def run(*args: str, cwd: Path, timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*GEOCOMMUNE, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(cwd)})


@pytest.fixture
def dae(tmp_path) -> Path:
    path = tmp_path / "dae.csv"
    path.write_text(DAE_CSV, encoding="utf-8")
    return path


def test_inspect_json_keys(tmp_path, dae):
    out = run("inspect", str(dae), "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    for key in ("format", "encoding", "crs", "crs_source", "geometry_types", "count", "count_null_geometry",
                "bbox_wgs84", "columns"):
        assert key in info
    assert info["format"] == "CSV" and info["crs"] in ("EPSG:4326", "OGC:CRS84") and info["count"] == 1
    assert info["geometry_types"] == ["Point"]
    assert info["bbox_wgs84"][0] == pytest.approx(5.7245) and info["bbox_wgs84"][1] == pytest.approx(45.1885)
    assert "com_cp" in info["columns"]
    text = run("inspect", str(dae), cwd=tmp_path)
    assert text.returncode == 0 and "CSV" in text.stdout


def test_validate_exit_codes_and_json(tmp_path, dae):
    out = run("validate", "defibrillateurs", str(dae), "--json", cwd=tmp_path)
    assert out.returncode == 1  # decimal commas: not conforming
    report = json.loads(out.stdout)
    assert report["conforms"] is False
    assert any(p["field"] == "lat_coor1" and p["rule"] == "type" and p["row"] == 2 for p in report["problems"])


def test_ingest_then_layers(tmp_path, dae):
    data = tmp_path / "data"
    out = run("--data", str(data), "ingest", "defibrillateurs", str(dae), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 entité(s) publiée(s)" in out.stdout
    listed = json.loads(run("--data", str(data), "layers", "--json", cwd=tmp_path).stdout)
    dae_row = next(r for r in listed if r["id"] == "defibrillateurs")
    assert dae_row["published"] and dae_row["count"] == 1 and dae_row["source"] == "dae.csv"
    assert not next(r for r in listed if r["id"] == "stationnement-velo")["published"]
    strict = run("--data", str(data), "ingest", "defibrillateurs", str(dae), "--strict", cwd=tmp_path)
    assert strict.returncode == 1 and "rien n'a été publié" in strict.stderr


def _no_traceback(out: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in out.stderr + out.stdout
    assert len(out.stderr.strip().splitlines()) <= 2, out.stderr


@pytest.mark.parametrize("case", ["missing", "unknown-layer", "empty", "header-only", "binary", "unknown-crs",
                                  "wrong-schema", "unknown-extension", "bad-catalogue", "bad-index"])
def test_error_paths(tmp_path, dae, case):
    args: list[str]
    if case == "missing":
        args, expected = ["ingest", "defibrillateurs", str(tmp_path / "absent.csv")], "absent.csv"
    elif case == "unknown-layer":
        args, expected = ["ingest", "piscines", str(dae)], "piscines"
    elif case == "empty":
        (tmp_path / "vide.csv").write_bytes(b"")
        args, expected = ["ingest", "defibrillateurs", str(tmp_path / "vide.csv")], "vide.csv"
    elif case == "header-only":
        (tmp_path / "entete.csv").write_text("nom;lat_coor1;long_coor1\n", encoding="utf-8")
        args, expected = ["ingest", "defibrillateurs", str(tmp_path / "entete.csv")], "entete.csv"
    elif case == "binary":
        (tmp_path / "casse.gpkg").write_bytes(b"\x00\x01garbage" * 100)
        args, expected = ["inspect", str(tmp_path / "casse.gpkg")], "casse.gpkg"
    elif case == "unknown-crs":
        args, expected = ["ingest", "defibrillateurs", str(dae), "--crs", "EPSG:999999"], "999999"
    elif case == "wrong-schema":
        other = tmp_path / "velos.csv"
        other.write_text('id_local,coordonneesxy,capacite\nA1,"[5.71,45.19]",8\n', encoding="utf-8")
        args, expected = ["ingest", "defibrillateurs", str(other)], "aucune colonne"
    elif case == "unknown-extension":
        (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04 not really")
        args, expected = ["inspect", str(tmp_path / "notes.docx")], "notes.docx"
    elif case == "bad-index":  # the data team's typo in the catalogue: nothing is ingested
        raw = yaml.safe_load((ROOT / "config" / "catalogue.yaml").read_text(encoding="utf-8"))
        for layer in raw["layers"]:
            layer["schema"]["path"] = str(ROOT / "config" / layer["schema"]["path"])
        raw["layers"][0]["indexes"] = ["com_insee", "comnom"]
        (tmp_path / "cat.yaml").write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
        args = ["--catalogue", str(tmp_path / "cat.yaml"), "ingest", "defibrillateurs", str(dae)]
        expected = "cat.yaml : champ « indexes » : layers[0] (defibrillateurs) : index sur un champ impossible : « comnom »"
    else:
        (tmp_path / "cat.yaml").write_text("layers: []\n", encoding="utf-8")
        args, expected = ["--catalogue", str(tmp_path / "cat.yaml"), "layers"], "cat.yaml"
    out = run("--data", str(tmp_path / "data"), *args, cwd=tmp_path)
    assert out.returncode == 2, (out.returncode, out.stdout, out.stderr)
    assert out.stderr.startswith("geocommune : ") and expected in out.stderr
    _no_traceback(out)
    assert not (tmp_path / "data" / "defibrillateurs.gpkg").exists()


def test_usage_error_is_one_french_line(tmp_path):
    out = run("ingest", cwd=tmp_path)
    assert out.returncode == 2 and "erreur" in out.stderr
    _no_traceback(out)
