#!/usr/bin/env bash
# The main job: own venv, then the embedded system (`onething up`). Extra args go to `up`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
exec .venv/bin/onething up "$@"
