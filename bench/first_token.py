"""Streaming latency: time to the first streamed text and to the final answer, over evaluation questions.

The first text is what a user sees first in the UI or on `/api/ask/stream`: the generator's first
delta, or the refusal or extractive text when the pipeline answers without generating.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tqdm import tqdm

from askpfg.answering import get_pipeline
from askpfg.evals import load_cases
from askpfg.schemas import Answer


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(len(ordered) * fraction) - 1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=Path("evals/cases.jsonl"))
    parser.add_argument("--limit", type=int, default=40, help="questions to time (default 40)")
    args = parser.parse_args()
    pipeline = get_pipeline()
    cases = [c for c in load_cases(args.cases) if not c.history][: args.limit]
    pipeline.answer(cases[0].question)  # load the models before timing
    first, total = [], []
    for case in tqdm(cases, desc="Timing", unit="question"):
        started = time.perf_counter()
        seen = None
        for item in pipeline.stream(case.question):
            if seen is None and isinstance(item, str) and item.strip():
                seen = time.perf_counter() - started
            if isinstance(item, Answer):
                total.append(time.perf_counter() - started)
        first.append(seen if seen is not None else total[-1])
    print(f"questions: {len(cases)}")
    print(f"first streamed text  p50 {statistics.median(first):.2f} s, p95 {percentile(first, 0.95):.2f} s")
    print(f"final answer         p50 {statistics.median(total):.2f} s, p95 {percentile(total, 0.95):.2f} s")


if __name__ == "__main__":
    main()
