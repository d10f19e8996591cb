"""The production chain for one source file: read → detect CRS → validate → normalise → strip RGPD → publish.

``validate_file`` stops after validation and returns the report; ``ingest_file`` goes on
to publication. In lenient mode (the default) every row with a usable geometry is
published and the schema problems are recorded in the report and in the layer's
metadata; in strict mode nothing is published unless the file fully conforms.
"""

from __future__ import annotations

import hashlib
import re
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable

import geopandas as gpd
import numpy as np
import pandas as pd

from .adapters import load_adapter
from .catalogue import Catalogue, LayerSpec
from .errors import InputFileError, PublicationError, SchemaError, ValidationFailed
from .geometry import check_geometries
from .identity import content_hash, feature_ids, find_duplicates
from .mapping import map_columns
from .normalise import normalise_values
from .readers import read_source
from .report import Problem, Report
from .rgpd import strip_personal_data
from .schemas import load_schema
from .schema_model import NationalSchema
from .source import SourceTable
from .territory import Territory
from .validation import validate_features, validate_frame
from .values import to_multi_value

Progress = Callable[[str], None]


@dataclass
class PreparedLayer:
    spec: LayerSpec
    schema: NationalSchema
    source: SourceTable
    report: Report
    frame: gpd.GeoDataFrame | None  # what would be published (None after validation only)
    field_types: dict[str, str]
    source_sha256: str


@dataclass
class IngestResult:
    report: Report
    published: bool
    metadata: dict[str, Any] | None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _coordinate_hint(spec: LayerSpec) -> dict[str, str] | None:
    # When a source form renames the columns (Géo'DAE's c_lat_coor1), the hinted names are
    # absent and the reader falls back to detecting the coordinate columns itself.
    return dict(spec.coordinates) or None


def _fill_coordinate_fields(frame: pd.DataFrame, spec: LayerSpec, geometry: gpd.GeoSeries) -> pd.DataFrame:
    """A file with its own geometry (GeoPackage, Shapefile, GeoJSON) has no lat/lon columns:
    the schema's coordinate fields are derived from the geometry so they validate."""
    coords = spec.coordinates
    if not coords:
        return frame
    points = geometry.where(geometry.geom_type == "Point")
    if "lat" in coords and coords["lat"] not in frame.columns and coords["lon"] not in frame.columns:
        frame = frame.copy()
        frame[coords["lat"]] = points.y.round(7).astype("string")
        frame[coords["lon"]] = points.x.round(7).astype("string")
    elif "point" in coords and coords["point"] not in frame.columns:
        frame = frame.copy()
        frame[coords["point"]] = ("[" + points.x.round(7).astype("string") + "," + points.y.round(7).astype("string") + "]")
    return frame


def _lists_from_text(frame: pd.DataFrame, schema: NationalSchema, report: Report) -> pd.DataFrame:
    """Shapefile, GeoPackage and CSV cannot hold a list: a JSON Schema array field arrives
    as text (``V1:V6``, ``["V1"]``, ``{a,b}``) and is read as the list it stands for."""
    fields = [s.name for s in schema.fields if s.type == "array" and s.name in frame.columns]
    if not fields:
        return frame
    frame = frame.copy()
    for name in fields:
        frame[name] = to_multi_value(frame[name])
    report.notes.append("Champs listes lus depuis du texte (format sans listes) : " + ", ".join(fields))
    return frame


def _expected_by_source(problems: list[Problem], adapter, columns: list[str]) -> list[Problem]:
    """A source form that omits fields on purpose (the Géo'DAE export drops phones and
    e-mails) makes their absence an information, not an error."""
    omitted = getattr(adapter, "OMITTED_BY_SOURCE", frozenset()) if adapter is not None else frozenset()
    if not omitted or not adapter.detect(columns):
        return problems
    return [replace(p, severity="info", message=p.message + " (omis par l'export national, RGPD)")
            if p.rule == "missing-column" and p.field in omitted else p for p in problems]


def _check_schema_match(frame: pd.DataFrame, schema: NationalSchema, spec: LayerSpec, path: Path) -> None:
    """A file none of whose columns belongs to the layer's schema is the wrong file, not a
    badly conforming one: refuse it rather than publish geometry with no attributes."""
    present = [name for name in schema.names if name in frame.columns and name not in _coordinate_fields(spec)]
    if not present:
        found = ", ".join(list(map(str, frame.columns))[:12]) or "aucune"
        expected = ", ".join([f.name for f in schema.fields if f.required][:8])
        raise SchemaError(
            f"aucune colonne du fichier ne correspond au schéma {spec.schema.name} {spec.schema.version} "
            f"de la couche « {spec.id} » (colonnes trouvées : {found} ; attendues notamment : {expected}). "
            "Est-ce le bon fichier, ou la bonne couche ?",
            file=path,
        )


