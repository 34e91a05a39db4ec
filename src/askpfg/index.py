"""Indexing stage: chunks and their embeddings in Chroma, documents on disk, a manifest as the truth.

Crash safety (embedded mode): the index lives in generation folders `index/gen-NNNNNN/`, each a
Chroma store plus the stored documents and the manifest. An ingest copies the current generation,
writes only to the copy, and commits by atomically replacing `index/CURRENT`. A process killed at
any point leaves the previous generation untouched and current; the next ingest starts again from
it. (A Chroma store killed mid-write can be left unreadable, so it is never written in place.)
In server mode the server owns durability; readers still see only chunks whose `doc_hash` the
manifest lists, and the manifest is replaced atomically.
"""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import chromadb
import numpy as np
from chromadb.config import Settings as ChromaSettings
from llama_index.core.ingestion import IngestionPipeline
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node
from llama_index.vector_stores.chroma import ChromaVectorStore

from askpfg.chunking import (
    chunk_document,
    heading_at,
    is_furniture,
    make_splitter,
    split_sentences,
)
from askpfg.corpus import (
    CorpusError,
    Document,
    DocumentMeta,
    load_corpus,
    read_document,
)
from askpfg.lexical import Lexicon
from askpfg.models import embed_texts, get_embedder, get_tokenizer
from askpfg.settings import Settings

_GENERATION = re.compile(r"^gen-(\d{6})$")
HASHES_PER_GET = 500  # papers named in one `$in` of a Chroma get (SQLite caps the variables of one statement)
ROWS_PER_GET = 10_000  # rows one Chroma get returns (it fails past about 32,000: the same cap)


def _atomic_write(path: Path, text: str, sync: bool = True) -> None:
    """Write a file whole or not at all; `sync=False` inside a generation not yet committed, which a
    crash discards anyway."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        handle.write(text)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
    tmp.replace(path)


def sentence_id(doc_hash: str, start: int) -> str:
    """A stored sentence's id: its paper's content hash and where it starts."""
    return f"{doc_hash}:s{start}"


def sentence_rows(doc: Document) -> list[tuple[str, str, dict]]:
    """(id, text, metadata) of each sentence of a document worth storing, flagged when it is page furniture."""
    meta, doc_hash = doc.meta, doc.content_hash  # the hash once: it is computed over the whole text
    return [
        (
            sentence_id(doc_hash, s.start),
            s.text,
            {
                "doc_id": meta.id, "doc_hash": doc_hash, "title": meta.title, "date": meta.date.isoformat(),
                "date_int": meta.date_int, "kind": meta.kind, "heading": heading_at(doc.text, s.start),
                "start": s.start, "end": s.end, "furniture": is_furniture(s.text),
            },
        )
        for s in split_sentences(doc.text)
        if len(s.text.split()) >= 3
    ]


class _Batch:
    """Chunks and sentences of several papers embedded and written together: the embedder and Chroma
    both run faster on a few thousand texts at once than on one paper's."""

    ROWS = 4000

    def __init__(self, store: IndexStore, progress: Callable[[str], None] | None = None) -> None:
        self.store, self.progress = store, progress
        self.chunks: list[TextNode] = []
        self.sentences: list[tuple[str, str, dict]] = []
        self.docs: list[str] = []

    def add(self, doc: Document, chunks: list[TextNode]) -> None:
        self.chunks += chunks
        self.sentences += sentence_rows(doc)
        self.docs.append(doc.id)
        if len(self.chunks) + len(self.sentences) >= self.ROWS:
            self.flush()

    def flush(self) -> None:
        limit = self.store.client.get_max_batch_size()
        embedded = IngestionPipeline(transformations=[get_embedder()]).run(nodes=self.chunks) if self.chunks else []
        for start in range(0, len(embedded), limit):
            self.store.vector_store.add(embedded[start : start + limit])
        for start in range(0, len(self.sentences), limit):
            ids, texts, metadatas = map(list, zip(*self.sentences[start : start + limit], strict=True))
            self.store.sentences.add(ids=ids, embeddings=embed_texts(texts), documents=texts, metadatas=metadatas)
        if self.progress:
            for doc_id in self.docs:
                self.progress(doc_id)
        self.chunks, self.sentences, self.docs = [], [], []


