"""Start `askpfg serve` on a free loopback port and ask /api/ask with 1, 8 and 32 concurrent clients.

Each round asks questions no earlier round asked (so no answer comes from the answer cache), one per
client, while /api/health is polled every 100 ms. Prints, per round: answers/s, latency p50/p95, errors,
the share of answers generated (the rest fell back to quoting the evidence), and health p99.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from askpfg.evals import load_cases

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.servers
from tests.servers import running_server


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def poll_health(base: str, stop: threading.Event, out: list[float]) -> None:
    with httpx.Client(timeout=10) as client:
        while not stop.is_set():
            started = time.perf_counter()
            client.get(f"{base}/api/health")
            out.append((time.perf_counter() - started) * 1000)
            stop.wait(0.1)


def round_of(base: str, questions: list[str]) -> str:
    def ask(question: str) -> tuple[float, bool, bool]:
        started = time.perf_counter()
        try:
            response = httpx.post(f"{base}/api/ask", json={"question": question}, timeout=600)
            body = response.json()
            ok, generated = response.status_code == 200 and "text" in body, body.get("mode") == "generated"
        except (httpx.HTTPError, ValueError):
            ok, generated = False, False
        return time.perf_counter() - started, ok, generated

    stop, health = threading.Event(), []
    poller = threading.Thread(target=poll_health, args=(base, stop, health), daemon=True)
    poller.start()
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(questions)) as pool:
        results = list(pool.map(ask, questions))
    wall = time.perf_counter() - started
    stop.set()
    poller.join()
    latencies = [r[0] for r in results]
    return (
        f"{len(questions):>2} clients: {len(results) / wall:.2f} answers/s, p50 {statistics.median(latencies):.1f} s, "
        f"p95 {percentile(latencies, 0.95):.1f} s, errors {sum(not r[1] for r in results)}, "
        f"generated {sum(r[2] for r in results)}/{len(results)}, health p99 {percentile(health, 0.99):.0f} ms"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 32], help="clients per round (default 1 8 32)")
    args = parser.parse_args()
    cases = [c for c in load_cases(Path("evals/cases.jsonl")) if c.category in ("fact", "paraphrase", "temporal", "unanswerable")]
    questions = list(dict.fromkeys(c.question for c in cases))
    if len(questions) < sum(args.clients):
        parser.error(f"only {len(questions)} distinct questions for {sum(args.clients)} clients")
    print(f"machine: {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    log_path = Path(tempfile.mkdtemp(prefix="askpfg-bench-")) / "serve.log"
    with running_server(os.environ, log_path, timeout=300) as base:
        httpx.post(f"{base}/api/ask", json={"question": "Who wrote the first letter?"}, timeout=600)  # models loaded
        used = 0
        for n in args.clients:
            print(round_of(base, questions[used : used + n]), flush=True)
            used += n
    return 0


if __name__ == "__main__":
    sys.exit(main())