def _coordinate_fields(spec: LayerSpec) -> set[str]:
    return {v for k, v in spec.coordinates.items() if k in ("lat", "lon", "point")}


def prepare_layer(catalogue: Catalogue, layer_id: str, path: str | Path, *, crs: str | None = None,
                  validate_only: bool = False, progress: Progress | None = None) -> PreparedLayer:
    step = progress or (lambda _label: None)
    spec = catalogue.layer(layer_id)
    path = Path(path)
    if not path.exists():
        raise InputFileError("fichier introuvable", file=path)
    schema = load_schema(spec.schema)
    adapter = load_adapter(spec.adapter)
    territory = Territory(catalogue.territory_bboxes, catalogue.territory_name)
    report = Report(layer=spec.id, source=path.name, schema=f"{spec.schema.name} {spec.schema.version}")
    report.notes.extend(f"Schéma corrigé au chargement : {d}" for d in schema.defects)

    step("lecture")
    source = read_source(path, crs=crs, coordinates=_coordinate_hint(spec), territory=territory)
    report.extend(source.notes)
    report.counts["lues"] = source.count
    report.notes.append(f"SCR source : {source.source_crs} ({source.crs_source}) ; géométrie : {source.geometry_form}")
    if source.count == 0:
        raise InputFileError("le fichier ne contient aucune ligne de données", file=path)
    rows = np.asarray(source.row_numbers)

    frame = source.frame
    duplicate_flags = None
    if adapter is not None:
        frame, duplicate_flags = adapter.prepare(frame, schema, report)
    mapping = map_columns(list(frame.columns), schema, spec.mapping)
    report.extend(mapping.problems)
    frame = frame.rename(columns=mapping.rename)
    _check_schema_match(frame, schema, spec, path)
    frame = _fill_coordinate_fields(frame, spec, source.geometry)

    if schema.kind == "json-schema" and source.format != "GeoJSON":
        frame = _lists_from_text(frame, schema, report)

    step("validation")
    if schema.kind == "json-schema":
        # The geometry type is checked (and the row left out) by check_geometries: one report, not two.
        problems = [p for p in validate_features(frame, source.geometry, schema, rows) if p.rule != "geometry-type"]
    else:
        problems = validate_frame(frame, schema, rows)
    report.extend(_expected_by_source(problems, adapter, list(source.frame.columns)))
    sha = file_sha256(path)
    if validate_only:
        geometry, usable = check_geometries(source.geometry, spec.geometry, rows, territory, report)
        return PreparedLayer(spec, schema, source, report, None, {}, sha)

    step("normalisation")
    geometry, usable = check_geometries(source.geometry, spec.geometry, rows, territory, report)
    typed, field_types = normalise_values(frame, schema, pd.Series(rows, index=frame.index), report,
                                          skip=_coordinate_fields(spec))
    # Hash of the source's own schema values (not of the typed copies: cheaper, and just as stable).
    hashes = content_hash(frame[[c for c in frame.columns if schema.field(c) is not None]], geometry)
    keep = usable.copy()
    sub = np.flatnonzero(usable)
    id_values = typed[spec.id_field] if spec.id_field in typed.columns else None
    dup = find_duplicates(
        id_values.iloc[sub] if id_values is not None else None,
        hashes.iloc[sub],
        duplicate_flags.iloc[sub] if duplicate_flags is not None else None,
        rows[sub], report, spec.id_field,
    )
    keep[sub[dup]] = False
    ids = feature_ids(id_values, hashes)

    step("données personnelles")
    # Free text = published strings without a vocabulary, pattern or format, and not identifiers.
    free_text = [s.name for s in schema.fields
                 if field_types.get(s.name) == "string" and not s.enum and not s.pattern and not s.unique
                 and s.format not in ("uri", "email") and s.name != spec.id_field
                 and not re.search(r"siren|siret|insee|_cp$|^id", s.name)]
    cleaned = strip_personal_data(typed, spec.rgpd, report, free_text)
    field_types = {k: v for k, v in field_types.items() if k in cleaned.columns}

    published = cleaned.loc[keep].copy()
    if "id" in published.columns:
        if spec.id_field == "id":  # the schema's own identifier is the feature id (acceslibre)
            published = published.drop(columns=["id"])
        else:  # "id" is reserved for the stable feature id
            published = published.rename(columns={"id": "id_source"})
            field_types["id_source"] = field_types.pop("id", "string")
            report.notes.append("Le champ « id » du fichier est publié sous le nom « id_source ».")
    published.insert(0, "id", ids[keep].to_numpy())
    out = gpd.GeoDataFrame(published, geometry=geometry[keep].to_numpy(), crs="EPSG:4326")
    out = out.rename_geometry("geom") if "geom" not in out.columns else out
    report.counts["publiables"] = len(out)
    report.counts["rejetees"] = int(source.count - len(out))
    return PreparedLayer(spec, schema, source, report, out, field_types, sha)


