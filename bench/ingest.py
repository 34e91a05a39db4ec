"""Time index builds: corpus/ from scratch, then one more paper added to that index; for each, chunks/s
and the share of the time spent embedding (the rest is chunking, Chroma writes, the generation copy and
the lexicon), so it shows how close ingest runs to the embedder's own speed."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llama_index.core.base.embeddings.base import BaseEmbedding  # noqa: E402

from askpfg.corpus import load_corpus, read_document  # noqa: E402
from askpfg.index import IndexStore  # noqa: E402
from askpfg.models import get_embedder  # noqa: E402
from askpfg.settings import Settings  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
EMBEDDING = [0.0, 0]  # seconds spent embedding, texts embedded


def count_embedding_time() -> None:
    """Add the seconds of every batch the embedder runs (chunks and sentences) to EMBEDDING."""
    real = BaseEmbedding.get_text_embedding_batch

    def timed(self, texts, show_progress=False, **kwargs):
        t0 = time.perf_counter()
        try:
            return real(self, texts, show_progress=show_progress, **kwargs)
        finally:
            EMBEDDING[0] += time.perf_counter() - t0
            EMBEDDING[1] += len(texts)

    BaseEmbedding.get_text_embedding_batch = timed


def build(store: IndexStore, docs: list, label: str) -> None:
    EMBEDDING[:] = [0.0, 0]
    t0 = time.perf_counter()
    report = store.ingest(docs)
    took = time.perf_counter() - t0
    print(
        f"{label}: {len(docs)} paper(s), {report.chunks} chunks in {took:.1f} s ({report.chunks / took:.1f} chunks/s); "
        f"embedding {EMBEDDING[0]:.1f} s ({EMBEDDING[0] / took:.0%}; {EMBEDDING[1]} chunks and sentences, "
        f"{EMBEDDING[1] / max(EMBEDDING[0], 1e-9):.0f} texts/s), the rest {took - EMBEDDING[0]:.1f} s"
    )


def main() -> None:
    t0 = time.perf_counter()
    get_embedder()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f}")
    print(f"embedding model load: {time.perf_counter() - t0:.1f} s")
    count_embedding_time()
    store = IndexStore(Settings(index_dir=Path(tempfile.mkdtemp(prefix="askpfg-bench-"))))
    build(store, load_corpus(ROOT / "corpus"), "index build from scratch")
    extra = sorted((ROOT / "evals" / "transfer" / "docs").glob("*.md"))[0]
    build(store, [read_document(extra)], "one paper added to it")


if __name__ == "__main__":
    main()