@dataclass
class IngestReport:
    """What an ingest did, document by document."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    chunks: int = 0

    @property
    def ok(self) -> bool:
        return not self.errors


class IndexStore:
    """The Chroma collection, the stored documents and the manifest that says which chunks are live."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.root = settings.index_dir
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self.generation = ""
        self._open()

    # --- generations ----------------------------------------------------------------------------

    @property
    def server_mode(self) -> bool:
        return bool(self.settings.chroma_host)

    def _current_generation(self) -> str:
        current = self.root / "CURRENT"
        return current.read_text(encoding="utf-8").strip() if current.is_file() else ""

    def _open(self, generation: str | None = None) -> None:
        chroma_settings = ChromaSettings(anonymized_telemetry=False)
        if self.server_mode:
            self.data_dir = self.root / f"server-{self.settings.chroma_host}-{self.settings.chroma_port}"
            self.client = chromadb.HttpClient(host=self.settings.chroma_host, port=self.settings.chroma_port, settings=chroma_settings)
            self.generation = "server"
        else:
            self.generation = generation if generation is not None else self._current_generation()
            self.data_dir = self.root / (self.generation or "gen-000000")
            self.client = chromadb.PersistentClient(path=str(self.data_dir / "chroma"), settings=chroma_settings)
        # embedding_function=None: we always pass our own embeddings; Chroma's default model downloads.
        self.collection = self.client.get_or_create_collection(
            self.settings.collection, metadata={"hnsw:space": "cosine"}, embedding_function=None
        )
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)
        # Every sentence on its own too: word statistics and furniture flags for ranking, and an
        # embedding for single-sentence search (`ASKPFG_SENTENCE_K`).
        self.sentences = self.client.get_or_create_collection(
            f"{self.settings.collection}_sentences", metadata={"hnsw:space": "cosine"}, embedding_function=None
        )

    def refresh(self) -> bool:
        """Switch to a newer generation committed by another process; True if it changed."""
        if self.server_mode or self._current_generation() == self.generation:
            return False
        with self._lock:
            self._open()
        return True

    @property
    def version(self) -> str:
        """Changes whenever the live index changes (readers rebuild BM25 and caches on change)."""
        return f"{self.generation}:{self.manifest_path.stat().st_mtime_ns if self.manifest_path.is_file() else 0}"

    @contextmanager
    def _writer(self) -> Iterator[None]:
        """One writer at a time, across processes."""
        with self._lock, (self.root / ".lock").open("w") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                self.refresh()
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _next_generation(self) -> str:
        numbers = [int(m.group(1)) for p in self.root.iterdir() if (m := _GENERATION.match(p.name))]
        return f"gen-{max(numbers, default=0) + 1:06d}"

    def _collect_garbage(self) -> None:
        """Delete generations other than the current and the one before it (readers may hold it)."""
        keep = sorted((p.name for p in self.root.iterdir() if _GENERATION.match(p.name) and p.name <= self.generation))[-2:]
        for path in self.root.iterdir():
            if _GENERATION.match(path.name) and path.name not in keep:
                shutil.rmtree(path, ignore_errors=True)

    # --- manifest -------------------------------------------------------------------------------

    @property
    def manifest_path(self) -> Path:
        return self.data_dir / "manifest.json"

    def manifest(self) -> dict[str, dict]:
        """doc id -> {"hash", "chunks", "sentences" (stored too), "meta"} for every live document."""
        path = self.manifest_path
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def _write_manifest(self, manifest: dict[str, dict]) -> None:
        _atomic_write(self.manifest_path, json.dumps(manifest, indent=1, sort_keys=True))

    def live_hashes(self) -> list[str]:
        return [entry["hash"] for entry in self.manifest().values()]

    def live_hash_filter(self) -> list[str] | None:
        """The document versions a search must be held to, or None when every stored row is live: a
        committed generation holds only its live papers (ingest deletes a replaced paper's rows before
        committing), while a shared Chroma server can hold rows a writer has not yet listed or removed."""
        return self.live_hashes() if self.server_mode else None

    def _get_live(self, collection: chromadb.Collection, where: dict | None, include: list[str]) -> dict[str, list]:
        """`collection.get` over the live papers' rows, a page at a time, and naming a few hundred papers
        at a time where it must name them: SQLite caps the variables of one statement, and Chroma spends
        one on each row it returns and each name of an `$in`."""
        hashes = self.live_hash_filter()
        clauses = [where] if hashes is None else [
            {"$and": [{"doc_hash": {"$in": hashes[i : i + HASHES_PER_GET]}}, where]} if where
            else {"doc_hash": {"$in": hashes[i : i + HASHES_PER_GET]}}
            for i in range(0, len(hashes), HASHES_PER_GET)
        ]
        found: dict[str, list] = {"ids": [], **{key: [] for key in include}}
        for clause in clauses:
            for offset in itertools.count(0, ROWS_PER_GET):
                got = collection.get(where=clause, include=include, limit=ROWS_PER_GET, offset=offset)
                for key in found:
                    found[key] += list(got[key])
                if len(got["ids"]) < ROWS_PER_GET:
                    break
        return found

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
        path = self.data_dir / "documents" / f"{doc_id}.json"
        return Document.model_validate_json(path.read_text(encoding="utf-8"))

    def chunk_count(self) -> int:
        return sum(entry["chunks"] for entry in self.manifest().values())

    # --- reading chunks ---------------------------------------------------------------------------

    def live_nodes(self) -> list[TextNode]:
        """Every live chunk as a node (for BM25), in document then position order."""
        hashes = self.live_hashes()
        if not hashes:
            return []
        got = self._get_live(self.collection, None, ["documents", "metadatas"])
        nodes = [metadata_dict_to_node(meta, text=text) for text, meta in zip(got["documents"], got["metadatas"], strict=True)]
        return sorted(nodes, key=lambda n: (n.metadata["doc_id"], n.metadata["start"]))

    def lexicon(self) -> Lexicon:
        """The current generation's lexicon: saved with it, or built here (server mode, or a generation
        written before lexicons were saved) without writing to the generation."""
        saved = None if self.server_mode else Lexicon.load(self.data_dir)
        return saved or Lexicon.build(self.live_nodes(), self.live_sentence_nodes())

    def chunk_nodes(self, ids: list[str]) -> dict[str, TextNode]:
        """Stored chunks by id, as nodes."""
        if not ids:
            return {}
        got = self.collection.get(ids=ids, include=["documents", "metadatas"])
        return {i: metadata_dict_to_node(m, text=t) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)}

    def sentence_metadata(self, ids: list[str]) -> dict[str, dict]:
        """Stored sentences' metadata by id."""
        if not ids:
            return {}
        got = self.sentences.get(ids=ids, include=["metadatas"])
        return dict(zip(got["ids"], got["metadatas"], strict=True))

    def sentence_vectors(self, ids: list[str]) -> dict[str, np.ndarray]:
        """Stored sentences' embeddings by id (written at ingest), so reranking need not embed them again."""
        if not ids:
            return {}
        got = self.sentences.get(ids=ids, include=["embeddings"])
        return {i: np.asarray(v, dtype=np.float32) for i, v in zip(got["ids"], got["embeddings"], strict=True)}

    def live_sentence_nodes(self) -> list[TextNode]:
        """Every live sentence that is not page furniture, as a node (word statistics, BM25 over sentences)."""
        hashes = self.live_hashes()
        if not hashes:
            return []
        got = self._get_live(self.sentences, {"furniture": False}, ["documents", "metadatas"])
        return [TextNode(id_=i, text=t, metadata=m) for i, t, m in zip(got["ids"], got["documents"], got["metadatas"], strict=True)]

    # --- writing ----------------------------------------------------------------------------------

    @contextmanager
    def _new_generation(self) -> Iterator[None]:
        """Write into a copy of the current generation; commit by replacing CURRENT."""
        if self.server_mode:
            yield
            return
        previous = self.generation
        target = self._next_generation()
        if self.data_dir.is_dir():
            shutil.copytree(self.data_dir, self.root / target)
        self._open(target)
        try:
            yield
            # BM25 and word statistics built once per generation, not per reader or question
            Lexicon.build(self.live_nodes(), self.live_sentence_nodes()).save(self.data_dir)
        except BaseException:
            self._open(previous)
            shutil.rmtree(self.root / target, ignore_errors=True)
            raise
        _atomic_write(self.root / "CURRENT", target + "\n")
        self._collect_garbage()

    def ingest(self, docs: Iterable[Document], progress: Callable[[str], None] | None = None) -> IngestReport:
        """Add or replace documents; unchanged ones (same content hash) are skipped."""
        report = IngestReport()
        with self._writer():
            manifest = self.manifest()
            todo: list[Document] = []
            for doc in docs:
                if manifest.get(doc.id, {}).get("hash") == doc.content_hash:
                    report.unchanged.append(doc.id)
                    if progress:
                        progress(doc.id)
                else:
                    todo.append(doc)
            if not todo:
                return report
            todo = list({doc.id: doc for doc in todo}.values())  # a paper given twice goes in once, as last given
            splitter = make_splitter(self.settings, get_tokenizer())
            with self._new_generation():
                batch = _Batch(self, progress)
                for doc in todo:
                    previous = manifest.get(doc.id)
                    nodes = chunk_document(doc, splitter)
                    batch.add(doc, nodes)
                    _atomic_write(self.data_dir / "documents" / f"{doc.id}.json", doc.model_dump_json(), sync=self.server_mode)
                    manifest[doc.id] = {
                        "hash": doc.content_hash, "chunks": len(nodes), "sentences": True, "meta": doc.meta.model_dump(mode="json"),
                    }
                    if self.server_mode:  # the manifest is what readers trust there; a generation is trusted only once committed
                        batch.flush()
                        self._write_manifest(manifest)
                    if previous:
                        self._delete_hash(previous["hash"])
                    (report.updated if previous else report.added).append(doc.id)
                    report.chunks += len(nodes)
                batch.flush()
                self._write_manifest(manifest)
        return report

    def _delete_hash(self, doc_hash: str) -> None:
        self.collection.delete(where={"doc_hash": doc_hash})
        self.sentences.delete(where={"doc_hash": doc_hash})

    def _add_sentences(self, doc: Document) -> None:
        """Embed and store each sentence of a document, flagged when it is page furniture."""
        batch = _Batch(self)
        batch.add(doc, [])
        batch.flush()

    def missing_sentences(self) -> list[str]:
        """Live documents whose sentences are not stored (an index built before sentences were); only
        the papers whose manifest entry does not say their sentences are stored are looked up."""
        unknown = {doc_id: entry["hash"] for doc_id, entry in self.manifest().items() if not entry.get("sentences")}
        return [
            doc_id for doc_id, doc_hash in unknown.items()
            if not self.sentences.get(where={"doc_hash": doc_hash}, include=[], limit=1)["ids"]
        ]

    def add_missing_sentences(self) -> int:
        """Store the sentences of every live document that lacks them, in a new generation, and mark
        every entry of the manifest as having them."""
        with self._writer():
            manifest = self.manifest()
            if all(entry.get("sentences") for entry in manifest.values()):
                return 0
            missing = self.missing_sentences()
            with self._new_generation():
                for doc_id in missing:
                    doc = self.document(doc_id)
                    if doc is not None:
                        self._add_sentences(doc)
                for entry in manifest.values():
                    entry["sentences"] = True
                self._write_manifest(manifest)  # a new version: readers rebuild their caches
            return len(missing)

    def remove(self, doc_id: str) -> bool:
        """Remove a document and its chunks; False when no such document is indexed."""
        with self._writer():
            manifest = self.manifest()
            if doc_id not in manifest:
                return False
            with self._new_generation():
                entry = manifest.pop(doc_id)
                self._write_manifest(manifest)
                self._delete_hash(entry["hash"])
                (self.data_dir / "documents" / f"{doc_id}.json").unlink(missing_ok=True)
            return True


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
