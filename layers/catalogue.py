"""The layer catalogue: config/catalogue.yaml, loaded once and validated with clear errors."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .errors import CatalogueError, GeocommuneError, UnknownLayerError
from .settings import CONFIG_DIR
from .territory import DEFAULT_BBOXES, DEFAULT_NAME

CATALOGUE_SCHEMA = CONFIG_DIR / "catalogue.schema.json"

FREQUENCY_LABELS = {
    "continuous": ("en continu", "continuous"),
    "daily": ("quotidienne", "daily"),
    "weekly": ("hebdomadaire", "weekly"),
    "monthly": ("mensuelle", "monthly"),
    "quarterly": ("trimestrielle", "quarterly"),
    "biannual": ("semestrielle", "every six months"),
    "annual": ("annuelle", "annual"),
    "irregular": ("irrégulière", "irregular"),
}


@dataclass(frozen=True)
class Licence:
    key: str
    name: str
    url: str
    spdx: str | None = None


@dataclass(frozen=True)
class SchemaRef:
    name: str
    version: str
    kind: str  # "table-schema" | "json-schema"
    path: Path  # absolute
    title: str | None = None
    url: str | None = None

    @property
    def label(self) -> str:
        return f"{self.name} {self.version}"


@dataclass(frozen=True)
class RGPDRules:
    drop: tuple[str, ...] = ()
    drop_patterns: tuple[str, ...] = ()
    drop_if_person_test: str | None = None
    drop_if_person_fields: tuple[str, ...] = ()
    scrub_free_text: bool = True
    note: dict[str, str] = field(default_factory=dict)

    def drops(self, column: str) -> bool:
        """True when ``column`` is always removed before publication."""
        if column in self.drop:
            return True
        return any(re.search(p, column, flags=re.IGNORECASE) for p in self.drop_patterns)


@dataclass(frozen=True)
class LayerSpec:
    id: str
    title: dict[str, str]
    description: dict[str, str]
    keywords: dict[str, list[str]]
    schema: SchemaRef
    licence: Licence
    producer: str
    update_frequency: str
    geometry: str
    rgpd: RGPDRules
    coordinates: dict[str, str] = field(default_factory=dict)
    id_field: str | None = None
    adapter: str | None = None
    mapping: dict[str, str] = field(default_factory=dict)
    # Published fields that get an attribute index (the filters people make: commune, status…).
    indexes: tuple[str, ...] = ()

    @property
    def frequency_label(self) -> dict[str, str]:
        fr, en = FREQUENCY_LABELS[self.update_frequency]
        return {"fr": fr, "en": en}


@dataclass(frozen=True)
class Catalogue:
    path: Path
    publisher: dict[str, str]
    territory_name: str
    territory_bboxes: tuple[tuple[float, float, float, float], ...]
    licences: dict[str, Licence]
    layers: tuple[LayerSpec, ...]

    @property
    def ids(self) -> list[str]:
        return [layer.id for layer in self.layers]

    def layer(self, layer_id: str) -> LayerSpec:
        for layer in self.layers:
            if layer.id == layer_id:
                return layer
        known = ", ".join(self.ids)
        raise UnknownLayerError(
            f"couche inconnue « {layer_id} » ; couches du catalogue : {known}",
            file=self.path,
        )


DEFAULT_TERRITORY = (DEFAULT_NAME, tuple(tuple(box) for box in DEFAULT_BBOXES))


def _json_path(error: jsonschema.ValidationError) -> str:
    out = ""
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(racine)"


def _check_indexes(spec: LayerSpec, where: str, path: Path) -> None:
    """Each indexed name must be a field the layer publishes: a field of its national schema
    that is neither a coordinate (published as the geometry) nor removed by the RGPD rules,
    and not a list. Checked here, when the catalogue is read — before any ingestion, and
    whatever the source file holds — so that a typo is the data team's error at once."""
    # Imported here: layers.schemas imports this module, and only layers with indexes need them.
    from .normalise import store_type
    from .schemas import load_schema

    try:
        schema = load_schema(spec.schema)
    except GeocommuneError as exc:
        raise CatalogueError(f"{where} : schéma illisible, index impossibles à vérifier : {exc}",
                             file=path, field="indexes") from None
    coordinates = {v for k, v in spec.coordinates.items() if k in ("lat", "lon", "point")}
    published = {}
    for spec_field in schema.fields:
        if spec_field.name in coordinates or spec.rgpd.drops(spec_field.name):
            continue
        # The pipeline publishes a schema field "id" as "id_source" unless it is the feature id.
        name = "id_source" if spec_field.name == "id" and spec.id_field != "id" else spec_field.name
        if name != "id":
            published[name] = store_type(spec_field)
    for name in spec.indexes:
        if name == "id":
            problem = "« id » est l'identifiant des entités, déjà indexé"
        elif name in coordinates:
            problem = f"« {name} » est une coordonnée, publiée dans la géométrie (déjà indexée spatialement)"
        elif schema.field(name) is not None and spec.rgpd.drops(name):
            problem = f"« {name} » est retiré avant publication (règles RGPD de la couche)"
        elif name not in published:
            problem = (f"« {name} » n'est pas un champ publié de la couche (schéma {schema.name} "
                       f"{schema.version}) ; champs possibles : {', '.join(sorted(published))}")
        elif published[name] == "array":
            problem = f"« {name} » est une liste : un index ne servirait pas aux filtres sur ses valeurs"
        else:
            continue
        raise CatalogueError(f"{where} : index sur un champ impossible : {problem}", file=path, field="indexes")


