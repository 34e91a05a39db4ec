"""Fit the ranking weights on questions the packaged generator writes from the shipped papers.

For a fixed random sample of sentences of `corpus/` (never the evaluation papers or questions), the
generator writes one question each. Retrieval then gathers candidate sentences for each question, and a
grid search finds the weights under which the sentence the question was written from ranks highest
(mean reciprocal rank), and prints them beside the settings' weights (`ASKPFG_RANK_*`) for comparison on
the evaluation splits. The questions are cached in `bench/results/`.

    .venv/bin/python bench/fit_ranking.py --questions 300
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import sys
import tempfile
import time
from pathlib import Path

from askpfg.answering import Pipeline
from askpfg.models import ChatMessage, get_generator
from askpfg.retrieval import Evidence, RankingWeights
from askpfg.settings import get_settings

PROMPT = (
    "You write exam questions. Given a sentence from a government paper, write ONE short question that the "
    "sentence answers. Ask about one specific fact in it. Use your own words, not the sentence's wording. "
    "Reply with the question only."
)
CACHE = Path("bench/results/synthetic_questions.jsonl")


def write_questions(pipeline: Pipeline, n: int) -> list[dict]:
    """One generated question per sampled sentence (cached: the generator is the slow part)."""
    if CACHE.is_file():
        cached = [json.loads(line) for line in CACHE.read_text(encoding="utf-8").splitlines()]
        if len(cached) >= n:
            return cached[:n]
    nodes = [s for s in pipeline.store.live_sentence_nodes() if len(s.get_content().split()) >= 8]
    sample = random.Random(0).sample(nodes, min(n, len(nodes)))
    generator = get_generator()
    if generator is None:
        raise SystemExit("the generator is switched off (ASKPFG_USE_GENERATOR=false): it writes the questions")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    rows = []
    with CACHE.open("w", encoding="utf-8") as out:
        for i, node in enumerate(sample, start=1):
            messages = [ChatMessage("system", PROMPT), ChatMessage("user", node.get_content())]
            question = "".join(generator.stream(messages, 48, time.monotonic() + 30)).strip().split("\n")[0]
            if question.endswith("?"):
                row = {"question": question, "doc_id": node.metadata["doc_id"],
                       "start": node.metadata["start"], "end": node.metadata["end"]}
                rows.append(row)
                out.write(json.dumps(row) + "\n")
            print(f"\rquestions written: {i}/{len(sample)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return rows


def is_source(e: Evidence, row: dict) -> bool:
    return e.doc_id == row["doc_id"] and e.sentence.start < row["end"] and row["start"] < e.sentence.end


def reciprocal_rank(weights: RankingWeights, candidates: list[Evidence], row: dict) -> float:
    ranked = sorted(candidates, key=weights.score, reverse=True)
    return next((1 / i for i, e in enumerate(ranked, start=1) if is_source(e, row)), 0.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--questions", type=int, default=300, help="how many questions to generate (default 300)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="askpfg-fit-") as tmp:
        pipeline = Pipeline(get_settings().model_copy(update={"index_dir": Path(tmp)}))
        rows = write_questions(pipeline, args.questions)
        pairs = []
        for row in rows:
            candidates = pipeline.retriever.retrieve(row["question"], pipeline.settings.retrieve_k, 60).evidence
            if any(is_source(e, row) for e in candidates):
                pairs.append((row, candidates))
    print(f"{len(pairs)} of {len(rows)} questions have their source sentence among the candidates")
    grid = [
        RankingWeights(dense=round(d, 2), lexical=round(1 - d, 2), typed=t)
        for d, t in itertools.product([x / 10 for x in range(0, 11)], [0.0, 0.04, 0.08, 0.12, 0.16, 0.2])
    ]
    scored = sorted(((sum(reciprocal_rank(w, c, r) for r, c in pairs) / len(pairs), w) for w in grid), key=lambda x: -x[0])
    for mrr, w in scored[:5]:
        print(f"MRR {mrr:.3f}  dense {w.dense}  lexical {w.lexical}  typed {w.typed}")
    current = RankingWeights.from_settings(get_settings())
    mrr = sum(reciprocal_rank(current, c, r) for r, c in pairs) / len(pairs)
    print(f"MRR {mrr:.3f}  (the settings' weights {current.model_dump()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
