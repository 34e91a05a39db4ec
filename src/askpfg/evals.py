"""Evals stage: run a cases file through the real pipeline and score answers, citations and refusals."""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel

from askpfg.answering import Pipeline, quote_is_verbatim
from askpfg.schemas import Answer, Message

CATEGORIES = ("fact", "paraphrase", "temporal", "followup", "unanswerable", "welsh")


class Case(BaseModel):
    """One evaluation case (a line of evals/cases.jsonl)."""

    id: str
    question: str
    history: list[Message] = []
    answerable: bool
    must: list[list[str]] = []
    docs: list[str] = []
    category: str


class CitationResult(BaseModel):
    doc_id: str
    source: str
    quote: str
    verified: bool


class CaseResult(BaseModel):
    """One line of the results file."""

    id: str
    category: str
    question: str
    standalone_question: str
    answer: str
    refused: bool
    answerable: bool
    correct: bool
    citations: list[CitationResult]
    citations_correct: bool
    latency_ms: float
    mode: str


def load_cases(path: Path) -> list[Case]:
    """Read a JSONL cases file; a bad line names its line number."""
    cases = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                cases.append(Case.model_validate_json(line))
            except ValueError as exc:
                raise ValueError(f"{path}:{number}: not a valid case: {exc}") from exc
    return cases


def matches(text: str, groups: list[list[str]]) -> bool:
    """Every group has at least one alternative that matches (case-insensitive)."""
    return all(any(re.search(alt, text, flags=re.IGNORECASE) for alt in group) for group in groups)


def score_case(case: Case, answer: Answer, pipeline: Pipeline, latency_ms: float) -> CaseResult:
    citations = [
        CitationResult(
            doc_id=c.doc_id,
            source=c.source,
            quote=c.quote,
            verified=quote_is_verbatim(c.quote, pipeline.retriever.document(c.doc_id).text),
        )
        for c in answer.citations
    ]
    if case.answerable:
        correct = not answer.refused and matches(answer.text, case.must)
    else:
        correct = answer.refused
    return CaseResult(
        id=case.id,
        category=case.category,
        question=case.question,
        standalone_question=answer.standalone_question,
        answer=answer.text,
        refused=answer.refused,
        answerable=case.answerable,
        correct=correct,
        citations=citations,
        citations_correct=all(c.doc_id in case.docs or c.source in case.docs for c in citations),
        latency_ms=latency_ms,
        mode=answer.mode,
    )


