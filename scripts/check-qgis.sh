#!/usr/bin/env bash
# Vérifie geocommune avec un vrai QGIS (paquet Debian python3-qgis) : serveur de démonstration sur un
# port libre de 127.0.0.1, lecture de chaque couche par le fournisseur OAPIF de QGIS, filtre.
# Hors de « make test » (QGIS pèse ~1 Go) : ./scripts/check-qgis.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
if ! /usr/bin/python3 -c "import qgis.core" 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi
  ${SUDO[@]+"${SUDO[@]}"} apt-get update -qq
  DEBIAN_FRONTEND=noninteractive ${SUDO[@]+"${SUDO[@]}"} apt-get install -y -qq --no-install-recommends python3-qgis qgis-providers
fi
WORK="$(mktemp -d)"
PORT="$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
GEOCOMMUNE_DEMO_DIR="$WORK/demo" .venv/bin/geocommune --data "$WORK/data" serve --port "$PORT" --workers 2 >"$WORK/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$WORK"' EXIT
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$PORT/collections?f=json" >/dev/null && break; sleep 1; done
/usr/bin/python3 scripts/check-qgis.py "http://127.0.0.1:$PORT" "$WORK/serve.log"
