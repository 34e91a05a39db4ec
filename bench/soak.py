"""Soak `askpfg serve` (issue #13, item 8): many clients asking /api/ask for minutes on end, on loopback.

Starts the server on a free loopback port (as a user starts it, with the packaged generator), loads the
models, and times a single reference question on the idle server. Then `--clients` clients ask
questions from the evaluation set (each client the next question in a shuffled cycle, follow-ups with
their history) until `--minutes` have passed, while /api/health is polled every 100 ms and the
server's RSS sampled every 5 s. After the last answer is in, the reference question is asked once more.

Reports: requests and errors (a status other than 200, or no answer), latency p50/p95, the share of
answers generated (the rest fell back to quoting the evidence; refusals are counted apart), /api/health
p50/p99, the server's RSS at the start and the end (and its peak), and the single request after the
soak: generated or not, and its time against the idle one.

The server runs with ASKPFG_ANSWER_CACHE=0 unless `--answer-cache N` is given, so that every request
does the work and the reference question is answered afresh after the soak as before it.

    .venv/bin/python bench/soak.py                       # 32 clients for 5 minutes
    .venv/bin/python bench/soak.py --minutes 1 --clients 8 --json bench/results/soak.json
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repo root, for tests.servers
from askpfg.evals import load_cases  # noqa: E402
from tests.servers import running_server  # noqa: E402

REFERENCE = "When did the Ministerial Oversight Board first meet?"  # asked alone before and after; not in the soak's cycle
WARM_UP = "Who wrote the first letter?"


def percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def server_pid() -> int:
    """The `askpfg serve` process this script started (a child of this process)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == os.getpid() and b"askpfg" in cmdline and b"serve" in cmdline:
            return int(entry.name)
    raise RuntimeError("the server process was not found among this process's children")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@dataclass
class Result:
    seconds: float
    ok: bool
    mode: str  # generated | extractive | refusal | "" when no answer
    detail: str = ""


