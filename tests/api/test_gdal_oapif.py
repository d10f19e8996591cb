"""GDAL's OAPIF driver (the GDAL command-line tools, as installed by scripts/setup.sh)
against the real server, on a realistic Géo'DAE layer: layer list, spatial filter,
attribute filters, the id lookup GDAL 3.6 builds from the collection's items link, and a
round trip through ``ogr2ogr -f GPKG`` that walks every page."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pyogrio
import pytest
import shapely

LAYER = "defibrillateurs"
TIMEOUT = 120

pytestmark = pytest.mark.skipif(
    shutil.which("ogrinfo") is None or shutil.which("ogr2ogr") is None,
    reason="GDAL command-line tools not installed (scripts/setup.sh installs gdal-bin)",
)


def gdal(*args: str, debug: bool = False) -> subprocess.CompletedProcess:
    env = {**os.environ, "CPL_DEBUG": "ON" if debug else "OFF", "GDAL_HTTP_TIMEOUT": "30"}
    done = subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, env=env)
    assert done.returncode == 0, f"{' '.join(args)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
    assert "ERROR" not in done.stderr, done.stderr[-3000:]
    return done


def feature_count(output: str) -> int:
    match = re.search(r"Feature Count: (\d+)", output)
    assert match, output[-2000:]
    return int(match.group(1))


def ids_of(output: str) -> list[str]:
    return re.findall(r"^\s+id \(String\) = (.+)$", output, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def source(dae_server) -> str:
    return f"OAPIF:{dae_server.url}"


def test_ogrinfo_lists_the_layers(source):
    output = gdal("ogrinfo", "-ro", "-so", source).stdout
    assert re.search(rf"1: {LAYER} \(title: Défibrillateurs automatisés externes \(DAE\)\) \(Point\)", output), output


def test_ogrinfo_layer_summary_counts_every_feature(source, dae_server):
    output = gdal("ogrinfo", "-ro", "-so", source, LAYER).stdout
    assert feature_count(output) == len(dae_server.frame)
    assert "com_insee: String" in output and "acc_lib: Integer(Boolean)" in output


def test_spatial_filter(source, dae_server):
    box = (5.20, 46.15, 5.25, 46.22)
    frame = dae_server.frame
    want = set(frame.loc[frame.intersects(shapely.box(*box)), "id"])
    done = gdal("ogrinfo", "-ro", "-q", source, LAYER, "-spat", *map(str, box), debug=True)
    assert set(ids_of(done.stdout)) == want and len(want) > 0
    assert f"bbox={box[0]}" in done.stderr.replace("%2C", ",")  # the box went to the server


@pytest.mark.parametrize(
    "where, select",
    [
        ("com_insee = '01289'", lambda f: f["com_insee"] == "01289"),
        ("com_insee = '01053' AND acc = 'Extérieur'", lambda f: (f["com_insee"] == "01053") & (f["acc"] == "Extérieur")),
        ("acc_lib = 1", lambda f: f["acc_lib"]),
        ("nom LIKE 'Mairie%'", lambda f: f["nom"].str.startswith("Mairie")),  # evaluated by GDAL itself
    ],
)
def test_attribute_filter(source, dae_server, where, select):
    frame = dae_server.frame
    want = set(frame.loc[select(frame).fillna(False).astype(bool), "id"])
    output = gdal("ogrinfo", "-ro", "-q", source, LAYER, "-where", where).stdout
    assert set(ids_of(output)) == want and len(want) > 0


def test_id_lookup_reads_one_item(source, dae_server):
    wanted = dae_server.frame["id"].iloc[42]
    done = gdal("ogrinfo", "-ro", "-q", source, LAYER, "-where", f"id = '{wanted}'", debug=True)
    assert ids_of(done.stdout) == [wanted]
    assert f"/collections/{LAYER}/items/{wanted})" in done.stderr  # one GET of the item itself
    assert "?f=json/" not in done.stderr


def test_ogr2ogr_round_trip_keeps_every_feature(source, dae_server, tmp_path):
    out = tmp_path / "copie.gpkg"
    gdal("ogr2ogr", "-f", "GPKG", str(out), source, LAYER)
    copy = pyogrio.read_dataframe(out, layer=LAYER)
    assert len(copy) == len(dae_server.frame)
    assert sorted(copy["id"]) == sorted(dae_server.frame["id"])
    original = dae_server.frame.set_index("id")
    sample = copy.set_index("id").loc[original.index[:50]]
    assert list(sample["com_insee"]) == list(original["com_insee"].iloc[:50])
    assert shapely.equals_exact(sample.geometry.values, original.geometry.values[:50], tolerance=1e-9).all()
