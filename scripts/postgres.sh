#!/usr/bin/env bash
# Un PostgreSQL/PostGIS jetable, propre au projet (jamais le service du système) :
#
#   scripts/postgres.sh start DIR   crée (initdb) au besoin puis démarre un cluster dans DIR,
#                                   sur un port libre de 127.0.0.1, avec une base « geocommune »
#                                   où PostGIS est activé ; affiche son URL postgresql://…
#   scripts/postgres.sh stop DIR    l'arrête (DIR reste : « start DIR » le relance sur le même port)
#   scripts/postgres.sh url DIR     affiche l'URL du cluster de DIR
#
# Installe les paquets Debian manquants (postgresql, postgresql-15-postgis-3 ; apt-get, sudo si
# l'on n'est pas root). PostgreSQL refuse de tourner en root : lancé en root, le serveur tourne
# sous l'utilisateur « postgres » (créé par le paquet Debian), à qui DIR est donné.
# Réglages de test : fsync, synchronous_commit et full_page_writes désactivés (rapide, non
# durable), authentification « trust » limitée à 127.0.0.1 et au socket placé dans DIR.
# Variables : PG_BINDIR (binaires PostgreSQL), PG_TIMEOUT (secondes, défaut 60), PG_PORT (imposer
# un port), PG_SKIP_APT=1 (ne rien installer).
set -euo pipefail

PG_VERSION_WANTED=15
APT_PACKAGES=(postgresql postgresql-15-postgis-3)
TIMEOUT="${PG_TIMEOUT:-60}"
DB=geocommune
DB_USER=geocommune

say() { printf '» %s\n' "$*" >&2; }
die() { printf 'postgres.sh : erreur : %s\n' "$*" >&2; exit 1; }

usage() { die "usage : $0 start|stop|url DIR"; }
[ $# -eq 2 ] || usage
ACTION="$1"
DIR="$2"

# -- packages -------------------------------------------------------------------------------
missing_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
  done
}

