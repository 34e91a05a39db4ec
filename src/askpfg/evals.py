"""Evals stage: run a cases file through the real pipeline and score answers, citations and refusals;
and draft replies to the evaluation letters and score them against what each should contain."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, Field

from askpfg.answering import Pipeline
from askpfg.corpus import SUPPORTED_SUFFIXES
from askpfg.drafting import (
    RELATIVE_TIME,
    DraftSection,
    LetterError,
    draft_reply,
    read_letter,
    request_words,
)
from askpfg.schemas import Answer, Message, Trace
from askpfg.verify import normalise_ws, quote_is_verbatim

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
    earlier: bool = False


class CaseResult(BaseModel):
    """One line of the results file."""

    id: str
    category: str
    question: str
    standalone_question: str
    answer: str
    refused: bool
    refusal_reason: str | None = None
    answerable: bool
    correct: bool
    citations: list[CitationResult]
    citations_correct: bool  # the papers cited for the answer, the earlier position a status answer compares with aside
    every_citation_correct: bool = False
    lead_citation_correct: bool = False
    latency_ms: float
    mode: str
    trace: Trace | None = None  # the evidence considered and each drafted sentence's verdict, to read a failure by


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


def cases_from_feedback(path: Path) -> tuple[list[Case], list[str]]:
    """Cases from the UI's ratings (the feedback JSONL), the latest rating of each question in its conversation
    counting (a rating taken back leaves none): an answer rated up must be answered again from the papers it cited (its `must` is left for a
    person to add), a refusal rated up must be refused, a refusal rated down must be answered. An answer rated
    down is not a case (what was wrong needs a person); those questions are returned to be written by hand."""
    latest: dict[tuple, dict] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                record = json.loads(line)
                latest[(record["question"], json.dumps(record["history"]))] = record
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}:{number}: not a rating: {exc}") from exc
    cases, left = [], []
    for record in (r for r in latest.values() if r["rating"] != "withdrawn"):
        up, refused = record["rating"] == "up", record["refused"]
        if up or refused:
            docs = list(dict.fromkeys(c["doc_id"] for c in record["citations"] if not c.get("earlier"))) if up else []
            cases.append(
                Case(
                    id=f"feedback-{len(cases) + 1:03d}", question=record["question"], history=record["history"],
                    answerable=not (up and refused), docs=docs, category="unanswerable" if up and refused else "feedback",
                )
            )
        else:
            left.append(record["question"])
    return cases, left


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
            earlier=c.earlier,
        )
        for c in answer.citations
    ]

    def expected(c: CitationResult) -> bool:
        return c.doc_id in case.docs or c.source in case.docs

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
        refusal_reason=answer.refusal_reason,
        answerable=case.answerable,
        correct=correct,
        citations=citations,
        citations_correct=all(expected(c) for c in citations if not c.earlier),
        every_citation_correct=all(map(expected, citations)),
        lead_citation_correct=bool(citations) and expected(citations[0]),
        latency_ms=latency_ms,
        mode=answer.mode,
        trace=answer.trace,
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
            "every_citation_accuracy": _pct(
                sum(x.every_citation_correct for x in answered if x.answerable), len([x for x in answered if x.answerable])
            ),
            "lead_citation_accuracy": _pct(sum(x.lead_citation_correct for x in answered if x.answerable), len([x for x in answered if x.answerable])),
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
            f"citation accuracy          {fmt(m['citation_accuracy'])}   (every paper cited for the answer is one that answers)",
            f"every citation right       {fmt(m['every_citation_accuracy'])}   (the earlier position a status answer cites counted too)",
            f"first citation right       {fmt(m['lead_citation_accuracy'])}",
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


# --- reply drafting on incoming letters --------------------------------------------------------


class ExpectedPoint(BaseModel):
    """One point an evaluation letter raises, and what a good reply to it contains."""

    point: str
    answerable: bool
    key_facts: list[list[str]] = []
    docs: list[str] = []


class ExpectedLetter(BaseModel):
    """`letter-NN.expected.json`."""

    sender: str
    letter_date: dt.date
    shape: str = Field("", description="how the letter asks: numbered, inline-list, lines-list, email, prose, ...")
    split: str = Field("development", description="development (tuned on) or held-out (written before the code, never tuned on)")
    points: list[ExpectedPoint]


class LetterResult(BaseModel):
    """How the draft for one evaluation letter scored."""

    letter: str
    shape: str = ""
    split: str = "development"
    sender_ok: bool
    date_ok: bool
    points_expected: int
    points_found: int
    points_matched: int
    answerable: int
    with_key_facts: int
    unanswerable: int
    flagged: int
    invented: int
    citations: int
    citations_verified: int
    seconds: float
    problems: list[str] = []


class LettersReport(BaseModel):
    """Reply-drafting results over a folder of letters."""

    letters: list[LetterResult]

    def total(self, field: str) -> int:
        return sum(getattr(r, field) for r in self.letters)

    @property
    def key_fact_rate(self) -> float:
        return self.total("with_key_facts") / max(1, self.total("answerable"))

    @property
    def passed(self) -> bool:
        """No invented answer, and at least 90% of answerable points carry their key facts."""
        return bool(self.letters) and self.total("invented") == 0 and self.key_fact_rate >= 0.9

    def table(self) -> str:
        """A plain-text table, one row per letter, then totals per shape and per split, problems and the verdict."""
        head = f"{'letter':<16}{'sender':>7}{'date':>6}{'points':>9}{'key facts':>11}{'flagged':>9}{'invented':>10}{'quotes ok':>11}{'secs':>7}"
        rows = [head, "-" * len(head)]

        def row(name: str, group: list[LetterResult]) -> str:
            def get(field: str) -> int:
                return sum(getattr(r, field) for r in group)

            one = group[0] if len(group) == 1 and name == group[0].letter else None
            sender = ("ok" if one.sender_ok else "NO") if one else f"{sum(x.sender_ok for x in group)}/{len(group)}"
            date = ("ok" if one.date_ok else "NO") if one else f"{sum(x.date_ok for x in group)}/{len(group)}"
            return (
                f"{name:<16}{sender:>7}{date:>6}{get('points_matched'):>5}/{get('points_expected'):<3}"
                f"{get('with_key_facts'):>7}/{get('answerable'):<3}{get('flagged'):>5}/{get('unanswerable'):<3}"
                f"{get('invented'):>10}{get('citations_verified'):>7}/{get('citations'):<3}{sum(r.seconds for r in group):>7.0f}"
            )

        rows += [row(r.letter, [r]) for r in self.letters]
        rows.append("-" * len(head))
        for label, key in (("shape", "shape"), ("split", "split")):
            for value in sorted({getattr(r, key) for r in self.letters}):
                rows.append(row(f"{label} {value or '?'}"[:16], [r for r in self.letters if getattr(r, key) == value]))
            rows.append("-" * len(head))
        rows += [row("total", self.letters), ""]
        rows += [f"{r.letter}: {p}" for r in self.letters for p in r.problems]
        voice = sum(p.startswith(("QUOTED", "RELATIVE")) for r in self.letters for p in r.problems)
        rows.append(f"reply bodies: {voice} quoted blocks or relative dates copied from a source (need 0)")
        verdict = "PASS" if self.passed else "FAIL"
        rows.append(
            f"{verdict}: {self.key_fact_rate:.0%} of answerable points carry their key facts (need 90%), "
            f"{self.total('invented')} invented answers (need 0), "
            f"{self.total('citations_verified')}/{self.total('citations')} quotes verbatim"
        )
        return "\n".join(rows)


def _overlap(a: str, b: str) -> float:
    """Word overlap of two point descriptions (Dice coefficient of content stems)."""
    x, y = request_words(a), request_words(b)
    return 2 * len(x & y) / (len(x) + len(y)) if x and y else 0.0


def match_points(found: list[str], expected: list[str], threshold: float = 0.2) -> dict[int, int]:
    """expected index -> found index, pairing the most overlapping first, each point used once."""
    pairs = sorted(((_overlap(f, e), ei, fi) for fi, f in enumerate(found) for ei, e in enumerate(expected)), reverse=True)
    matched: dict[int, int] = {}
    for score, ei, fi in pairs:
        if score >= threshold and ei not in matched and fi not in matched.values():
            matched[ei] = fi
    return matched


def _answer_text(section: DraftSection) -> str:
    """A section's drafted text without its placeholders (they repeat the question's words)."""
    return re.sub(r"\[NOT COVERED BY THE PAPERS:[^\]]*\]", " ", section.text)


def evaluate_letter(path: Path, pipeline: Pipeline) -> LetterResult:
    """Draft a reply to one letter and score it against its `.expected.json`."""
    expected = ExpectedLetter.model_validate_json(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    started = time.perf_counter()
    try:
        reply = draft_reply(read_letter(path), pipeline)
    except LetterError as exc:  # the letter scores nothing, and the others are still drafted
        return LetterResult(
            letter=path.stem, shape=expected.shape, split=expected.split, sender_ok=False, date_ok=False,
            points_expected=len(expected.points), points_found=0, points_matched=0,
            answerable=sum(p.answerable for p in expected.points), with_key_facts=0,
            unanswerable=sum(not p.answerable for p in expected.points), flagged=0, invented=0, citations=0,
            citations_verified=0, seconds=round(time.perf_counter() - started, 1), problems=[f"no reply: {exc}"],
        )
    seconds = time.perf_counter() - started
    matched = match_points(reply.points, [p.point for p in expected.points])
    problems: list[str] = []
    with_facts = flagged = invented = 0
    for ei, point in enumerate(expected.points):
        section = reply.sections[matched[ei]] if ei in matched else None
        if section is None:
            problems.append(f"point not found: {point.point}")
        elif point.answerable:
            text = _answer_text(section)
            missing = [group for group in point.key_facts if not any(re.search(alt, text, re.IGNORECASE) for alt in group)]
            if missing:
                problems.append(f"key facts missing {missing}: {point.point}")
            with_facts += not missing
        elif section.covered:
            invented += 1
            problems.append(f"INVENTED answer to an unanswerable point: {point.point}")
        else:
            flagged += 1
    for section in reply.sections:  # the reply is the minister's own words: quotes and relative dates stay in the papers
        body = _answer_text(section)
        if re.search(r"\baccording to the [\w -]+ of (?:\d{1,2} )?[A-Z][a-z]+ \d{4}|:\s*“", body):  # "According to the letter of 22 July 2022: “...”"
            problems.append(f"QUOTED block in the body: {section.heading}")
        if relative := RELATIVE_TIME.search(body):
            problems.append(f"RELATIVE date '{relative.group(0)}' in the body: {section.heading}")
    verified = 0
    for citation in reply.citations:
        if quote_is_verbatim(citation.quote, pipeline.retriever.document(citation.doc_id).text):
            verified += 1
        else:
            problems.append(f"quote [{citation.n}] not found verbatim in {citation.doc_id}")
    sender_ok = normalise_ws(reply.letter.sender).lower() == expected.sender.lower()
    return LetterResult(
        letter=path.stem,
        shape=expected.shape,
        split=expected.split,
        sender_ok=sender_ok,
        date_ok=reply.letter.letter_date == expected.letter_date,
        points_expected=len(expected.points),
        points_found=len(reply.points),
        points_matched=len(matched),
        answerable=sum(p.answerable for p in expected.points),
        with_key_facts=with_facts,
        unanswerable=sum(not p.answerable for p in expected.points),
        flagged=flagged,
        invented=invented,
        citations=len(reply.citations),
        citations_verified=verified,
        seconds=round(seconds, 1),
        problems=problems,
    )


def evaluate_letters(folder: Path, pipeline: Pipeline) -> LettersReport:
    """Draft a reply to every `*.txt` letter in a folder that has a `.expected.json` beside it."""
    letters = sorted(p for p in folder.glob("*.txt") if p.with_suffix(".expected.json").is_file())
    if not letters:
        raise LetterError(f"{folder}: no letters (*.txt with a matching .expected.json)")
    return LettersReport(letters=[evaluate_letter(path, pipeline) for path in letters])


@contextmanager
def pipeline_with_docs(folder: Path | None) -> Iterator[Pipeline]:
    """The shared pipeline, or, given a folder of extra papers, a pipeline over a temporary index of
    `corpus/` plus those papers, ingested as `askpfg ingest` would (the user's index is never touched)."""
    from askpfg.answering import get_pipeline
    from askpfg.index import ingest_paths
    from askpfg.settings import get_settings

    if folder is None:
        yield get_pipeline()
        return
    paths = sorted(p for p in folder.iterdir() if p.suffix.lower() in SUPPORTED_SUFFIXES)
    if not paths:
        raise EvalError(f"{folder}: no papers to ingest (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    with tempfile.TemporaryDirectory(prefix="askpfg-eval-") as tmp:
        settings = get_settings().model_copy(update={"index_dir": Path(tmp)})
        print(f"askpfg: indexing corpus/ and {len(paths)} papers from {folder} in a temporary index", file=sys.stderr)
        pipeline = Pipeline(settings)
        report = ingest_paths(pipeline.store, paths)
        if report.errors:
            raise EvalError("; ".join(report.errors))
        yield pipeline


class EvalError(ValueError):
    """An evaluation that cannot run; the message says what to fix."""


def main(args: argparse.Namespace) -> int:
    """`askpfg eval`: print the table; exit 1 when a given threshold is missed."""
    from askpfg.answering import get_pipeline

    if args.with_docs is not None and not args.with_docs.is_dir():
        print(f"askpfg: error: --with-docs {args.with_docs} is not a folder", file=sys.stderr)
        return 2
    if args.letters:
        try:
            report = evaluate_letters(args.letters, get_pipeline())
        except LetterError as exc:
            print(f"askpfg: error: {exc}", file=sys.stderr)
            return 2
        print(report.table())
        if args.out:
            args.out.write_text("".join(r.model_dump_json() + "\n" for r in report.letters), encoding="utf-8")
            print(f"\nresults written to {args.out}")
        return 0 if report.passed else 1
    if args.from_feedback:
        return print_feedback_cases(args.from_feedback)
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
    try:
        with pipeline_with_docs(args.with_docs) as pipeline:
            summary = run_cases(cases, pipeline, args.out)
    except EvalError as exc:
        print(f"askpfg: error: {exc}", file=sys.stderr)
        return 2
    print(summary.table())
    if args.out:
        print(f"\nresults written to {args.out}")
    missed = thresholds_missed(summary, args)
    for line in missed:
        print(f"askpfg: threshold missed: {line}", file=sys.stderr)
    return 1 if missed else 0


def print_feedback_cases(path: Path | bool) -> int:
    """`askpfg eval --from-feedback [FILE]`: the ratings as cases on stdout (JSONL), what was left on stderr."""
    from askpfg.settings import get_settings

    path = get_settings().feedback_path if path is True else path
    if not path.is_file():
        print(f"askpfg: error: no ratings at {path} (the UI writes them when an answer is rated)", file=sys.stderr)
        return 2
    try:
        cases, left = cases_from_feedback(path)
    except ValueError as exc:
        print(f"askpfg: error: {exc}", file=sys.stderr)
        return 2
    for case in cases:
        print(case.model_dump_json())
    print(f"askpfg: {len(cases)} case(s) from {path}; add `must` patterns to the answered ones", file=sys.stderr)
    for question in left:
        print(f"askpfg: rated down, write its case by hand: {question}", file=sys.stderr)
    return 0


def dump_metrics(summary: Summary) -> str:
    """The metrics as JSON (for bench scripts)."""
    return json.dumps(summary.metrics, indent=2)
