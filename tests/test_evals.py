"""The evaluation harness on the fixed CI subset, through the real pipeline, with thresholds."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from askpfg.answering import Pipeline
from askpfg.evals import CATEGORIES, load_cases, run_cases

ROOT = Path(__file__).resolve().parents[1]


def test_the_evaluation_set_is_well_formed():
    cases = load_cases(ROOT / "evals" / "cases.jsonl")
    assert len(cases) >= 80
    assert len({c.id for c in cases}) == len(cases)
    counts = {k: sum(c.category == k for c in cases) for k in CATEGORIES}
    assert counts["unanswerable"] >= 12 and counts["followup"] >= 8 and counts["temporal"] >= 8
    assert all(c.must and c.docs for c in cases if c.answerable)


def test_the_ci_subset_meets_its_thresholds(pipeline: Pipeline, tmp_path: Path):
    cases = load_cases(ROOT / "evals" / "ci_cases.jsonl")
    out = tmp_path / "results.jsonl"
    summary = run_cases(cases, pipeline, out, progress=False)
    print(summary.table())
    m = summary.metrics
    assert m["quotes_verified"] == 1.0
    assert m["answer_accuracy"] >= 0.8
    assert m["citation_accuracy"] >= 0.85
    assert m["refused_unanswerable"] >= 0.75
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(cases)
    assert {"id", "question", "answer", "refused", "citations", "latency_ms"} <= rows[0].keys()
    assert all({"doc_id", "source", "quote"} <= c.keys() for r in rows for c in r["citations"])


def test_eval_cli_exits_non_zero_when_a_threshold_is_missed(tmp_path: Path, store):
    cases = tmp_path / "one.jsonl"
    cases.write_text(
        json.dumps({"id": "x", "question": "What is the capital of France?", "history": [], "answerable": True,
                    "must": [["Paris"]], "docs": ["nowhere"], "category": "fact"}) + "\n",
        encoding="utf-8",
    )
    run = subprocess.run(
        [sys.executable, "-m", "askpfg", "eval", "--cases", str(cases), "--min-answer-accuracy", "0.5"],
        capture_output=True, text=True, env={**__import__("os").environ, "ASKPFG_USE_GENERATOR": "false"},
    )
    assert run.returncode == 1
    assert "answer accuracy" in run.stdout and "threshold missed" in run.stderr
