#!/usr/bin/env bash
# Prépare ce dont le banc du serveur (bench/run.py) a besoin, sans question et sans rien refaire
# d'inutile (idempotent ; appelé par bench/run.py à chaque exécution) :
#   1. les paquets Debian : nginx (le plancher HTTP), PostgreSQL + PostGIS (scripts/postgres.sh
#      les installe aussi) ; apt-get seulement s'il en manque (BENCH_SKIP_APT=1 : jamais) ;
#   2. tipg dans SON virtualenv, bench/out/venv-tipg (FastAPI, asyncpg, pydantic… ne touchent pas
#      au .venv du projet) ; version imposée par TIPG_VERSION (défaut ci-dessous) ;
#   3. pygeoapi « d'origine » avec son fournisseur PostgreSQL dans un autre virtualenv,
#      bench/out/venv-pygeoapi : la même version de pygeoapi que le .venv du projet, plus ce que ce
#      fournisseur demande et que le projet n'utilise pas (psycopg2, GeoAlchemy2).
#   Un virtualenv est recréé si la liste de ses paquets (sa « clé ») change.
# Sortie : une ligne « nginx=… », « tipg=… », « pygeoapi-postgresql=… » (« indisponible: raison » si
# l'installation a échoué) ; code 0 même alors : le banc mesure ce qu'il a, le rapport dit ce qui manque.
#
#   bash scripts/bench-setup.sh [DOSSIER_OUT]      (défaut : bench/out)
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="${1:-$ROOT/bench/out}"
TIPG_VERSION="${TIPG_VERSION:-1.6.1}"
APT_PACKAGES=(nginx postgresql postgresql-15-postgis-3)

say() { printf '» %s\n' "$*" >&2; }

# -- 1. Debian packages ---------------------------------------------------------------------------
missing_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
  done
}

apt_install() {
  [ "${BENCH_SKIP_APT:-0}" = 1 ] && return 0
  local missing=()
  mapfile -t missing < <(missing_packages)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || { say "apt-get absent : installez ${missing[*]}"; return 1; }
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  exec 8>"${TMPDIR:-/tmp}/geocommune-postgres-apt.$(id -u).lock"  # the lock scripts/postgres.sh takes too
  command -v flock >/dev/null 2>&1 && flock -w 900 8
  say "installation des paquets système : ${missing[*]}…"
  # The Debian nginx package may start a system nginx (port 80) where systemd runs; the bench
  # never uses it: it starts its own nginx on a free loopback port with a generated config.
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get update -qq >/dev/null 2>&1
  ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive timeout 900 \
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1
}

apt_install || true
if [ -x /usr/sbin/nginx ]; then
  printf 'nginx=%s\n' "$(/usr/sbin/nginx -v 2>&1 | sed 's/^nginx version: //')"
else
  printf 'nginx=indisponible: paquet nginx non installé\n'
fi

# -- 2., 3. the anchors' own virtualenvs ------------------------------------------------------------
find_python() {
  local candidate
  for candidate in "${PYTHON:-}" "$ROOT/.venv/bin/python" python3.12 python3; do
    [ -n "$candidate" ] || continue
    # The project's venv is only used to find a base interpreter: the new venvs do not see its packages.
    if "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 10))' >/dev/null 2>&1; then
      "$candidate" -c 'import sys; print(getattr(sys, "_base_executable", sys.executable))'
      return 0
    fi
  done
  return 1
}

# make_venv LABEL DIR PROBE PACKAGE…: DIR holds a venv where PACKAGE… are installed and PROBE (a
# Python expression) prints the anchor's version; prints « LABEL=version » or « LABEL=indisponible: … ».
make_venv() {
  local label="$1" venv="$2" probe="$3"
  shift 3
  local key stamp
  key="$(printf '%s\n' "$@" | sha1sum | cut -c1-12)"
  stamp="$venv/.bench-$key"
  if [ -f "$stamp" ] && "$venv/bin/python" -c "$probe" >/dev/null 2>&1; then
    printf '%s=%s\n' "$label" "$("$venv/bin/python" -c "$probe")"
    return 0
  fi
  mkdir -p "$(dirname "$venv")"
  exec 7>"$venv.lock"
  command -v flock >/dev/null 2>&1 && flock -w 900 7
  if ! { [ -f "$stamp" ] && "$venv/bin/python" -c "$probe" >/dev/null 2>&1; }; then  # not built while we waited
    local py log reason
    py="$(find_python)" || { printf '%s=indisponible: aucun Python 3.10+ pour créer son virtualenv\n' "$label"; return 0; }
    say "virtualenv $venv : $*…"
    rm -rf "$venv"
    log="$venv.log"
    if ! { "$py" -m venv "$venv" &&
           "$venv/bin/python" -m pip install -q --disable-pip-version-check "$@"; } >"$log" 2>&1; then
      reason="$(grep -v '^\s*$' "$log" | tail -n 1 | tr -d '\r' | cut -c1-200)"
      rm -rf "$venv"
      printf '%s=indisponible: pip install %s a échoué (%s)\n' "$label" "$*" "${reason:-voir $log}"
      exec 7>&-
      return 0
    fi
    touch "$stamp"
  fi
  exec 7>&-
  printf '%s=%s\n' "$label" "$("$venv/bin/python" -c "$probe")"
}

if [ "${BENCH_SKIP_TIPG:-0}" = 1 ]; then
  printf 'tipg=indisponible: BENCH_SKIP_TIPG=1\n'
else
  # uvicorn is tipg's server; gunicorn runs several uvicorn workers, as it runs ours.
  make_venv tipg "$OUT/venv-tipg" 'import tipg; print(tipg.__version__)' \
    "tipg==$TIPG_VERSION" uvicorn gunicorn
fi

PYGEOAPI_VERSION="$("$ROOT/.venv/bin/python" -c 'from importlib.metadata import version; print(version("pygeoapi"))' 2>/dev/null || echo 0.24.0)"
if [ "${BENCH_SKIP_PYGEOAPI_PG:-0}" = 1 ]; then
  printf 'pygeoapi-postgresql=indisponible: BENCH_SKIP_PYGEOAPI_PG=1\n'
else
  make_venv pygeoapi-postgresql "$OUT/venv-pygeoapi" 'import pygeoapi; print(pygeoapi.__version__)' \
    "pygeoapi==$PYGEOAPI_VERSION" psycopg2-binary GeoAlchemy2 gunicorn
fi
