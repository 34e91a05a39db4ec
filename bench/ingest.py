"""Time a full index build from corpus/ into a fresh folder: chunks/s and total seconds."""

from __future__ import annotations

import os
import platform
import tempfile
import time
from pathlib import Path

from askpfg.corpus import load_corpus
from askpfg.index import IndexStore
from askpfg.models import get_embedder
from askpfg.settings import Settings


def main() -> None:
    t0 = time.perf_counter()
    get_embedder()
    load_s = time.perf_counter() - t0
    settings = Settings(index_dir=Path(tempfile.mkdtemp(prefix="askpfg-bench-")))
    docs = load_corpus(settings.corpus_dir)
    t1 = time.perf_counter()
    report = IndexStore(settings).ingest(docs)
    build_s = time.perf_counter() - t1
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores")
    print(f"embedding model load: {load_s:.1f} s")
    print(f"documents: {len(docs)}, chunks: {report.chunks}")
    print(f"index build from scratch: {build_s:.1f} s ({report.chunks / build_s:.1f} chunks/s)")


if __name__ == "__main__":
    main()
