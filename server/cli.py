"""``geocommune`` — the one command: inspect, validate, ingest, list layers, serve.

Messages are in French. Bad input (missing file, unknown layer, unreadable file, unknown
CRS, wrong schema) gets one line naming the file and the problem and a non-zero exit —
never a traceback (set GEOCOMMUNE_DEBUG=1 to see one for an internal error).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

from layers.errors import GeocommuneError, ValidationFailed
from layers.settings import Settings, load_settings

EXIT_OK, EXIT_INVALID, EXIT_ERROR = 0, 1, 2
STAGES = ["lecture", "validation", "normalisation", "données personnelles", "publication"]


class _Parser(argparse.ArgumentParser):
    """argparse whose usage errors are one French line and exit code 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(EXIT_ERROR, f"{self.prog} : erreur : {message}\n(voir « {self.prog} --help »)\n")


def _progress(enabled: bool, stages: list[str]):
    """A progress bar over the chain's stages (shown on a terminal only)."""
    if not enabled:
        return None, (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=len(stages), desc="préparation", unit="étape", file=sys.stderr, leave=False,
               bar_format="{desc:<22} {bar} {n_fmt}/{total_fmt} [{elapsed}]")
    seen: list[str] = []

    def step(label: str) -> None:
        if seen:
            bar.update(1)
        seen.append(label)
        bar.set_description_str(label)

    def close() -> None:
        bar.update(bar.total - bar.n)
        bar.close()

    return step, close


def _settings(args: argparse.Namespace) -> Settings:
    return load_settings(
        data_dir=getattr(args, "data", None),
        catalogue=getattr(args, "catalogue", None),
        store=getattr(args, "store", None),
        host=getattr(args, "host", None),
        port=getattr(args, "port", None),
        workers=getattr(args, "workers", None),
    )


def _catalogue(settings: Settings):
    from layers.catalogue import load_catalogue

    return load_catalogue(settings.catalogue)


def _print_json(value: Any) -> None:
    print(json.dumps(value, ensure_ascii=False, indent=2, default=str))


# -- commands ------------------------------------------------------------------------
def cmd_inspect(args: argparse.Namespace) -> int:
    from layers.inspect import format_inspection_text, inspect_file

    info = inspect_file(args.file, layer=args.layer, crs=args.crs)
    if args.json:
        _print_json(info)
    else:
        print(format_inspection_text(info))
    return EXIT_OK


def cmd_validate(args: argparse.Namespace) -> int:
    from layers.pipeline import validate_file

    settings = _settings(args)
    catalogue = _catalogue(settings)
    catalogue.layer(args.layer)  # unknown layer → clear error before reading anything
    step, close = _progress(sys.stderr.isatty() and not args.json, STAGES[:2])
    try:
        report = validate_file(catalogue, args.layer, args.file, crs=args.crs, progress=step)
    finally:
        close()
    print(report.to_json() if args.json else report.to_text(max_problems=args.max))
    return EXIT_OK if report.conforms else EXIT_INVALID


def cmd_ingest(args: argparse.Namespace) -> int:
    from layers.pipeline import ingest_file
    from layers.store import open_store

    settings = _settings(args)
    catalogue = _catalogue(settings)
    catalogue.layer(args.layer)
    store = open_store(settings)
    step, close = _progress(sys.stderr.isatty() and not args.json, STAGES)
    try:
        result = ingest_file(catalogue, store, args.layer, args.file, crs=args.crs, strict=args.strict,
                             progress=step)
    except ValidationFailed as exc:
        close()
        report = exc.report
        print(report.to_json() if args.json else report.to_text(max_problems=args.max))  # type: ignore[attr-defined]
        print(f"geocommune : {exc}", file=sys.stderr)
        return EXIT_INVALID
    finally:
        close()
    report = result.report
    if args.json:
        print(report.to_json())
    else:
        print(report.to_text(max_problems=args.max))
        counts = report.counts
        print(f"\nPublié : couche « {args.layer} » — {counts.get('publiables', 0)} entité(s) publiée(s), "
              f"{counts.get('rejetees', 0)} ligne(s) non publiée(s), sur {counts.get('lues', 0)} lue(s).")
    return EXIT_OK


def cmd_layers(args: argparse.Namespace) -> int:
    from layers.store import open_store

    settings = _settings(args)
    catalogue = _catalogue(settings)
    store = open_store(settings)
    rows = []
    for spec in catalogue.layers:
        meta = store.metadata(spec.id)
        rows.append({
            "id": spec.id,
            "title": spec.title["fr"],
            "schema": f"{spec.schema.name} {spec.schema.version}",
            "licence": spec.licence.name,
            "published": meta is not None,
            "count": meta["counts"]["published"] if meta else None,
            "ingested_at": meta["ingested_at"] if meta else None,
            "source": meta["source"]["file"] if meta else None,
            "conforms": meta["conformance"]["conforms"] if meta else None,
        })
    if args.json:
        _print_json(rows)
        return EXIT_OK
    print(f"Catalogue : {catalogue.path} — données : {settings.data_dir}")
    for row in rows:
        state = (f"{row['count']} entité(s), publiée le {row['ingested_at']} depuis {row['source']}"
                 + ("" if row["conforms"] else " (écarts au schéma : voir les métadonnées)")
                 if row["published"] else "non publiée")
        print(f"  {row['id']:<26} {row['title']}\n  {'':<26} {row['schema']} · {row['licence']} · {state}")
    return EXIT_OK


