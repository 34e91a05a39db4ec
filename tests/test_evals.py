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
    answered = [r for r in rows if not r["refused"]]
    assert all(r["trace"]["considered"] for r in answered)  # a failure can be read from the results file


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


TRANSFER = ROOT / "evals" / "transfer"


def test_the_ci_transfer_subset_meets_its_thresholds_on_papers_added_as_a_user_would(tmp_path: Path):
    """The fixed CI subset of the transfer split: its 14 papers are ingested into a temporary index
    beside corpus/, through `askpfg eval --with-docs`, as `askpfg ingest` would add them. Thresholds
    sit a step below this subset's figures in the full transfer run of 2026-12-02 (answers 10/13,
    every cited paper right 8/12, false refusals 1/13), two steps for answers (generator timeouts
    on a busy machine); unanswerable refused 2/3, decided by code alone, is required as measured."""
    out = tmp_path / "transfer.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "askpfg", "eval", "--cases", str(TRANSFER / "ci_cases.jsonl"),
         "--with-docs", str(TRANSFER / "docs"), "--out", str(out),
         "--min-quotes-verified", "1.0", "--min-answer-accuracy", "0.6", "--min-citation-accuracy", "0.55",
         "--min-refused-unanswerable", "0.6", "--max-false-refusals", "0.1"],
        capture_output=True, text=True,
    )
    print(run.stdout, run.stderr[-2000:])
    assert run.returncode == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == len(load_cases(TRANSFER / "ci_cases.jsonl"))
    assert any(c["doc_id"].startswith("2025-") for r in rows for c in r["citations"])  # the added papers answer


def test_eval_with_docs_rejects_a_folder_that_does_not_exist(tmp_path: Path):
    run = subprocess.run(
        [sys.executable, "-m", "askpfg", "eval", "--with-docs", str(tmp_path / "missing")],
        capture_output=True, text=True,
    )
    assert run.returncode == 2
    assert "is not a folder" in run.stderr


def test_the_own_split_is_well_formed_and_names_only_known_papers():
    cases = load_cases(ROOT / "evals" / "own_transfer_cases.jsonl")
    known = {p.stem for p in (TRANSFER / "docs").glob("*.md")} | {p.stem for p in (ROOT / "corpus").glob("*.md")}
    assert len(cases) >= 40 and len({c.id for c in cases}) == len(cases)
    assert all(set(c.docs) <= known for c in cases)
    assert sum(not c.answerable for c in cases) >= 8