def validate_file(catalogue: Catalogue, layer_id: str, path: str | Path, *, crs: str | None = None,
                  progress: Progress | None = None) -> Report:
    return prepare_layer(catalogue, layer_id, path, crs=crs, validate_only=True, progress=progress).report


def _indexed_fields(prepared: PreparedLayer) -> tuple[str, ...]:
    """The catalogue's indexed fields that this file publishes. The catalogue checked each
    name against the schema; an optional column absent from this file is only noted."""
    assert prepared.frame is not None
    columns = set(prepared.frame.columns)
    absent = [name for name in prepared.spec.indexes if name not in columns]
    if absent:
        prepared.report.notes.append(
            "Index non créé(s), colonne(s) absente(s) du fichier : " + ", ".join(f"« {n} »" for n in absent)
        )
    return tuple(name for name in prepared.spec.indexes if name in columns)


def _metadata(prepared: PreparedLayer, mode: str) -> dict[str, Any]:
    spec, report, source = prepared.spec, prepared.report, prepared.source
    return {
        "layer": spec.id,
        "title": spec.title,
        "description": spec.description,
        "keywords": spec.keywords,
        "licence": {"name": spec.licence.name, "url": spec.licence.url, "spdx": spec.licence.spdx},
        "producer": spec.producer,
        "update_frequency": spec.update_frequency,
        "schema": {"name": spec.schema.name, "version": spec.schema.version, "url": spec.schema.url,
                   "defects_corrected": prepared.schema.defects},
        "source": {"file": source.path.name, "sha256": prepared.source_sha256, "format": source.format,
                   "encoding": source.encoding, "crs": source.source_crs, "crs_source": source.crs_source,
                   "geometry_form": source.geometry_form},
        "ingested_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "mode": mode,
        "counts": {"read": source.count, "published": int(report.counts.get("publiables", 0)),
                   "rejected": int(report.counts.get("rejetees", 0))},
        "conformance": {"conforms": report.conforms, "errors": len(report.errors),
                        "warnings": len(report.warnings), "by_rule": report.by_rule()},
        "rgpd": {"note": spec.rgpd.note, "notes": [n for n in report.notes if "personnel" in n or "physique" in n or "retiré" in n]},
        "field_types": prepared.field_types,
        "report": report.to_dict(max_problems=200),
    }


def ingest_file(catalogue: Catalogue, store, layer_id: str, path: str | Path, *, crs: str | None = None,
                strict: bool = False, progress: Progress | None = None,
                fail_after_write: Callable[[], None] | None = None) -> IngestResult:
    prepared = prepare_layer(catalogue, layer_id, path, crs=crs, progress=progress)
    report = prepared.report
    if strict and report.errors:
        raise ValidationFailed(
            f"fichier non conforme au schéma {report.schema} : {len(report.errors)} erreur(s) ; "
            "rien n'a été publié (--strict). Relancez sans --strict pour publier les lignes utilisables.",
            report, file=path,
        )
    assert prepared.frame is not None
    if len(prepared.frame) == 0:
        raise PublicationError("aucune ligne publiable (toutes rejetées) : la couche publiée n'a pas été modifiée",
                               file=path)
    (progress or (lambda _l: None))("publication")
    indexes = _indexed_fields(prepared)  # before the metadata: its report carries the note
    metadata = _metadata(prepared, "strict" if strict else "lenient")
    kwargs: dict[str, Any] = {"fail_after_write": fail_after_write} if fail_after_write else {}
    if indexes:
        kwargs["indexes"] = indexes
    stored = store.publish(layer_id, prepared.frame, metadata, prepared.field_types, **kwargs)
    return IngestResult(report, True, stored if isinstance(stored, dict) else metadata)