def publish_demo(settings: Settings, *, force: bool = False, quiet: bool = False) -> list[str]:
    """Generate the demo raw files and ingest those whose layer is not published yet."""
    from layers.demo import write_demo
    from layers.pipeline import ingest_file
    from layers.store import open_store

    catalogue = _catalogue(settings)
    store = open_store(settings)
    todo = [spec.id for spec in catalogue.layers if force or store.metadata(spec.id) is None]
    if not todo:
        return []
    files = write_demo(settings.demo_dir)
    done = []
    for layer_id in todo:
        if layer_id not in files:
            continue
        result = ingest_file(catalogue, store, layer_id, files[layer_id])
        done.append(layer_id)
        if not quiet:
            c = result.report.counts
            print(f"démo : « {layer_id} » publiée ({c.get('publiables', 0)} entités, "
                  f"{c.get('rejetees', 0)} lignes non publiées) depuis {files[layer_id]}", file=sys.stderr)
    return done


def cmd_demo(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if args.out:
        settings = settings.with_overrides(demo_dir=args.out)
    if args.files_only:
        from layers.demo import write_demo

        for layer_id, path in write_demo(settings.demo_dir).items():
            print(f"{layer_id}\t{path}")
        return EXIT_OK
    publish_demo(settings, force=True)
    return EXIT_OK


def cmd_serve(args: argparse.Namespace) -> int:
    from server.run import bind_address, serve

    settings = _settings(args)
    if not args.no_demo:
        publish_demo(settings)
    print(f"geocommune : API sur http://{bind_address(settings.host, settings.port)}/ "
          f"({settings.workers} processus × {settings.threads} fils) — Ctrl+C pour arrêter", file=sys.stderr)
    serve(settings)
    return EXIT_OK


# -- parser ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="geocommune", description="Publier les données ouvertes géographiques d'une commune.")
    parser.add_argument("--catalogue", help="catalogue des couches (défaut : config/catalogue.yaml ; GEOCOMMUNE_CATALOGUE)")
    parser.add_argument("--data", help="dossier des données publiées (défaut : ./data ; GEOCOMMUNE_DATA)")
    parser.add_argument("--store", help="stockage : vide = GeoPackage dans --data ; postgresql://… (GEOCOMMUNE_STORE)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("inspect", help="dire ce qu'est un fichier (format, encodage, SCR, géométries, colonnes)")
    p.add_argument("file")
    p.add_argument("--layer", help="couche à lire dans un fichier multicouche (GeoPackage)")
    p.add_argument("--crs", help="SCR déclaré, ex. EPSG:2154")
    p.add_argument("--json", action="store_true", help="sortie JSON pour les machines")
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser("validate", help="valider un fichier contre le schéma national de la couche")
    p.add_argument("layer")
    p.add_argument("file")
    p.add_argument("--crs", help="SCR déclaré, ex. EPSG:2154")
    p.add_argument("--json", action="store_true")
    p.add_argument("--max", type=int, default=200, help="nombre maximal de problèmes affichés (texte)")
    p.set_defaults(func=cmd_validate)

    p = sub.add_parser("ingest", help="valider, normaliser, anonymiser et publier un fichier")
    p.add_argument("layer")
    p.add_argument("file")
    p.add_argument("--crs", help="SCR déclaré, ex. EPSG:2154 (prime sur la détection)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--strict", action="store_true", help="ne rien publier si le fichier n'est pas entièrement conforme")
    mode.add_argument("--lenient", action="store_true", help="(défaut) publier les lignes utilisables, consigner les écarts")
    p.add_argument("--json", action="store_true")
    p.add_argument("--max", type=int, default=50, help="nombre maximal de problèmes affichés (texte)")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("layers", help="le catalogue et ce qui est publié")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_layers)

    p = sub.add_parser("demo", help="générer les fichiers bruts de démonstration et les publier")
    p.add_argument("--out", help="dossier des fichiers bruts (défaut : ./demo-data)")
    p.add_argument("--files-only", action="store_true", help="écrire les fichiers sans les publier")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("serve", help="servir l'API OGC et la carte (publie la démo au premier lancement)")
    p.add_argument("--host", help="adresse d'écoute (défaut : 127.0.0.1)")
    p.add_argument("--port", type=int, help="port (défaut : 5000)")
    p.add_argument("--workers", type=int, help="nombre de processus (défaut : 2)")
    p.add_argument("--no-demo", action="store_true", help="ne pas publier les données de démonstration")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except GeocommuneError as exc:
        print(f"geocommune : {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print("geocommune : interrompu", file=sys.stderr)
        return 130
    except Exception as exc:  # an internal error: one line, no traceback unless asked
        if os.environ.get("GEOCOMMUNE_DEBUG"):
            raise
        print(f"geocommune : erreur interne ({type(exc).__name__} : {exc}). "
              "Relancez avec GEOCOMMUNE_DEBUG=1 pour le détail et signalez-la.", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