def load_catalogue(path: str | Path) -> Catalogue:
    """Load and validate the catalogue; every problem is a ``CatalogueError`` naming the entry."""
    path = Path(path)
    if not path.is_file():
        raise CatalogueError("catalogue introuvable", file=path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        raise CatalogueError(
            f"YAML illisible : {getattr(exc, 'problem', exc)}",
            file=path,
            line=line + 1 if line is not None else None,
        ) from None
    except UnicodeDecodeError:
        raise CatalogueError("le catalogue doit être encodé en UTF-8", file=path) from None

    schema = json.loads(CATALOGUE_SCHEMA.read_text(encoding="utf-8"))
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(raw), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        first = errors[0]
        more = f" (et {len(errors) - 1} autre(s) erreur(s))" if len(errors) > 1 else ""
        raise CatalogueError(
            f"{_json_path(first)} : {first.message}{more}", file=path, field=_json_path(first)
        )

    licences = {
        key: Licence(key, value["name"], value["url"], value.get("spdx"))
        for key, value in raw["licences"].items()
    }
    base = path.parent
    layers: list[LayerSpec] = []
    seen: set[str] = set()
    for index, entry in enumerate(raw["layers"]):
        where = f"layers[{index}] ({entry['id']})"
        if entry["id"] in seen:
            raise CatalogueError(f"{where} : identifiant en double", file=path, field="id")
        seen.add(entry["id"])
        if entry["licence"] not in licences:
            raise CatalogueError(
                f"{where} : licence « {entry['licence']} » absente de la section licences "
                f"({', '.join(licences)})",
                file=path,
                field="licence",
            )
        schema_path = (base / entry["schema"]["path"]).resolve()
        if not schema_path.is_file():
            raise CatalogueError(
                f"{where} : fichier de schéma introuvable : {schema_path}", file=path, field="schema.path"
            )
        coords = entry.get("coordinates", {})
        if coords and not ({"lat", "lon"} <= coords.keys() or "point" in coords):
            raise CatalogueError(
                f"{where} : coordinates doit donner lat et lon, ou point", file=path, field="coordinates"
            )
        rgpd = entry["rgpd"]
        person = rgpd.get("drop_if_person") or {}
        for pattern in rgpd.get("drop_patterns", []):
            try:
                re.compile(pattern)
            except re.error as exc:
                raise CatalogueError(
                    f"{where} : expression régulière invalide « {pattern} » : {exc}",
                    file=path,
                    field="rgpd.drop_patterns",
                ) from None
        if entry.get("adapter"):
            adapter_file = Path(__file__).parent / "adapters" / f"{entry['adapter']}.py"
            if not adapter_file.is_file():
                raise CatalogueError(
                    f"{where} : module d'adaptation « {entry['adapter']} » introuvable dans layers/adapters/",
                    file=path,
                    field="adapter",
                )
        spec = LayerSpec(
            id=entry["id"],
            title=entry["title"],
            description=entry["description"],
            keywords=entry["keywords"],
            schema=SchemaRef(
                name=entry["schema"]["name"],
                version=entry["schema"]["version"],
                kind=entry["schema"]["kind"],
                path=schema_path,
                title=entry["schema"].get("title"),
                url=entry["schema"].get("url"),
            ),
            licence=licences[entry["licence"]],
            producer=entry["producer"],
            update_frequency=entry["update_frequency"],
            geometry=entry["geometry"],
            rgpd=RGPDRules(
                drop=tuple(rgpd.get("drop", [])),
                drop_patterns=tuple(rgpd.get("drop_patterns", [])),
                drop_if_person_test=person.get("test"),
                drop_if_person_fields=tuple(person.get("fields", [])),
                scrub_free_text=rgpd.get("scrub_free_text", True),
                note=rgpd["note"],
            ),
            coordinates=coords,
            id_field=entry.get("id_field"),
            adapter=entry.get("adapter"),
            mapping=entry.get("mapping", {}),
            indexes=tuple(entry.get("indexes", ())),
        )
        if spec.indexes:
            _check_indexes(spec, where, path)
        layers.append(spec)
    territory = raw.get("territory")
    if territory:
        t_name = territory.get("name", "territoire")
        t_boxes = tuple(tuple(float(v) for v in b) for b in territory["bboxes"])
    else:
        t_name, t_boxes = DEFAULT_TERRITORY
    for box in t_boxes:
        if not (box[0] < box[2] and box[1] < box[3]):
            raise CatalogueError(f"territory : emprise invalide {list(box)} (attendu [ouest, sud, est, nord])", file=path, field="territory.bboxes")
    return Catalogue(
        path=path,
        publisher=raw["publisher"],
        territory_name=t_name,
        territory_bboxes=t_boxes,  # type: ignore[arg-type]
        licences=licences,
        layers=tuple(layers),
    )


@lru_cache(maxsize=8)
def _cached(path: str, mtime: float) -> Catalogue:
    return load_catalogue(path)


def get_catalogue(path: str | Path) -> Catalogue:
    """Cached load, re-read when the file changes."""
    p = Path(path)
    mtime = p.stat().st_mtime if p.exists() else 0.0
    return _cached(str(p), mtime)
