#!/usr/bin/env bash
# Fuzz the HTTP API with schemathesis against a real `askpfg serve` on loopback (issue #13, item 8):
# every operation in /openapi.json, positive and negative cases, every check (`--checks all`), at
# least 1,000 requests. Prints the requests sent, the server errors (5xx) and the error bodies that
# are not in the API's shape ({"error", "detail"}; under /v1 OpenAI's {"error": {"message", "type",
# "code"}}), counted from the HAR file schemathesis records, then schemathesis's own verdict.
#
# schemathesis is a benchmark tool, not a test dependency; install it into .venv first:
#   .venv/bin/python -m pip install schemathesis==4.32.5
#
# Usage: bash bench/fuzz.sh [MAX_EXAMPLES_PER_OPERATION]   (default 150; the report goes to bench/results/fuzz/)
# The server answers without the generator (ASKPFG_USE_GENERATOR=false, about 0.1 s an answer) so that
# a thousand requests take minutes; FUZZ_GENERATOR=true fuzzes with the packaged generator instead.
set -euo pipefail
cd "$(dirname "$0")/.."

MAX_EXAMPLES=${1:-150}
OUT=bench/results/fuzz
mkdir -p "$OUT"
[ -x .venv/bin/schemathesis ] || { echo "fuzz: install schemathesis: .venv/bin/python -m pip install schemathesis==4.32.5" >&2; exit 2; }

PORT=$(.venv/bin/python -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
ASKPFG_USE_GENERATOR=${FUZZ_GENERATOR:-false} .venv/bin/python -m askpfg serve --host 127.0.0.1 --port "$PORT" >"$OUT/server.log" 2>&1 &
SERVER=$!
trap 'kill "$SERVER" 2>/dev/null || true; wait "$SERVER" 2>/dev/null || true' EXIT

for _ in $(seq 1 300); do  # the index may be built and the models loaded first
  if .venv/bin/python -c "import httpx, sys; sys.exit(0 if httpx.get('$BASE/api/health', timeout=2).json().get('ready') else 1)" 2>/dev/null; then
    break
  fi
  kill -0 "$SERVER" 2>/dev/null || { echo "fuzz: the server exited:" >&2; tail -20 "$OUT/server.log" >&2; exit 1; }
  sleep 1
done

set +e
# run from the report folder: schemathesis keeps its cache of failures (.schemathesis/) in the working directory
ROOT=$PWD
(cd "$OUT" && "$ROOT/.venv/bin/schemathesis" run "$BASE/openapi.json" \
  --checks all \
  --max-examples "$MAX_EXAMPLES" \
  --workers 2 \
  --request-timeout 120 \
  --seed "${FUZZ_SEED:-13}" \
  --generation-database none \
  --report har --report-har-path fuzz.har \
  --report junit --report-junit-path junit.xml \
  --no-color >schemathesis.txt 2>&1)
VERDICT=$?
set -e

.venv/bin/python - "$OUT/fuzz.har" <<'EOF'
"""Count requests, server errors and error bodies not in the API's shape, from schemathesis's HAR file."""
import json
import sys
from urllib.parse import urlparse

entries = json.load(open(sys.argv[1], encoding="utf-8"))["log"]["entries"]
server_errors, bad_bodies, statuses = [], [], {}
for entry in entries:
    status = entry["response"]["status"]
    path = urlparse(entry["request"]["url"]).path
    statuses[status] = statuses.get(status, 0) + 1
    where = f"{entry['request']['method']} {path} -> {status}"
    if status >= 500:
        server_errors.append(where)
    if status < 400:
        continue
    text = entry["response"]["content"].get("text", "")
    try:
        body = json.loads(text)
    except ValueError:
        bad_bodies.append(f"{where}: not JSON: {text[:120]!r}")
        continue
    if path.startswith("/v1/"):
        error = body.get("error") if isinstance(body, dict) else None
        ok = isinstance(error, dict) and isinstance(error.get("message"), str) and error["message"] and isinstance(error.get("type"), str)
    else:
        ok = isinstance(body, dict) and set(body) == {"error", "detail"} and all(isinstance(v, str) and v for v in body.values())
    if not ok:
        bad_bodies.append(f"{where}: {text[:160]}")
print(f"requests: {len(entries)}")
print("statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
print(f"server errors (5xx): {len(server_errors)}")
for line in sorted(set(server_errors))[:20]:
    print(f"  {line}")
print(f"non-conforming error bodies: {len(bad_bodies)}")
for line in sorted(set(bad_bodies))[:20]:
    print(f"  {line}")
EOF
echo "schemathesis: exit $VERDICT; its summary:"
tail -25 "$OUT/schemathesis.txt"
exit "$VERDICT"
