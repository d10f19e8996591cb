#!/usr/bin/env bash
# Prépare l'environnement de geocommune, sans question et sans rien refaire d'inutile :
#   1. un Python >= 3.12 qui fonctionne (PYTHON=/chemin/vers/python pour l'imposer) ;
#   2. le virtualenv .venv (créé s'il manque ou s'il est cassé) ;
#   3. pip install -e '.[test]', sauté si pyproject.toml n'a pas changé depuis la dernière fois ;
#   4. les paquets Debian manquants (apt-get ; sudo si l'on n'est pas root).
#      SETUP_SKIP_APT=1 saute cette étape.
set -euo pipefail

# Paquets système nécessaires ; ajouter ici les suivants (chromium, postgresql-15-postgis-3…).
APT_PACKAGES=(
  gdal-bin   # ogr2ogr/ogrinfo : tests d'interopérabilité et banc d'essai
  chromium   # navigateur sans écran : tests des pages HTML et de la carte (aucune requête vers des tiers)
  postgresql              # serveur PostgreSQL : stockage PostGIS et ses tests (scripts/postgres.sh)
  postgresql-15-postgis-3 # extension PostGIS
)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
STAMP="$VENV/.geocommune-install"

say() { printf '» %s\n' "$*"; }
die() { printf 'setup : erreur : %s\n' "$*" >&2; exit 1; }

# -- 1. Python >= 3.12 -------------------------------------------------------------------
python_ok() {  # the interpreter runs (a pyenv shim may not) and is recent enough
  [ -n "$1" ] && "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1
}

find_python() {
  local candidate root
  local -a candidates=()
  [ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
  candidates+=(python3.12 python3.13)
  shopt -s nullglob
  candidates+=(/root/.pyenv/versions/3.12*/bin/python3.12)
  if command -v pyenv >/dev/null 2>&1 && root="$(pyenv root 2>/dev/null)"; then
    for candidate in "$root"/versions/3.1[2-9]*/bin/python3; do candidates+=("$candidate"); done
  fi
  shopt -u nullglob
  candidates+=(python3)
  for candidate in "${candidates[@]}"; do
    if python_ok "$candidate"; then
      command -v "$candidate" 2>/dev/null || printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# -- 2. virtualenv -----------------------------------------------------------------------
if python_ok "$VENV/bin/python"; then
  say "virtualenv .venv : déjà présent ($("$VENV/bin/python" -c 'import platform; print(platform.python_version())'))"
else
  PY="$(find_python)" || die "aucun Python >= 3.12 utilisable trouvé (essayés : \$PYTHON, python3.12, python3.13, pyenv, python3).
Installez-en un (ex. pyenv install 3.12) ou indiquez-le : PYTHON=/chemin/vers/python3.12 $0"
  if [ -e "$VENV" ]; then
    say "virtualenv .venv inutilisable : recréation"
    rm -rf "$VENV"
  fi
  say "création de .venv avec $PY ($("$PY" -c 'import platform; print(platform.python_version())'))"
  "$PY" -m venv "$VENV" || die "échec de « $PY -m venv » (sur Debian/Ubuntu : paquet python3.12-venv ?)"
fi

# -- 3. Python dependencies --------------------------------------------------------------
wanted="$(cat pyproject.toml "$VENV/pyvenv.cfg" | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
  say "dépendances Python : à jour"
else
  say "installation des dépendances Python (pip install -e '.[test]')…"
  log="$(mktemp)"
  if ! "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e '.[test]' >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "échec de pip install (journal ci-dessus)"
  fi
  rm -f "$log"
  printf '%s\n' "$wanted" >"$STAMP"
  say "dépendances Python : installées"
fi

bash "$ROOT/scripts/assets.sh"  # Leaflet, Bootstrap… (npm ci) dans server/static/vendor/, traductions françaises

# -- 4. Debian packages ------------------------------------------------------------------
if [ "${SETUP_SKIP_APT:-0}" = 1 ]; then
  say "paquets système : étape sautée (SETUP_SKIP_APT=1)"
  exit 0
fi
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [ ${#missing[@]} -eq 0 ]; then
  say "paquets système : à jour (${APT_PACKAGES[*]})"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "attention : apt-get absent ; installez vous-même : ${missing[*]}"
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  SUDO=()
elif command -v sudo >/dev/null 2>&1; then
  SUDO=(sudo)
else
  die "il manque ${missing[*]} et l'on n'est ni root ni sudoer : installez-les (apt-get install ${missing[*]})"
fi
say "installation des paquets système : ${missing[*]}…"
export DEBIAN_FRONTEND=noninteractive
log="$(mktemp)"
if ! { ${SUDO[@]+"${SUDO[@]}"} apt-get update -qq &&
       ${SUDO[@]+"${SUDO[@]}"} apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  die "échec de l'installation de ${missing[*]} (journal ci-dessus)"
fi
rm -f "$log"
say "paquets système : installés"
