#!/usr/bin/env bash
# Set up (if needed), build the index from corpus/ (if needed) and serve the UI and API on 127.0.0.1.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/askpfg serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}" "$@"
