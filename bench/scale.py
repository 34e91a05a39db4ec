"""Retrieval at library scale: a synthetic library of ~100k chunks, then build time, size on disk, memory
and search latency with no filter, a kind filter and a date range, and `askpfg ask` in extractive mode.

The papers are generated from the sentences of the shipped and transfer papers (the programme's own
register), with their numbers, years and places changed, dated across 2015-2026 and of every kind; the
five shipped papers go in too, so the questions asked have real answers. Embedding a million sentences
would take hours on two cores, so the library's vectors come from the real embedder run once over the
source sentences: a generated sentence gets its source's vector, a chunk the mean of its sentences'.
Query vectors are real. The real embedder's rate is printed beside, to say what a real build would add.

    .venv/bin/python bench/scale.py                  # ~100k chunks into bench/results/scale-index
    .venv/bin/python bench/scale.py --chunks 5000    # a quick look
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402
from pydantic import PrivateAttr  # noqa: E402

from askpfg import index as index_module  # noqa: E402
from askpfg.answering import Pipeline  # noqa: E402
from askpfg.chunking import split_sentences  # noqa: E402
from askpfg.corpus import (  # noqa: E402
    KINDS,
    Document,
    DocumentMeta,
    load_corpus,
    read_document,
)
from askpfg.index import IndexStore  # noqa: E402
from askpfg.models import embed_texts  # noqa: E402
from askpfg.question import profile  # noqa: E402
from askpfg.retrieval import Filters, Retriever  # noqa: E402
from askpfg.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CHUNKS_PER_PAPER = 30  # about 300 sentences: a long bulletin or a set of board minutes


class PoolEmbedder(BaseEmbedding):
    """Vectors looked up from the source sentences' real embeddings (see the module docstring)."""

    _table: dict = PrivateAttr()  # private: llama-index hashes a transformation's fields on every run

    def __init__(self, table: dict[str, np.ndarray]) -> None:
        super().__init__(model_name="pool")
        self._table = table

    def _vector(self, text: str) -> list[float]:
        if text in self._table:
            return self._table[text].tolist()
        found = [self._table[s.text] for s in split_sentences(text) if s.text in self._table]
        if not found:
            return np.zeros(384, dtype=np.float32).tolist()
        mean = np.mean(found, axis=0)
        return (mean / (np.linalg.norm(mean) or 1.0)).tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._vector(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
        return [self._vector(t) for t in texts]

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._vector(query)


def source_sentences() -> list[str]:
    """The sentences of the shipped and transfer papers, at least six words long."""
    docs = load_corpus(ROOT / "corpus") + [read_document(p) for p in sorted((ROOT / "evals" / "transfer" / "docs").glob("*.md"))]
    return sorted({s.text for d in docs for s in split_sentences(d.text) if len(s.text.split()) >= 6})


def vary(sentence: str, rng: random.Random, places: list[str]) -> str:
    """The sentence with its years, other numbers and places changed."""
    sentence = re.sub(r"\b(19|20)\d\d\b", lambda _: str(rng.randint(2012, 2026)), sentence)
    sentence = re.sub(r"\b\d{1,3}(,\d{3})*\b", lambda m: f"{rng.randint(2, 99_999):,}" if "," in m.group() else str(rng.randint(2, 400)), sentence)
    return re.sub("|".join(re.escape(p) for p in places), lambda _: rng.choice(places), sentence) if places else sentence


def library(chunks: int, seed: int = 7) -> tuple[list[Document], dict[str, np.ndarray], float]:
    """Synthetic papers of about `chunks` chunks, the vector table, and the real embedder's sentences/s."""
    rng = random.Random(seed)
    sources = source_sentences()
    t0 = time.perf_counter()
    vectors = np.asarray(embed_texts(sources), dtype=np.float32)
    rate = len(sources) / (time.perf_counter() - t0)
    places = [p for p in profile().get("places", []) if isinstance(p, str)]
    table: dict[str, np.ndarray] = {}
    docs = []
    for number in range(max(1, chunks // CHUNKS_PER_PAPER)):
        picks = [rng.randrange(len(sources)) for _ in range(CHUNKS_PER_PAPER * 9)]
        sentences = [vary(sources[i], rng, places) for i in picks]
        for i, text in zip(picks, sentences, strict=True):
            table[text] = vectors[i]
        date = dt.date(2015, 1, 1) + dt.timedelta(days=rng.randrange(12 * 365))
        kind = rng.choice(KINDS)
        paragraphs = "\n\n".join(" ".join(sentences[j : j + 4]) for j in range(0, len(sentences), 4))
        text = f"# Paper {number}\n\n{paragraphs}\n"
        meta = DocumentMeta(id=f"synthetic-{number:05d}", title=f"Synthetic {kind} {number}", date=date, kind=kind, source=f"synthetic-{number}.md")
        docs.append(Document(meta=meta, text=text))
    for i, text in enumerate(sources):
        table.setdefault(text, vectors[i])
    return docs, table, rate


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    return f"p50 {statistics.median(ordered):.0f} ms, p95 {ordered[int(0.95 * (len(ordered) - 1))]:.0f} ms"


def timed(fn, questions: list[str]) -> list[float]:
    out = []
    for q in questions:
        t0 = time.perf_counter()
        fn(q)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def build(args: argparse.Namespace, settings: Settings) -> None:
    """Generate the library and index it through the real ingest, vectors from the table."""
    shutil.rmtree(args.dir, ignore_errors=True)
    t0 = time.perf_counter()
    docs, table, rate = library(args.chunks)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; generated {len(docs)} papers in {time.perf_counter() - t0:.0f} s")
    print(f"real embedder: {rate:.0f} source sentences/s")
    pool = PoolEmbedder(table)
    index_module.get_embedder = lambda: pool
    index_module.embed_texts = pool._get_text_embeddings
    store = IndexStore(settings)
    t0 = time.perf_counter()
    done = [0]

    def progress(_doc_id: str) -> None:
        done[0] += 1
        if done[0] % 250 == 0:
            print(f"  {done[0]}/{len(docs)} papers, {time.perf_counter() - t0:.0f} s", flush=True)

    report = store.ingest([*docs, *load_corpus(ROOT / "corpus")], progress=progress)
    took = time.perf_counter() - t0
    sentences = len(store.lexicon().sentences)
    print(f"chunks: {report.chunks}, sentences: {sentences}")
    print(f"build with vectors from the table: {took:.0f} s ({report.chunks / took:.0f} chunks/s); real embeddings "
          f"would add about {(report.chunks * 8 + sentences) / rate / 60:.0f} min at {rate:.0f} sentences/s")
    size = sum(p.stat().st_size for p in store.data_dir.rglob("*") if p.is_file())
    print(f"index size on disk: {size / 2**30:.2f} GiB")


def read(args: argparse.Namespace, settings: Settings) -> None:
    """A fresh reader process, as the server is: start-up, search latency, extractive answers, RSS."""
    questions = [json.loads(line)["question"] for line in (ROOT / "evals" / "cases.jsonl").open()][: args.questions]
    t0 = time.perf_counter()
    retriever = Retriever(IndexStore(settings))
    retriever.search("warm up", k=5)
    print(f"reader start (open the generation, load its lexicon): {time.perf_counter() - t0:.1f} s")
    k = settings.retrieve_k
    for label, filters in (
        ("no filter", None),
        ("kind filter (letters)", Filters(kinds=["letter"])),
        ("date range (2019-2021)", Filters(since=dt.date(2019, 1, 1), until=dt.date(2021, 12, 31))),
    ):
        search = timed(lambda q, f=filters: retriever.search(q, k, f), questions)
        whole = timed(lambda q, f=filters: retriever.retrieve(q, k, 12, f), questions)
        print(f"search, {label}: {percentiles(search)}; with sentence reranking: {percentiles(whole)}")
    pipeline = Pipeline(settings, store=retriever.store)
    print(f"askpfg ask (extractive): {percentiles(timed(pipeline.answer, questions))}")
    print(f"reader RSS peak: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20:.2f} GiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=100_000, help="about this many chunks of generated papers (default 100000)")
    parser.add_argument("--dir", type=Path, default=ROOT / "bench" / "results" / "scale-index", help="where to build (emptied first)")
    parser.add_argument("--questions", type=int, default=40, help="questions to time, from evals/cases.jsonl (default 40)")
    parser.add_argument("--read-only", action="store_true", help="time the reader on an index built before")
    args = parser.parse_args()
    settings = Settings(index_dir=args.dir, use_generator=False)
    if not args.read_only:
        build(args, settings)
        subprocess.run([sys.executable, __file__, "--read-only", "--dir", str(args.dir), "--questions", str(args.questions)], check=True)
        return
    read(args, settings)


if __name__ == "__main__":
    main()
