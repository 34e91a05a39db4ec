"""Search latency (hybrid retrieval only) over 50 queries from the evaluation set: p50 and p95."""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from askpfg.answering import get_pipeline
from askpfg.evals import load_cases


def main() -> None:
    pipeline = get_pipeline()
    questions = [c.question for c in load_cases(Path("evals/cases.jsonl"))][:50]
    pipeline.retriever.search(questions[0])
    times = []
    for question in questions:
        started = time.perf_counter()
        pipeline.retriever.search(question, k=5)
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    print(f"queries: {len(times)}")
    print(f"search p50: {statistics.median(times):.0f} ms, p95: {times[int(len(times) * 0.95) - 1]:.0f} ms")


if __name__ == "__main__":
    main()
