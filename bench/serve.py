"""Start `askpfg serve` on a free loopback port and hit /api/ask with 32 concurrent clients.

Prints throughput, p50/p95 latency and the error count. Bounded: one question per client.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from askpfg.evals import load_cases

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.servers
from tests.servers import running_server


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=32)
    args = parser.parse_args()
    log_path = Path(tempfile.mkdtemp(prefix="askpfg-bench-")) / "serve.log"
    with running_server(os.environ, log_path, timeout=300) as base:
        questions = [c.question for c in load_cases(Path("evals/cases.jsonl")) if c.category == "fact"][: args.clients]

        def ask(question: str) -> tuple[float, bool]:
            started = time.perf_counter()
            try:
                response = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=600)
                ok = response.status_code == 200 and "text" in response.json()
            except httpx.HTTPError:
                ok = False
            return time.perf_counter() - started, ok

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=args.clients) as pool:
            results = list(pool.map(ask, questions))
        wall = time.perf_counter() - started
        latencies = sorted(r[0] for r in results)
        print(f"clients: {len(results)}, wall: {wall:.1f} s, throughput: {len(results) / wall:.2f} answers/s")
        print(f"latency p50: {statistics.median(latencies):.1f} s, p95: {latencies[int(len(latencies) * 0.95) - 1]:.1f} s")
        print(f"errors: {sum(not ok for _, ok in results)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
