"""CSV layouts, headers, encodings and codes with leading zeros, as real municipal files have them
(/work/shared/README.md, "What real municipal files look like")."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.readers import read_source
from reader_helpers import assert_lonlat, rules

# Nice, place Masséna (WGS84)
LON, LAT = 7.2700213, 43.6975519


# -- separators and layout -------------------------------------------------------------

@pytest.mark.parametrize(
    ("separator", "label"),
    [(",", ","), (";", ";"), ("\t", "\t"), ("|", "|")],
)
def test_separators(write, separator, label):
    rows = [["id", "nom", "code_postal", "lat", "lon"], ["1", "Masséna", "06000", str(LAT), str(LON)]]
    text = "\n".join(separator.join(r) for r in rows) + "\n"
    table = read_source(write("sep.csv", text))
    assert table.separator == label
    assert list(table.frame.columns) == ["id", "nom", "code_postal", "lat", "lon"]
    assert table.frame.loc[0, "code_postal"] == "06000"
    assert_lonlat(table, 0, LON, LAT)


def test_comma_space_separator_with_quoted_cells(write):
    text = (
        '"id", "nom", "adresse", "latitude", "longitude"\n'
        '"1", "Masséna", "place Masséna, Nice", "43.6975519", "7.2700213"\n'
        '"2", "Gare", "avenue Thiers, Nice", "43.7046", "7.2619"\n'
    )
    table = read_source(write("virgule_espace.csv", text))
    assert table.separator == ", "
    assert list(table.frame.columns) == ["id", "nom", "adresse", "latitude", "longitude"]
    assert table.frame["adresse"].tolist() == ["place Masséna, Nice", "avenue Thiers, Nice"]
    assert_lonlat(table, 0, LON, LAT)
    assert_lonlat(table, 1, 7.2619, 43.7046)


def test_crlf_no_trailing_newline_and_newline_in_quoted_cell(write):
    text = (
        "id;commentaire;lat;lon\r\n"
        '1;"sur deux\r\nlignes";43.6975519;7.2700213\r\n'
        "2;simple;43.7046;7.2619"  # no newline at the end of the file
    )
    table = read_source(write("crlf.csv", text))
    assert table.count == 2
    assert table.frame.loc[0, "commentaire"] == "sur deux\r\nlignes"
    assert table.frame.loc[1, "commentaire"] == "simple"
    assert table.row_numbers.tolist() == [2, 3]  # header = line 1
    assert_lonlat(table, 1, 7.2619, 43.7046)


def test_empty_last_column_named_and_unnamed(write):
    # A named last column left empty: kept, cells missing.
    named = read_source(write("named.csv", "id;lat;lon;commentaire\n1;43.7;7.27;\n2;43.71;7.26;\n"))
    assert list(named.frame.columns) == ["id", "lat", "lon", "commentaire"]
    assert named.frame["commentaire"].isna().all()
    # A trailing separator everywhere: a nameless empty column, dropped with a note.
    unnamed = read_source(write("unnamed.csv", "id;lat;lon;\n1;43.7;7.27;\n2;43.71;7.26;\n"))
    assert list(unnamed.frame.columns) == ["id", "lat", "lon"]
    assert "csv-layout" in rules(unnamed)
    # Data rows one separator longer than the header (Excel exports): still read.
    ragged = read_source(write("ragged.csv", "id;lat;lon\n1;43.7;7.27;\n2;43.71;7.26;\n"))
    assert ragged.frame["id"].tolist() == ["1", "2"]
    assert_lonlat(ragged, 1, 7.26, 43.71)


def test_utf8_bom_from_excel(write):
    table = read_source(write("bom.csv", "nom;lat;lon\nÉcole élémentaire;43.7;7.27\n", bom=True))
    assert table.encoding == "utf-8-sig"
    assert list(table.frame.columns) == ["nom", "lat", "lon"]  # no \ufeff glued to "nom"
    assert table.frame.loc[0, "nom"] == "École élémentaire"


def test_empty_cells_are_missing_but_na_text_is_kept(write):
    table = read_source(write("na.csv", "id;etat;lat;lon\n1;NA;43.7;7.27\n2;;43.71;7.26\n3;null;43.72;7.25\n"))
    etat = table.frame["etat"]
    assert etat.iloc[0] == "NA" and etat.iloc[2] == "null"
    assert pd.isna(etat.iloc[1])


# -- headers ----------------------------------------------------------------------------

def test_header_spaces_comment_prefix_and_case(write):
    text = "## Geo Point;Name; long ;lat \n\"43.6975519, 7.2700213\";Masséna;7.2700213;43.6975519\n"
    table = read_source(write("headers.csv", text))
    assert list(table.frame.columns) == ["Geo Point", "Name", "long", "lat"]
    assert_lonlat(table, 0, LON, LAT)


def test_duplicate_and_blank_header_names(write):
    table = read_source(write("dup.csv", "nom;nom;;lat;lon\na;b;c;43.7;7.27\n"))
    assert list(table.frame.columns) == ["nom", "nom.1", "Unnamed: 2", "lat", "lon"]
    assert table.frame.loc[0, "Unnamed: 2"] == "c"


def test_misspelt_coordinate_column_is_still_found(write):
    # "lat_coor12" is a misspelling seen in real Géo'DAE files; the catalogue hint names lat_coor1.
    text = "nom;lat_coor12;long_coor1\nMairie;43.6975519;7.2700213\n"
    table = read_source(write("dae.csv", text), coordinates={"lat": "lat_coor1", "lon": "long_coor1"})
    assert table.coordinate_columns == ["long_coor1", "lat_coor12"]
    assert "coordinates-hint-missing" in rules(table)
    assert_lonlat(table, 0, LON, LAT)


# -- encodings --------------------------------------------------------------------------

@pytest.mark.parametrize("encoding", ["cp1252", "latin-1"])
def test_windows_and_latin1_csv(write, encoding):
    text = "nom;commune;lat;lon\nÉcole Jean-Macé;Saint-Étienne-de-Tinée;44.2568;6.9242\n"
    table = read_source(write("latin.csv", text, encoding=encoding))
    assert table.encoding == "cp1252"  # Latin-1 text is a subset for these characters
    assert table.frame.loc[0, "nom"] == "École Jean-Macé"
    assert table.frame.loc[0, "commune"] == "Saint-Étienne-de-Tinée"


def test_cp1252_specific_characters(write):
    table = read_source(write("cp.csv", "nom;lat;lon\nŒuvre – « 5 € »;43.7;7.27\n", encoding="cp1252"))
    assert table.frame.loc[0, "nom"] == "Œuvre – « 5 € »"


def test_utf8_detected_even_when_accents_come_late(write):
    filler = "".join(f"{i};ligne;43.7;7.27\n" for i in range(60000))  # > 1 MiB of ASCII first
    text = "id;nom;lat;lon\n" + filler + "60000;Crèche;43.7;7.27\n"
    table = read_source(write("late.csv", text))
    assert table.frame["nom"].iloc[-1] == "Crèche"


def test_cp1252_detected_when_accents_come_late(write):
    filler = "".join(f"{i};ligne;43.7;7.27\n" for i in range(60000))
    text = "id;nom;lat;lon\n" + filler + "60000;Crèche;43.7;7.27\n"
    table = read_source(write("late1252.csv", text, encoding="cp1252"))
    assert table.frame["nom"].iloc[-1] == "Crèche"
    assert table.encoding == "cp1252"


def test_utf16_excel_unicode_text(write):
    text = "nom\tlat\tlon\nCrèche\t43.7\t7.27\n"
    table = read_source(write("unicode.txt", text.encode("utf-16")))
    assert table.separator == "\t"
    assert table.frame.loc[0, "nom"] == "Crèche"


# -- codes with leading zeros -----------------------------------------------------------

def test_codes_keep_leading_zeros(write):
    text = (
        "code_postal;code_insee;siren;siret;num;lat;lon\n"
        "06000;06088;012345678;01234567800012;007;43.7;7.27\n"
        "01053;01053;123456789;12345678900001;6.0;46.2;5.22\n"
        "20000;2A004;234567890;23456789000002;10;41.92;8.73\n"
        "87000;87085;345678901;34567890100003;;45.83;1.26\n"
    )
    frame = read_source(write("codes.csv", text)).frame
    assert frame["code_postal"].tolist() == ["06000", "01053", "20000", "87000"]
    assert frame["code_insee"].tolist() == ["06088", "01053", "2A004", "87085"]
    assert frame["siren"].iloc[0] == "012345678"
    assert frame["siret"].iloc[0] == "01234567800012"
    assert frame["num"].tolist()[:3] == ["007", "6.0", "10"]  # ids as written, "6.0" included
    assert all(pd.api.types.is_string_dtype(frame[c].dtype) for c in frame.columns)


def test_large_csv_reads_every_row_as_text(write):
    n = 20000
    codes = np.char.zfill(np.arange(n).astype(str), 5)
    lines = "\n".join(f"{c};{43 + i / n:.7f};{7 + i / n:.7f}" for i, c in enumerate(codes))
    table = read_source(write("big.csv", "code;lat;lon\n" + lines + "\n"))
    assert table.count == n
    assert table.frame["code"].iloc[0] == "00000"
    assert table.row_numbers[-1] == n + 1
    assert table.count_null_geometry == 0


def test_rows_longer_than_the_header_keep_their_values(write):
    table = read_source(write("long.csv", "id;lat;lon\n1;43.7;7.27;reste\n2;43.71;7.26\n"))
    assert list(table.frame.columns) == ["id", "lat", "lon", "Unnamed: 3"]
    assert table.frame.loc[0, "Unnamed: 3"] == "reste"
    assert "csv-layout" in rules(table)


def test_zipped_csv(tmp_path):
    import zipfile

    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("export/dae.csv", "code_postal;lat;lon\n06000;43.6975519;7.2700213\n")
    table = read_source(archive)
    assert table.format == "CSV" and table.path == archive
    assert table.frame.loc[0, "code_postal"] == "06000"
    assert_lonlat(table, 0, LON, LAT)


def test_comma_space_separator_without_quotes(write):
    table = read_source(write("espaces.csv", "id, nom, lat, lon\n1, Masséna, 43.6975519, 7.2700213\n"))
    assert table.separator == ", "
    assert table.frame.loc[0, "nom"] == "Masséna"
    assert_lonlat(table, 0, LON, LAT)


def test_bytes_undefined_in_windows1252_fall_back_to_latin1(write):
    filler = "".join(f"{i};ligne;43.7;7.27\n" for i in range(60000))
    data = ("id;nom;lat;lon\n" + filler).encode() + b"60000;caf\xe9 \x81;43.7;7.27\n"
    table = read_source(write("mixed.csv", data))
    assert table.encoding == "latin-1"
    assert table.frame["nom"].iloc[-1] == "café \x81"
