"""The national Géo'DAE export is rewritten into DAE schema 1.0.7 notation."""

import pandas as pd

from layers.adapters import geodae
from layers.report import Report
from layers.schema_model import FieldSpec, NationalSchema

SCHEMA = NationalSchema(
    name="schema-dae", version="1.0.7", kind="table-schema", raw={},
    fields=[
        FieldSpec("nom", "string", required=True),
        FieldSpec("acc_lib", "boolean", true_values=("oui",), false_values=("non",)),
        FieldSpec("disp_j", "string", pattern=r"^(7j/7|lundi|mardi|jours fériés){1}(\|(7j/7|lundi|mardi|jours fériés))*$"),
        FieldSpec("com_cp", "string", pattern=r"^\d{5}$"),
    ],
)


def test_detects_and_rewrites_export():
    frame = pd.DataFrame({
        "c_gid": ["1", "2", "3"],
        "c_nom": ["Mairie", "Gymnase", "Gymnase"],
        "c_acc_lib": ["t", "f", "peut-être"],
        "c_disp_j": ['{lundi,mardi,"jours fériés"}', "{7j/7}", None],
        "c_com_cp": ["06000", "38000", "38000"],
        "c_doublon": ["f", "f", "t"],
    })
    report = Report(layer="defibrillateurs", source="x.csv")
    out, flags = geodae.prepare(frame, SCHEMA, report)
    assert list(out.columns) == ["gid", "nom", "acc_lib", "disp_j", "com_cp"]
    assert out["acc_lib"].tolist() == ["oui", "non", "peut-être"]  # unknown word kept for validation to report
    assert out["disp_j"].tolist()[:2] == ["lundi|mardi|jours fériés", "7j/7"]
    assert pd.isna(out["disp_j"].iloc[2])
    assert out["com_cp"].tolist()[0] == "06000"
    assert flags.tolist() == [False, False, True]
    assert any("Géo'DAE" in n for n in report.notes)


def test_plain_dae_file_is_left_alone():
    frame = pd.DataFrame({"nom": ["a"], "acc_lib": ["oui"], "lat_coor1": ["45.1"], "c_note": ["x"]})
    out, flags = geodae.prepare(frame, SCHEMA, Report(layer="d", source="f"))
    assert out is frame and flags is None
    assert geodae.source_name("lat_coor1") == "c_lat_coor1"
