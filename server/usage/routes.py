"""``GET /stats`` (HTML, or JSON with ``f=json`` / ``Accept``) and ``GET /stats.json``.

Parameters: ``f`` (``html``, ``json``), ``lang`` (``fr``, ``en``; otherwise
``Accept-Language``, French by default), ``days`` (1–366, default 90: the period ends
today, UTC), ``layer`` (one served layer; all of them by default). Anything else, a
repeated parameter or a bad value → 400 JSON naming the parameter (``server/http/errors.py``).

The answering worker writes its own pending counts first, so that what a client just did
on this worker is in the figures; the other workers' counts arrive within
``GEOCOMMUNE_USAGE_FLUSH`` seconds. ``/stats`` itself is not counted.
"""

from __future__ import annotations

import datetime as dt
import re
from urllib.parse import urlencode, urlsplit

import orjson
from flask import Blueprint, Response, current_app, request

from layers.catalogue import get_catalogue

from ..http.errors import ApiError, InvalidParameter, error_response
from .page import build_page
from .report import Period, build_report
from .state import EXTENSION, UsageState

blueprint = Blueprint(EXTENSION, __name__)

ALLOWED = ("f", "lang", "days", "layer")
DEFAULT_DAYS = 90
MAX_DAYS = 366
LANGUAGES = ("fr", "en")
_LANG = re.compile(r"(fr|en)([-_][a-z0-9]{1,8})*", re.IGNORECASE | re.ASCII)
_DIGITS = re.compile(r"\d{1,4}", re.ASCII)


def _state() -> UsageState:
    return current_app.extensions[EXTENSION]


def _base_path() -> str:
    url = _state().settings.url
    return urlsplit(url).path.rstrip("/") if url else ""


def _check_names() -> None:
    for name in request.args:
        if name not in ALLOWED:
            shown = name if len(name) <= 60 else name[:59] + "…"
            raise InvalidParameter(name, f"paramètre inconnu « {shown} » ; paramètres acceptés : {', '.join(ALLOWED)}")
        if len(request.args.getlist(name)) > 1:
            raise InvalidParameter(name, f"le paramètre « {name} » est donné plusieurs fois")


def _format(json_only: bool) -> str:
    value = request.args.get("f")
    choices = ("json",) if json_only else ("html", "json")
    if value is not None:
        value = value.strip().lower()
        if value not in choices:
            raise InvalidParameter("f", f"format « {value[:40]} » inconnu ; valeurs possibles : {', '.join(choices)}")
        return value
    if json_only:
        return "json"
    best = request.accept_mimetypes.best_match(["text/html", "application/json"], default="text/html")
    return "json" if best == "application/json" else "html"


def _language() -> str:
    value = request.args.get("lang")
    if value is not None:
        found = _LANG.fullmatch(value.strip())
        if found is None:
            raise InvalidParameter("lang", f"langue « {value[:40]} » non proposée ; valeurs possibles : fr, en")
        return found.group(1).lower()
    return request.accept_languages.best_match(LANGUAGES, default="fr") or "fr"


def _days() -> int:
    value = request.args.get("days")
    if value is None:
        return DEFAULT_DAYS
    text = value.strip()
    if not _DIGITS.fullmatch(text) or not 1 <= int(text) <= MAX_DAYS:
        raise InvalidParameter("days", f"days : un nombre entier de jours entre 1 et {MAX_DAYS} est attendu (reçu « {value[:40]} »)")
    return int(text)


def _layers() -> list[str]:
    served = list(_state().served())
    value = request.args.get("layer")
    if value is None:
        return served
    if value not in served:
        raise InvalidParameter("layer", f"couche « {value[:60]} » inconnue ; couches servies : {', '.join(served) or 'aucune'}")
    return [value]


def _titles(layers: list[str]) -> dict[str, dict[str, str]]:
    catalogue = get_catalogue(_state().settings.catalogue)  # cached by modification time
    known = {spec.id: dict(spec.title) for spec in catalogue.layers}
    return {layer: known.get(layer, {"fr": layer, "en": layer}) for layer in layers}


def _query(**changes: str) -> str:
    args = {name: request.args[name] for name in ("days", "layer", "lang") if name in request.args}
    args.update(changes)
    args = {k: v for k, v in args.items() if v}
    return ("?" + urlencode(args)) if args else ""


def _answer(json_only: bool) -> Response:
    try:
        _check_names()
        fmt = _format(json_only)
        lang = _language()
        days = _days()
        layers = _layers()
    except ApiError as exc:
        return error_response(exc)
    state = _state()
    period = Period.ending_today(days)
    state.buffer.flush()  # this worker's own pending counts (kept if the store is away)
    rows = state.buffer.usage.read(period.first, period.last, layers[0] if len(layers) == 1 else None)
    report = build_report(rows, _titles(layers), period, dt.datetime.now(dt.UTC))
    if fmt == "json":
        response = Response(orjson.dumps(report), content_type="application/json")
    else:
        base = _base_path()
        other = "en" if lang == "fr" else "fr"
        html = build_page(report, period, lang, base, json_url=f"{base}/stats.json{_query(lang='')}",
                          switch_url=f"{base}/stats{_query(lang=other)}")
        response = Response(html, content_type="text/html; charset=utf-8")
        response.headers["Content-Language"] = lang
    response.headers["Cache-Control"] = "no-store"  # live figures
    response.vary.update(("Accept", "Accept-Language"))
    return response


@blueprint.get("/stats")
def stats() -> Response:
    return _answer(json_only=False)


@blueprint.get("/stats.json")
def stats_json() -> Response:
    return _answer(json_only=True)
