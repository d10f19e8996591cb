#!/usr/bin/env bash
# Prépare l'environnement puis lance le serveur (publie la démo au premier lancement) :
# http://127.0.0.1:5000/ par défaut. Les arguments vont à « geocommune serve » (--port 8080…).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
exec .venv/bin/geocommune serve "$@"
