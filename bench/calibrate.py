"""Retrieval-only pass over the eval cases: evidence recall and the refusal threshold's trade-off.

Prints, for each threshold, the share of unanswerable cases refused and answerable cases kept,
and recall@k of the evidence sentences (a case counts when its `must` groups all match within
the top-k evidence). Uses the real index and embedder; no generator.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from askpfg.answering import get_pipeline
from askpfg.conversation import needs_condensing, rule_condense
from askpfg.evals import load_cases, matches


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=Path, default=Path("evals/cases.jsonl"))
    parser.add_argument("--k", type=int, default=4, help="evidence sentences considered")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    pipeline = get_pipeline()
    rows = []
    for case in load_cases(args.cases):
        q = rule_condense(case.question, case.history) if needs_condensing(case.question, case.history) else case.question
        result = pipeline.retriever.retrieve(q, pipeline.settings.retrieve_k, 12)
        top = result.evidence[0].score if result.evidence else 0.0
        found = case.answerable and matches(" ".join(e.text for e in result.evidence[: args.k]), case.must)
        rows.append((case, top, found))
        if args.verbose:
            print(f"{case.id:<12} {'A' if case.answerable else 'U'} top={top:.3f} recall={'Y' if found else '-'} {q[:70]}")
    answerable = [r for r in rows if r[0].answerable]
    print(f"recall@{args.k} (answerable): {sum(r[2] for r in answerable) / len(answerable):.1%}")
    for threshold in [x / 100 for x in range(30, 66, 2)]:
        refused = sum(r[1] < threshold for r in rows if not r[0].answerable) / max(1, len(rows) - len(answerable))
        kept = sum(r[1] >= threshold for r in answerable) / len(answerable)
        print(f"threshold {threshold:.2f}: unanswerable refused {refused:.0%}, answerable kept {kept:.0%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