install_packages() {
  [ "${PG_SKIP_APT:-0}" = 1 ] && return 0
  [ -z "$(missing_packages)" ] && return 0
  # Several test processes may start at once (pytest-xdist): one installs, the others wait.
  if command -v flock >/dev/null 2>&1; then
    exec 9>"${TMPDIR:-/tmp}/geocommune-postgres-apt.$(id -u).lock"
    flock -w 900 9 || die "attente du verrou d'installation trop longue"
  fi
  local missing=()
  mapfile -t missing < <(missing_packages)
  [ ${#missing[@]} -eq 0 ] && return 0
  command -v apt-get >/dev/null 2>&1 || die "il manque ${missing[*]} et apt-get est absent : installez-les"
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "il manque ${missing[*]} ; ni root ni sudo : apt-get install ${missing[*]}"
    sudo=(sudo)
  fi
  say "installation des paquets système : ${missing[*]}…"
  local log
  log="$(mktemp)"
  # The Debian package creates and starts a system cluster (port 5432); we never use it.
  if ! { ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive timeout 900 apt-get update -qq &&
         ${sudo[@]+"${sudo[@]}"} env DEBIAN_FRONTEND=noninteractive timeout 900 \
           apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    die "échec de l'installation de ${missing[*]}"
  fi
  rm -f "$log"
}

find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    [ -x "$PG_BINDIR/initdb" ] || die "PG_BINDIR=$PG_BINDIR ne contient pas initdb"
    printf '%s\n' "$PG_BINDIR"
    return
  fi
  if [ -x "/usr/lib/postgresql/$PG_VERSION_WANTED/bin/initdb" ]; then
    printf '%s\n' "/usr/lib/postgresql/$PG_VERSION_WANTED/bin"
    return
  fi
  local candidate
  candidate="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  [ -n "$candidate" ] && [ -x "$candidate/initdb" ] || die "binaires PostgreSQL introuvables (PG_BINDIR=…)"
  printf '%s\n' "$candidate"
}

# -- running as the cluster owner -------------------------------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  OWNER=postgres
  as_owner() { runuser -u "$OWNER" -- "$@"; }
else
  OWNER="$(id -un)"
  as_owner() { "$@"; }
fi

port_in_use() {  # something accepts connections on 127.0.0.1:$1
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

pick_port() {
  local port i
  for i in $(seq 1 50); do
    port=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    port_in_use "$port" || { printf '%s\n' "$port"; return; }
  done
  die "aucun port libre trouvé"
}

url_of() { printf 'postgresql://%s@127.0.0.1:%s/%s\n' "$DB_USER" "$(cat "$DIR/port")" "$DB"; }

running() { [ -f "$DIR/pgdata/postmaster.pid" ] && as_owner "$BINDIR/pg_ctl" -D "$DIR/pgdata" status >/dev/null 2>&1; }

start_server() {  # returns 1 if the port was taken meanwhile (another cluster won the race)
  : >"$DIR/server.log"
  [ "$(id -u)" -eq 0 ] && chown "$OWNER" "$DIR/server.log"
  if as_owner "$BINDIR/pg_ctl" -D "$DIR/pgdata" -l "$DIR/server.log" -w -t "$TIMEOUT" \
       -o "-p $(cat "$DIR/port")" start >/dev/null 2>&1; then
    return 0
  fi
  if grep -q -i "could not bind\|address already in use\|could not create any TCP/IP sockets" "$DIR/server.log"; then
    return 1
  fi
  cat "$DIR/server.log" >&2
  die "le serveur PostgreSQL de $DIR n'a pas démarré (journal ci-dessus)"
}

psql_admin() {
  timeout "$TIMEOUT" "$BINDIR/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$(cat "$DIR/port")" -U "$DB_USER" "$@"
}

do_start() {
  install_packages
  BINDIR="$(find_bindir)"
  mkdir -p "$DIR"
  DIR="$(cd "$DIR" && pwd)"
  if [ "$(id -u)" -eq 0 ]; then
    id "$OWNER" >/dev/null 2>&1 || die "utilisateur « $OWNER » absent (paquet postgresql non installé ?)"
    chown "$OWNER" "$DIR"
    runuser -u "$OWNER" -- test -x "$DIR" ||
      die "$DIR n'est pas accessible à l'utilisateur $OWNER : choisir un dossier sous /tmp"
  fi
  if [ ! -f "$DIR/pgdata/PG_VERSION" ]; then
    rm -rf "$DIR/pgdata"
    as_owner mkdir -p "$DIR/pgdata"
    as_owner timeout "$TIMEOUT" "$BINDIR/initdb" -D "$DIR/pgdata" -U "$DB_USER" --auth=trust \
      --encoding=UTF8 --locale=C.UTF-8 --no-sync >"$DIR/initdb.log" 2>&1 ||
      { cat "$DIR/initdb.log" >&2; die "initdb a échoué dans $DIR/pgdata"; }
    as_owner tee -a "$DIR/pgdata/postgresql.conf" >/dev/null <<EOF
# -- geocommune: throw-away test cluster (scripts/postgres.sh) --
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 100
shared_buffers = 32MB
log_min_messages = warning
EOF
    printf '%s\n' "${PG_PORT:-$(pick_port)}" >"$DIR/port"
  fi
  if running; then
    url_of
    return
  fi
  local attempt
  for attempt in 1 2 3 4 5; do
    start_server && break
    [ -n "${PG_PORT:-}" ] && die "le port $PG_PORT est déjà pris"
    [ "$attempt" = 5 ] && die "aucun port libre après 5 essais"
    printf '%s\n' "$(pick_port)" >"$DIR/port"
  done
  if [ ! -f "$DIR/.database-ready" ]; then
    psql_admin -d postgres -c "CREATE DATABASE $DB"
    psql_admin -d "$DB" -c "CREATE EXTENSION IF NOT EXISTS postgis"
    touch "$DIR/.database-ready"
  fi
  url_of
}

do_stop() {
  [ -d "$DIR/pgdata" ] || return 0
  BINDIR="$(find_bindir)"
  if running; then
    as_owner "$BINDIR/pg_ctl" -D "$DIR/pgdata" -m fast -w -t "$TIMEOUT" stop >/dev/null ||
      die "arrêt du serveur de $DIR impossible"
  fi
}

case "$ACTION" in
  start) do_start ;;
  stop) do_stop ;;
  url) [ -f "$DIR/port" ] || die "pas de cluster dans $DIR"; url_of ;;
  *) usage ;;
esac
