"""Drafting time: seconds to draft a reply to each five-point evaluation letter (issue #14's 20 s target).

Every point is searched, answered and verified, so the time grows with the points and their parts;
the models are loaded before timing.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from tqdm import tqdm

from askpfg.answering import get_pipeline
from askpfg.drafting import draft_reply, read_letter, split_letter


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--letters", type=Path, default=Path("evals/letters"))
    parser.add_argument("--points", type=int, default=5, help="time the letters that make this many points (default 5)")
    args = parser.parse_args()
    letters = [p for p in sorted(args.letters.glob("*.txt")) if len(split_letter(read_letter(p)).points) == args.points]
    if not letters:
        parser.error(f"no letter in {args.letters} makes {args.points} points")
    pipeline = get_pipeline()
    pipeline.answer("Who chairs the board?")  # load the models before timing
    seconds = {}
    for path in tqdm(letters, desc="Drafting", unit="letter"):
        started = time.perf_counter()
        draft_reply(read_letter(path), pipeline)
        seconds[path.stem] = time.perf_counter() - started
    for name, value in seconds.items():
        print(f"{name}: {value:.1f} s")
    values = list(seconds.values())
    print(f"{len(values)} letters of {args.points} points: p50 {statistics.median(values):.1f} s, max {max(values):.1f} s")


if __name__ == "__main__":
    main()
