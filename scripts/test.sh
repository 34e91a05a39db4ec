#!/usr/bin/env bash
# Set up (if needed) and run the test suite on the real corpus with the real models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
if [ ! -x /usr/bin/chromium ]; then
  echo "askpfg: installing Debian's chromium for the browser test"
  if [ "$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
  else sudo apt-get update -qq && sudo apt-get install -y -qq chromium >/dev/null; fi
fi
set +e
.venv/bin/python -m pytest "$@"
code=$?
set -e
if [ "$code" = 5 ]; then
  echo "askpfg: pytest collected no tests: failing on purpose" >&2
  exit 1
fi
exit "$code"
