#!/usr/bin/env bash
# Lance toute la suite de tests (en parallèle) après avoir préparé l'environnement.
# Les arguments sont passés à pytest : scripts/test.sh -k demo -x
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh
printf '» tests : pytest -n auto\n'
exec .venv/bin/pytest -q -n auto tests "$@"