def ask(client: httpx.Client, base: str, question: str, history: list[dict] | None = None) -> Result:
    started = time.perf_counter()
    try:
        response = client.post(f"{base}/api/ask", json={"question": question, "history": history or []}, timeout=900)
        body = response.json()
        ok = response.status_code == 200 and "text" in body
        return Result(time.perf_counter() - started, ok, body.get("mode", "") if ok else "", "" if ok else f"{response.status_code}: {response.text[:200]}")
    except (httpx.HTTPError, ValueError) as exc:
        return Result(time.perf_counter() - started, False, "", f"{type(exc).__name__}: {exc}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=5.0, help="how long the clients keep asking (default 5)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--answer-cache", type=int, default=0, help="ASKPFG_ANSWER_CACHE for the server (default 0: every request does the work)")
    parser.add_argument("--reference-runs", type=int, default=3, help="times the reference question is asked on the idle server (default 3; the median counts)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    cases = [c for c in load_cases(Path("evals/cases.jsonl")) if c.question != REFERENCE]
    random.Random(13).shuffle(cases)
    work = [(c.question, [m.model_dump() if hasattr(m, "model_dump") else m for m in c.history]) for c in cases]
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {len(work)} questions in the cycle", flush=True)

    env = {**os.environ, "ASKPFG_ANSWER_CACHE": str(args.answer_cache)}
    log_path = Path(tempfile.mkdtemp(prefix="askpfg-soak-")) / "serve.log"
    with running_server(env, log_path, timeout=300) as base, httpx.Client() as client:
        pid = server_pid()
        ask(client, base, WARM_UP)  # the models loaded and warm
        idle = [ask(client, base, REFERENCE) for _ in range(args.reference_runs)]
        idle_seconds = statistics.median(r.seconds for r in idle)
        rss_start = rss_mib(pid)
        print(f"idle reference: {idle_seconds:.2f} s ({', '.join(r.mode or 'error' for r in idle)}); server RSS {rss_start:.0f} MiB", flush=True)

        results: list[Result] = []
        health: list[float] = []
        rss: list[float] = [rss_start]
        lock, stop = threading.Lock(), threading.Event()
        deadline = time.monotonic() + args.minutes * 60
        next_case = iter(range(10**9))

        def client_loop() -> None:
            with httpx.Client() as own:
                while time.monotonic() < deadline:
                    with lock:
                        question, history = work[next(next_case) % len(work)]
                    result = ask(own, base, question, history)
                    with lock:
                        results.append(result)

        def poll_health() -> None:
            with httpx.Client(timeout=10) as own:
                while not stop.is_set():
                    started = time.perf_counter()
                    try:
                        own.get(f"{base}/api/health")
                        health.append((time.perf_counter() - started) * 1000)
                    except httpx.HTTPError:
                        health.append(10_000.0)
                    stop.wait(0.1)

        def sample_rss() -> None:
            while not stop.wait(5):
                rss.append(rss_mib(pid))

        watchers = [threading.Thread(target=poll_health, daemon=True), threading.Thread(target=sample_rss, daemon=True)]
        clients = [threading.Thread(target=client_loop, daemon=True) for _ in range(args.clients)]
        started = time.perf_counter()
        for thread in watchers + clients:
            thread.start()
        for thread in clients:
            thread.join()
        wall = time.perf_counter() - started
        stop.set()
        for thread in watchers:
            thread.join()
        rss_end = rss_mib(pid)

        after = ask(client, base, REFERENCE)

    answered = [r for r in results if r.ok]
    generated = sum(r.mode == "generated" for r in answered)
    fallbacks = sum(r.mode == "extractive" for r in answered)
    refusals = sum(r.mode == "refusal" for r in answered)
    latencies = [r.seconds for r in answered]
    figures = {
        "clients": args.clients,
        "minutes": args.minutes,
        "wall_s": round(wall, 1),
        "requests": len(results),
        "errors": len(results) - len(answered),
        "answers_per_s": round(len(answered) / wall, 3),
        "p50_s": round(percentile(latencies, 0.5), 2),
        "p95_s": round(percentile(latencies, 0.95), 2),
        "generated": generated,
        "fell_back_to_quotes": fallbacks,
        "refusals": refusals,
        "generated_share": round(generated / (generated + fallbacks), 3) if generated + fallbacks else None,
        "health_p50_ms": round(percentile(health, 0.5), 1),
        "health_p99_ms": round(percentile(health, 0.99), 1),
        "health_polls": len(health),
        "rss_start_mib": round(rss_start, 1),
        "rss_end_mib": round(rss_end, 1),
        "rss_peak_mib": round(max(rss), 1),
        "rss_growth": round(rss_end / rss_start - 1, 4),
        "idle_reference_s": round(idle_seconds, 2),
        "idle_reference_modes": [r.mode for r in idle],
        "after_soak_s": round(after.seconds, 2),
        "after_soak_mode": after.mode,
        "after_soak_vs_idle": round(after.seconds / idle_seconds, 2),
        "error_samples": sorted({r.detail for r in results if not r.ok})[:5],
    }
    print(
        f"{args.clients} clients for {args.minutes:g} min ({wall:.0f} s): {len(results)} requests, {figures['errors']} errors, "
        f"{figures['answers_per_s']} answers/s, p50 {figures['p50_s']} s, p95 {figures['p95_s']} s\n"
        f"generated {generated}, fell back to quotes {fallbacks}, refused {refusals}: generated share {figures['generated_share']}\n"
        f"/api/health p50 {figures['health_p50_ms']} ms, p99 {figures['health_p99_ms']} ms ({len(health)} polls)\n"
        f"server RSS {rss_start:.0f} MiB at the start, {rss_end:.0f} MiB at the end ({figures['rss_growth']:+.1%}), peak {max(rss):.0f} MiB\n"
        f"after the soak: {after.mode or 'error'} in {after.seconds:.2f} s, {figures['after_soak_vs_idle']}x the idle {idle_seconds:.2f} s"
    )
    for sample in figures["error_samples"]:
        print(f"  error: {sample}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
