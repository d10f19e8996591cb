#!/usr/bin/env bash
# Ressources des pages web de geocommune, servies par le serveur lui-même (aucun CDN) :
#   1. Node.js et npm (paquets Debian nodejs + npm installés avec apt-get s'ils manquent ;
#      SETUP_SKIP_APT=1 l'interdit) ;
#   2. npm ci selon package-lock.json (sauté si node_modules correspond déjà au verrou) ;
#   3. copie des fichiers utiles de node_modules/ et des fichiers statiques de pygeoapi
#      dans server/static/vendor/ (non versionné, reconstruit à chaque passage) ;
#   4. compilation du catalogue français server/locale/fr/LC_MESSAGES/messages.po en .mo.
# Appelé par scripts/setup.sh ; relançable seul à tout moment (bash scripts/assets.sh).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$ROOT/.venv/bin/python"
VENDOR="$ROOT/server/static/vendor"
STAMP="$ROOT/node_modules/.geocommune-lock"

say() { printf '» %s\n' "$*"; }
die() { printf 'assets : erreur : %s\n' "$*" >&2; exit 1; }

[ -x "$PY" ] || die "pas de virtualenv .venv : lancez d'abord bash scripts/setup.sh"

# -- 1. Node.js + npm --------------------------------------------------------------------
if ! command -v npm >/dev/null 2>&1; then
  [ "${SETUP_SKIP_APT:-0}" = 1 ] && die "npm absent et SETUP_SKIP_APT=1 : installez nodejs et npm"
  command -v apt-get >/dev/null 2>&1 || die "npm absent et pas d'apt-get : installez Node.js et npm"
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); elif command -v sudo >/dev/null 2>&1; then SUDO=(sudo); else
    die "npm absent et l'on n'est ni root ni sudoer : apt-get install nodejs npm"
  fi
  say "installation de Node.js et npm (apt-get)…"
  log="$(mktemp)"
  if ! { ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
         ${SUDO[@]+"${SUDO[@]}"} env DEBIAN_FRONTEND=noninteractive \
           apt-get install -y -qq --no-install-recommends nodejs npm; } >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    die "échec de l'installation de nodejs et npm (journal ci-dessus)"
  fi
  rm -f "$log"
fi

# -- 2. npm ci ---------------------------------------------------------------------------
wanted="$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)"
if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$wanted" ]; then
  say "paquets npm : à jour"
else
  say "installation des paquets npm (npm ci, versions de package-lock.json)…"
  log="$(mktemp)"
  if ! npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
    cat "$log" >&2; rm -f "$log"
    die "échec de npm ci (journal ci-dessus)"
  fi
  rm -f "$log"
  printf '%s\n' "$wanted" >"$STAMP"
  say "paquets npm : installés"
fi

# -- 3. server/static/vendor/ ------------------------------------------------------------
# source (relative to node_modules/, or pygeoapi: for the wheel's static folder) → folder
# under vendor/. Each CSS keeps its images/fonts at the same relative place (its url()s).
FILES=(
  "leaflet/dist/leaflet.js                                  leaflet"
  "leaflet/dist/leaflet.css                                 leaflet"
  "leaflet/dist/images                                      leaflet"
  "leaflet.markercluster/dist/leaflet.markercluster.js      leaflet.markercluster"
  "leaflet.markercluster/dist/MarkerCluster.css             leaflet.markercluster"
  "leaflet.markercluster/dist/MarkerCluster.Default.css     leaflet.markercluster"
  "leaflet.fullscreen/Control.FullScreen.js                 leaflet.fullscreen"
  "leaflet.fullscreen/Control.FullScreen.css                leaflet.fullscreen"
  "leaflet.fullscreen/icon-fullscreen.svg                   leaflet.fullscreen"
  "leaflet.locatecontrol/dist/L.Control.Locate.min.js       leaflet.locatecontrol"
  "leaflet.locatecontrol/dist/L.Control.Locate.min.css      leaflet.locatecontrol"
  "leaflet.awesome-markers/dist/leaflet.awesome-markers.js  leaflet.awesome-markers"
  "leaflet.awesome-markers/dist/leaflet.awesome-markers.css leaflet.awesome-markers"
  "leaflet.awesome-markers/dist/images                      leaflet.awesome-markers"
  "bootstrap/dist/css/bootstrap.min.css                     bootstrap/css"
  "bootstrap/dist/js/bootstrap.bundle.min.js                bootstrap/js"
  "@fortawesome/fontawesome-free/css/all.min.css            fontawesome/css"
  "@fortawesome/fontawesome-free/webfonts                   fontawesome"
  "jquery/dist/jquery.min.js                                jquery"
  "swagger-ui-dist/swagger-ui.css                           swagger-ui"
  "swagger-ui-dist/swagger-ui-bundle.js                     swagger-ui"
  "swagger-ui-dist/swagger-ui-standalone-preset.js          swagger-ui"
  "swagger-ui-dist/favicon-16x16.png                        swagger-ui"
  "swagger-ui-dist/favicon-32x32.png                        swagger-ui"
  "pygeoapi:css/default.css                                 pygeoapi/css"
  "pygeoapi:js/default.js                                   pygeoapi/js"
  "pygeoapi:img                                             pygeoapi"
)
PYGEOAPI_STATIC="$("$PY" -c 'import pathlib, pygeoapi; print(pathlib.Path(pygeoapi.__file__).parent / "static")')"
NEW="$(dirname "$VENDOR")/.vendor.new"
rm -rf "$NEW"
for entry in "${FILES[@]}"; do
  read -r source target <<<"$entry"
  case "$source" in
    pygeoapi:*) path="$PYGEOAPI_STATIC/${source#pygeoapi:}" ;;
    *) path="$ROOT/node_modules/$source" ;;
  esac
  [ -e "$path" ] || die "fichier attendu absent : $path (package-lock.json ou pygeoapi a changé ?)"
  mkdir -p "$NEW/$target"
  cp -R "$path" "$NEW/$target/"
  # The source map a minified file names, so a browser's developer tools find it too.
  if [ -f "$path" ]; then
    map="$(tail -c 300 "$path" | grep -o 'sourceMappingURL=[^ *]*' | cut -d= -f2 || true)"
    if [ -n "$map" ] && [ -f "$(dirname "$path")/$map" ]; then
      cp "$(dirname "$path")/$map" "$NEW/$target/"
    fi
  fi
done
rm -rf "$VENDOR.old"
[ -e "$VENDOR" ] && mv "$VENDOR" "$VENDOR.old"
mv "$NEW" "$VENDOR"
rm -rf "$VENDOR.old"
say "ressources web : server/static/vendor/ ($(find "$VENDOR" -type f | wc -l) fichiers)"

# -- 4. French catalogue -----------------------------------------------------------------
log="$(mktemp)"
if ! "$PY" -m babel.messages.frontend compile --domain messages --directory server/locale \
     --statistics >"$log" 2>&1; then
  cat "$log" >&2; rm -f "$log"
  die "échec de la compilation du catalogue français (journal ci-dessus)"
fi
say "traductions : $(grep -o '[0-9]* of [0-9]* messages ([0-9]*%) translated' "$log" | head -1 | sed 's/ of / sur /; s/messages/messages traduits/; s/ translated//')"
rm -f "$log"