def _pct(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Summary:
    """Aggregate figures over a set of results."""

    results: list[CaseResult]
    metrics: dict[str, float | None] = field(default_factory=dict)

    def __post_init__(self) -> None:
        r = self.results
        answerable = [x for x in r if x.answerable]
        unanswerable = [x for x in r if not x.answerable]
        answered = [x for x in r if not x.refused]
        cites = [c for x in r for c in x.citations]
        latencies = sorted(x.latency_ms for x in r)
        self.metrics = {
            "answer_accuracy": _pct(sum(x.correct for x in answerable), len(answerable)),
            "citation_accuracy": _pct(sum(x.citations_correct for x in answered if x.answerable), len([x for x in answered if x.answerable])),
            "quotes_verified": _pct(sum(c.verified for c in cites), len(cites)),
            "refused_unanswerable": _pct(sum(x.refused for x in unanswerable), len(unanswerable)),
            "false_refusals": _pct(sum(x.refused for x in answerable), len(answerable)),
            "overall_correct": _pct(sum(x.correct for x in r), len(r)),
            "p50_ms": latencies[len(latencies) // 2] if latencies else None,
            "p95_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))] if latencies else None,
        }

    def table(self) -> str:
        def fmt(value: float | None, ms: bool = False) -> str:
            if value is None:
                return "—"
            return f"{value:,.0f} ms" if ms else f"{value:.1%}"

        m = self.metrics
        lines = [
            f"cases                      {len(self.results)}",
            f"answer accuracy            {fmt(m['answer_accuracy'])}",
            f"citation accuracy          {fmt(m['citation_accuracy'])}",
            f"quotes verified verbatim   {fmt(m['quotes_verified'])}",
            f"unanswerable refused       {fmt(m['refused_unanswerable'])}",
            f"false refusals             {fmt(m['false_refusals'])}",
            f"latency p50 / p95          {fmt(m['p50_ms'], True)} / {fmt(m['p95_ms'], True)}",
            "",
            f"{'category':<14}{'cases':>6}{'correct':>9}{'p50 ms':>9}",
        ]
        by_category: dict[str, list[CaseResult]] = defaultdict(list)
        for result in self.results:
            by_category[result.category].append(result)
        for category in sorted(by_category, key=lambda c: CATEGORIES.index(c) if c in CATEGORIES else 99):
            group = by_category[category]
            lat = sorted(x.latency_ms for x in group)[len(group) // 2]
            lines.append(f"{category:<14}{len(group):>6}{sum(x.correct for x in group) / len(group):>9.0%}{lat:>9,.0f}")
        return "\n".join(lines)


def run_cases(cases: list[Case], pipeline: Pipeline, out: Path | None = None, progress: bool = True) -> Summary:
    """Answer every case with the real pipeline, optionally writing results as JSONL."""
    from tqdm import tqdm

    results: list[CaseResult] = []
    handle = out.open("w", encoding="utf-8") if out else None
    try:
        for case in tqdm(cases, desc="Evaluating", unit="case", disable=not progress, file=sys.stderr):
            started = time.perf_counter()
            answer = pipeline.answer(case.question, case.history)
            result = score_case(case, answer, pipeline, (time.perf_counter() - started) * 1000)
            results.append(result)
            if handle:
                handle.write(result.model_dump_json() + "\n")
                handle.flush()
    finally:
        if handle:
            handle.close()
    return Summary(results)


def thresholds_missed(summary: Summary, args: argparse.Namespace) -> list[str]:
    """Which --min-*/--max-* thresholds the run missed."""
    m = summary.metrics
    checks = [
        ("answer_accuracy", args.min_answer_accuracy, "min"),
        ("citation_accuracy", args.min_citation_accuracy, "min"),
        ("quotes_verified", args.min_quotes_verified, "min"),
        ("refused_unanswerable", args.min_refused_unanswerable, "min"),
        ("false_refusals", args.max_false_refusals, "max"),
    ]
    missed = []
    for name, limit, kind in checks:
        value = m[name]
        if limit is None or value is None:
            continue
        if (kind == "min" and value < limit) or (kind == "max" and value > limit):
            missed.append(f"{name} {value:.1%} is {'below' if kind == 'min' else 'above'} {limit:.1%}")
    return missed


def main(args: argparse.Namespace) -> int:
    """`askpfg eval`: print the table; exit 1 when a given threshold is missed."""
    from askpfg.answering import get_pipeline

    if args.letters:
        from askpfg.drafting import LetterError, evaluate_letters

        try:
            report = evaluate_letters(args.letters, get_pipeline())
        except LetterError as exc:
            print(f"askpfg: error: {exc}", file=sys.stderr)
            return 2
        print(report.table())
        return 0 if report.passed else 1
    if not args.cases.is_file():
        print(f"askpfg: error: cases file {args.cases} not found", file=sys.stderr)
        return 2
    try:
        cases = load_cases(args.cases)
    except ValueError as exc:
        print(f"askpfg: error: {exc}", file=sys.stderr)
        return 2
    if args.category:
        cases = [c for c in cases if c.category == args.category]
    if args.limit:
        cases = cases[: args.limit]
    if not cases:
        print("askpfg: error: no cases to run (check --category / --limit)", file=sys.stderr)
        return 2
    summary = run_cases(cases, get_pipeline(), args.out)
    print(summary.table())
    if args.out:
        print(f"\nresults written to {args.out}")
    missed = thresholds_missed(summary, args)
    for line in missed:
        print(f"askpfg: threshold missed: {line}", file=sys.stderr)
    return 1 if missed else 0


def dump_metrics(summary: Summary) -> str:
    """The metrics as JSON (for bench scripts)."""
    return json.dumps(summary.metrics, indent=2)
