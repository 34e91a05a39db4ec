"""Indexing stage: chunks and their embeddings in Chroma, documents on disk, a manifest as the truth.

Crash safety: a document's new chunks are added under new ids first; then its stored text and
the manifest are replaced atomically (write to a temp file, rename); only then are its old
chunks deleted. Readers see only chunks whose `doc_hash` the manifest lists, so a process killed
at any point leaves the previous index fully queryable, and the next ingest completes the work.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import chromadb
from chromadb.config import Settings as ChromaSettings
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.chroma import ChromaVectorStore

from askpfg.chunking import chunk_document, make_splitter
from askpfg.corpus import CorpusError, Document, DocumentMeta, load_corpus, read_document
from askpfg.models import get_embedder, get_tokenizer
from askpfg.settings import Settings


def _atomic_write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())
    tmp.replace(path)


@dataclass
class IngestReport:
    """What an ingest did, document by document."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class IndexStore:
    """The Chroma collection, the stored documents and the manifest that says which chunks are live."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_host:
            self.client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        else:
            self.client = chromadb.PersistentClient(path=str(settings.index_dir / "chroma"), settings=chroma_settings)
        # embedding_function=None: we always pass our own embeddings; Chroma's default model downloads.
        self.collection = self.client.get_or_create_collection(
            settings.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)
        self._lock = threading.Lock()
        self.version = 0

    # --- manifest -------------------------------------------------------------------------------

    def manifest(self) -> dict[str, dict]:
        """doc id -> {"hash", "chunks", "meta"} for every live document."""
        path = self.settings.manifest_path
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def _write_manifest(self, manifest: dict[str, dict]) -> None:
        _atomic_write(self.settings.manifest_path, json.dumps(manifest, indent=1, sort_keys=True))

    def live_hashes(self) -> list[str]:
        return [entry["hash"] for entry in self.manifest().values()]

    def is_empty(self) -> bool:
        return not self.manifest()

    def documents(self) -> list[DocumentMeta]:
        """Metadata of every live document, oldest first."""
        metas = [DocumentMeta.model_validate(e["meta"]) for e in self.manifest().values()]
        return sorted(metas, key=lambda m: (m.date, m.id))

    def document(self, doc_id: str) -> Document | None:
        """A live document's stored text and metadata, or None."""
        if doc_id not in self.manifest():
            return None
        path = self.settings.documents_dir / f"{doc_id}.json"
        return Document.model_validate_json(path.read_text(encoding="utf-8"))

    def chunk_count(self) -> int:
        return sum(entry["chunks"] for entry in self.manifest().values())

    # --- reading chunks ---------------------------------------------------------------------------

    def live_nodes(self) -> list[TextNode]:
        """Every live chunk as a node (for BM25), in document then position order."""
        hashes = self.live_hashes()
        if not hashes:
            return []
        got = self.collection.get(where={"doc_hash": {"$in": hashes}}, include=["documents", "metadatas"])
        nodes = []
        for text, meta in zip(got["documents"], got["metadatas"], strict=True):
            node = metadata_dict_to_node(meta, text=text)
            nodes.append(node)
        return sorted(nodes, key=lambda n: (n.metadata["doc_id"], n.metadata["start"]))

    # --- writing ----------------------------------------------------------------------------------

    def ingest(self, docs: Iterable[Document], progress: Callable[[str], None] | None = None) -> IngestReport:
        """Add or replace documents; unchanged ones (same content hash) are skipped."""
        report = IngestReport()
        with self._lock:
            self._collect_orphans()
            splitter = make_splitter(self.settings, get_tokenizer())
            pipeline = IngestionPipeline(transformations=[get_embedder()])
            for doc in docs:
                manifest = self.manifest()
                previous = manifest.get(doc.id)
                if previous and previous["hash"] == doc.content_hash:
                    report.unchanged.append(doc.id)
                    if progress:
                        progress(doc.id)
                    continue
                nodes = pipeline.run(nodes=chunk_document(doc, splitter))
                self.vector_store.add(nodes)
                _atomic_write(self.settings.documents_dir / f"{doc.id}.json", doc.model_dump_json())
                manifest[doc.id] = {"hash": doc.content_hash, "chunks": len(nodes), "meta": doc.meta.model_dump(mode="json")}
                self._write_manifest(manifest)
                if previous:
                    self.collection.delete(where={"doc_hash": previous["hash"]})
                (report.updated if previous else report.added).append(doc.id)
                report.chunks += len(nodes)
                if progress:
                    progress(doc.id)
            self.version += 1
        return report

    def remove(self, doc_id: str) -> bool:
        """Remove a document and its chunks; False when no such document is indexed."""
        with self._lock:
            manifest = self.manifest()
            entry = manifest.pop(doc_id, None)
            if entry is None:
                return False
            self._write_manifest(manifest)
            self.collection.delete(where={"doc_hash": entry["hash"]})
            (self.settings.documents_dir / f"{doc_id}.json").unlink(missing_ok=True)
            self.version += 1
            return True

    def _collect_orphans(self) -> None:
        """Delete chunks left by an ingest that was killed before its manifest write."""
        hashes = self.live_hashes()
        where = {"doc_hash": {"$nin": hashes}} if hashes else None
        if where is None:
            ids = self.collection.get(include=[])["ids"]
            if ids:
                self.collection.delete(ids=ids)
        else:
            self.collection.delete(where=where)


def ingest_paths(
    store: IndexStore,
    paths: list[Path],
    overrides: dict[str, str | None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> IngestReport:
    """Read and ingest files; a file that cannot be read is reported and the others still go in."""
    overrides = overrides or {}
    docs: list[Document] = []
    errors: list[str] = []
    for path in paths:
        try:
            docs.append(read_document(path, **overrides))
        except CorpusError as exc:
            errors.append(str(exc))
    report = store.ingest(docs, progress=progress)
    report.errors = errors + report.errors
    return report


def build_index(store: IndexStore, progress: Callable[[str], None] | None = None) -> IngestReport:
    """Index every document in `corpus/` (a no-op for documents already indexed unchanged)."""
    return store.ingest(load_corpus(store.settings.corpus_dir), progress=progress)
