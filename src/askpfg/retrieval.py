"""Retrieval stage: hybrid search (dense + BM25, reciprocal rank fusion), then sentence-level reranking.

No cross-encoder ships its weights in a PyPI package, so reranking scores each sentence of the
fused passages against the question: embedding similarity plus the share of the question's
content words (stemmed) that the sentence and its heading contain.
"""

from __future__ import annotations

import datetime as dt
import re
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.retrievers import BaseRetriever, QueryFusionRetriever
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from pydantic import BaseModel, field_validator, model_validator
from pydantic_core import PydanticCustomError

from askpfg.chunking import Sentence, heading_at, is_furniture, split_sentences
from askpfg.corpus import KINDS, Document
from askpfg.index import IndexStore, sentence_id
from askpfg.lexical import RARE_NAME_CHUNKS, Bm25Unit, Lexicon, mask_args
from askpfg.models import embed_texts, get_embedder
from askpfg.question import (
    NAME_WORD,
    answer_type,
    content_stems,
    has_answer_type,
    initialisms,
    proper_names,
    word_stems,
)
from askpfg.settings import Settings

_QUERY_VECTORS = 256  # recent queries whose embeddings are kept (a question is searched several times)


def _written_in(name: str, stems: set[str], initials: str) -> bool:
    """Whether a name is written in text with these word stems and initialisms: by its stems, or, for
    an acronym, as initials of a name spelled out ("CYPE" in "Children, Young People and Education Committee")."""
    if word_stems(name) <= stems:
        return True
    return name.isupper() and len(name) > 1 and name.lower() in initials


DATE_RANGE_ERROR = "date_range"  # the validation error type of filters whose `since` is after their `until`


class Filters(BaseModel):
    """Metadata filters a user can set: date range, document kinds, particular documents."""

    since: dt.date | None = None
    until: dt.date | None = None
    kinds: list[str] | None = None
    doc_ids: list[str] | None = None

    @field_validator("since", "until", mode="before")
    @classmethod
    def _written_dates(cls, value: object) -> object:
        """A date is written as text: a bare number would be read as seconds since 1970."""
        if isinstance(value, int | float):
            raise ValueError(f"{value!r} is a number: write the date as YYYY-MM-DD, e.g. 2024-05-01")
        return value

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, kinds: list[str] | None) -> list[str] | None:
        for kind in kinds or []:
            if kind not in KINDS:
                raise ValueError(f"unknown kind '{kind}'; valid kinds: {', '.join(KINDS)}")
        return kinds or None

    @model_validator(mode="after")
    def _dates_in_order(self) -> Filters:
        """An inverted date range is a mistake to report, not a search that silently finds nothing."""
        if self.since and self.until and self.since > self.until:
            raise PydanticCustomError(
                DATE_RANGE_ERROR,
                "since ({since}) is after until ({until}), so no paper can match: swap the two dates",
                {"since": self.since.isoformat(), "until": self.until.isoformat()},
            )
        return self

    def key(self) -> str:
        return self.model_dump_json()

    def mask_args(self) -> tuple:
        """The filters as a lexicon's row mask takes them."""
        return mask_args(self.since, self.until, self.kinds, self.doc_ids)

    def accepts(self, metadata: dict) -> bool:
        date = int(metadata["date_int"])
        return (
            (self.since is None or date >= int(self.since.strftime("%Y%m%d")))
            and (self.until is None or date <= int(self.until.strftime("%Y%m%d")))
            and (self.kinds is None or metadata["kind"] in self.kinds)
            and (self.doc_ids is None or metadata["doc_id"] in self.doc_ids)
        )

    def to_chroma_where(self, live_hashes: list[str] | None) -> dict:
        """The same filters as a Chroma `where` clause over stored sentences (furniture left out),
        held to the live document versions when the store may hold others (`IndexStore.live_hash_filter`)."""
        conditions: list[dict] = [{"furniture": False}]
        if live_hashes is not None:
            conditions.append({"doc_hash": {"$in": live_hashes}})
        if self.since:
            conditions.append({"date_int": {"$gte": int(self.since.strftime("%Y%m%d"))}})
        if self.until:
            conditions.append({"date_int": {"$lte": int(self.until.strftime("%Y%m%d"))}})
        if self.kinds:
            conditions.append({"kind": {"$in": self.kinds}})
        if self.doc_ids:
            conditions.append({"doc_id": {"$in": self.doc_ids}})
        return conditions[0] if len(conditions) == 1 else {"$and": conditions}

    def to_metadata_filters(self, live_hashes: list[str] | None) -> MetadataFilters | None:
        """The same filters for Chroma, held to the live document versions as `to_chroma_where` is;
        None when nothing filters."""
        conditions = [] if live_hashes is None else [MetadataFilter(key="doc_hash", value=live_hashes, operator=FilterOperator.IN)]
        if self.since:
            conditions.append(MetadataFilter(key="date_int", value=int(self.since.strftime("%Y%m%d")), operator=FilterOperator.GTE))
        if self.until:
            conditions.append(MetadataFilter(key="date_int", value=int(self.until.strftime("%Y%m%d")), operator=FilterOperator.LTE))
        if self.kinds:
            conditions.append(MetadataFilter(key="kind", value=self.kinds, operator=FilterOperator.IN))
        if self.doc_ids:
            conditions.append(MetadataFilter(key="doc_id", value=self.doc_ids, operator=FilterOperator.IN))
        return MetadataFilters(filters=conditions, condition=FilterCondition.AND) if conditions else None


@dataclass
class Passage:
    """A retrieved chunk with its place in its document and its fused score."""

    node_id: str
    doc_id: str
    title: str
    date: str
    kind: str
    heading: str
    start: int
    end: int
    text: str
    score: float

    @classmethod
    def from_node(cls, hit: NodeWithScore) -> Passage:
        m = hit.node.metadata
        return cls(
            node_id=hit.node.node_id,
            doc_id=m["doc_id"],
            title=m["title"],
            date=m["date"],
            kind=m["kind"],
            heading=m.get("heading", ""),
            start=int(m["start"]),
            end=int(m["end"]),
            text=hit.node.get_content(),
            score=float(hit.score or 0.0),
        )


def front_matter(title: str, author: str, date: str) -> str:
    """What a paper's front matter says of every sentence in it: its title, author and month
    ("Written Statement: Library opening hours. Ann Jones MS, Minister for Culture. June 2024")."""
    return f"{title}. {author}. {dt.date.fromisoformat(date):%B %Y}"


@dataclass
class Evidence:
    """One sentence of a document, scored against the question."""

    doc_id: str
    title: str
    date: str
    kind: str
    heading: str
    sentence: Sentence
    score: float
    dense: float
    lexical: float
    typed: bool = False
    brevity: float = 1.0
    core: Sentence | None = None  # the sentence that scored, when `sentence` was widened around it
    author: str = ""

    @property
    def text(self) -> str:
        return self.sentence.text

    @property
    def header(self) -> str:
        return front_matter(self.title, self.author, self.date)


class RankingWeights(BaseModel):
    """How the ranking signals combine into a sentence's score: (dense * cosine + lexical * weighted
    term overlap + typed if it holds the kind of fact asked for) * brevity. The settings hold them
    (`ASKPFG_RANK_*`); `bench/fit_ranking.py` compares them with weights fit on generated questions."""

    dense: float = 0.4
    lexical: float = 0.6
    typed: float = 0.08

    @classmethod
    def from_settings(cls, settings: Settings) -> RankingWeights:
        return cls(dense=settings.rank_dense, lexical=settings.rank_lexical, typed=settings.rank_typed)

    def score(self, e: Evidence) -> float:
        return (self.dense * e.dense + self.lexical * e.lexical + self.typed * e.typed) * e.brevity


@dataclass
class RetrievalResult:
    passages: list[Passage]
    evidence: list[Evidence]
    timings: dict[str, float] = field(default_factory=dict)




class _Bm25Chunks(BaseRetriever):
    """The lexicon's chunk BM25 as a llama-index retriever, within the filters, for rank fusion."""

    def __init__(self, store: IndexStore, unit: Bm25Unit, filters: Filters, k: int) -> None:
        super().__init__()
        self._store, self._unit, self._filters, self._k = store, unit, filters, k

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        hits = self._unit.search(query_bundle.query_str, self._k, self._filters.key(), self._filters.mask_args())
        nodes = self._store.chunk_nodes([i for i, _ in hits])
        return [NodeWithScore(node=nodes[i], score=score) for i, score in hits if i in nodes]


class Retriever:
    """Hybrid retrieval over the live index, rebuilt lazily when the index changes."""

    def __init__(self, store: IndexStore, weights: RankingWeights | None = None) -> None:
        self.store = store
        self.weights = weights or RankingWeights.from_settings(store.settings)
        self._index: VectorStoreIndex | None = None
        self._lock = threading.Lock()
        self._version = ""
        self._lexicon: Lexicon | None = None
        self._hashes: list[str] = []
        self._live_filter: list[str] | None = None
        self._docs: dict[str, Document] = {}
        self._query_vectors: dict[str, list[float]] = {}
        self._split: dict[tuple[str, str], list[Sentence]] = {}
        self._doc_names: dict[tuple[str, str], tuple[set[str], str]] = {}

    def _refresh(self) -> None:
        with self._lock:
            self.store.refresh()
            if self._version == self.store.version and self._index is not None:
                return
            self._index = VectorStoreIndex.from_vector_store(self.store.vector_store, embed_model=get_embedder())
            self._lexicon = self.store.lexicon()
            self._hashes = self.store.live_hashes()
            self._live_filter = self.store.live_hash_filter()
            self._docs = {}
            self._version = self.store.version

    def query_vector(self, query: str) -> list[float]:
        """The query's embedding, computed once for its dense search, sentence search and reranking."""
        vector = self._query_vectors.get(query)
        if vector is None:
            vector = get_embedder().get_query_embedding(query)
            with self._lock:
                if len(self._query_vectors) >= _QUERY_VECTORS:
                    self._query_vectors.pop(next(iter(self._query_vectors)))
                self._query_vectors[query] = vector
        return vector

    def unknown_names(self, question: str) -> list[str]:
        """Names in the question the papers never write, in any case, number or hyphenation ("Royal
        Assent"; not "councils" for "Council", nor "Foster-Wales"): then they cannot answer it."""
        self._refresh()
        asked, end = proper_names(question), -1
        names: list[str] = []
        for match in NAME_WORD.finditer(question):
            if match.group() in asked and not self._writes(match.group()):
                if match.start() == end + 1 and names:
                    names[-1] += " " + match.group()  # adjacent words form one name
                else:
                    names.append(match.group())
                end = match.end()
        return names

    def _writes(self, name: str) -> bool:
        """Whether the papers write a name in some form (see `_written_in`)."""
        return _written_in(name, self._lexicon.written, self._lexicon.initials)

    def names_in_document(self, names: set[str], doc_id: str) -> bool:
        """Whether a document (its title and text) writes every one of the names, in some form: the
        paper that answers a question about a named thing names it somewhere."""
        doc = self.document(doc_id)
        key = (doc.id, doc.content_hash)
        if key not in self._doc_names:
            self._doc_names[key] = (word_stems(f"{doc.meta.title} {doc.text}"), "|".join(initialisms(doc.text)))
        stems, initials = self._doc_names[key]
        return all(_written_in(n, stems, initials) for n in names)

    @staticmethod
    def writes_a_name(names: list[list[str]], text: str) -> bool:
        """Whether a text writes every word of one of the names, in some form (see `_written_in`):
        evidence about the "Kinship Care Review Panel" writes all of it, not just "Review Panel"."""
        stems, initials = word_stems(text), "|".join(initialisms(text))
        return any(all(_written_in(w, stems, initials) for w in words) for words in names)

    def document(self, doc_id: str) -> Document:
        """A live document's stored text (cached until the index changes); KeyError if unknown."""
        self._refresh()
        if doc_id not in self._docs:
            doc = self.store.document(doc_id)
            if doc is None:
                raise KeyError(doc_id)
            self._docs[doc_id] = doc
        return self._docs[doc_id]

    def sentences_of(self, doc: Document) -> list[Sentence]:
        """A document's sentences, split once per document version."""
        key = (doc.id, doc.content_hash)
        if key not in self._split:
            self._split[key] = split_sentences(doc.text)
        return self._split[key]

    def sentences_within(self, doc: Document, start: int, end: int) -> list[Sentence]:
        """The document's sentences overlapping text[start:end], from its cached split."""
        return [s for s in self.sentences_of(doc) if s.start < end and s.end > start]

    def search(self, query: str, k: int = 5, filters: Filters | None = None) -> list[Passage]:
        """Top-k passages by reciprocal rank fusion of dense and BM25 rankings, within the filters, plus
        the few chunks that write a rare name the question uses."""
        self._refresh()
        filters = filters or Filters()
        if not self._hashes:
            return []
        wide = max(k * 2, 10)
        dense = self._index.as_retriever(similarity_top_k=wide, filters=filters.to_metadata_filters(self._live_filter))
        fusion = QueryFusionRetriever(
            [dense, _Bm25Chunks(self.store, self._lexicon.chunks, filters, wide)],
            llm=MockLLM(),  # never called: num_queries=1 means no LLM-written extra queries
            mode="reciprocal_rerank",
            num_queries=1,
            similarity_top_k=k,
            use_async=False,
        )
        hits = fusion.retrieve(QueryBundle(query, embedding=self.query_vector(query)))
        found = {hit.node.node_id for hit in hits}
        named = [NodeWithScore(node=n, score=0.0) for n in self._naming(query, filters) if n.node_id not in found]
        return [Passage.from_node(hit) for hit in hits + named]

    def search_sentences(self, query: str, k: int = 12, filters: Filters | None = None) -> list[Passage]:
        """Top-k single sentences by reciprocal rank fusion of dense and BM25 rankings over sentences:
        a fact stated once, in a long chunk or a short later paper, is found even when its chunk is not."""
        self._refresh()
        filters = filters or Filters()
        if not self._hashes:
            return []
        query_vector = self.query_vector(query)
        got = self.store.sentences.query(
            query_embeddings=[query_vector], n_results=k, where=filters.to_chroma_where(self._live_filter), include=["metadatas"]
        )
        fused: dict[str, float] = {}
        metadata: dict[str, dict] = {}
        for rank, (node_id, meta) in enumerate(zip(got["ids"][0], got["metadatas"][0], strict=True)):
            fused[node_id] = fused.get(node_id, 0.0) + 1 / (60 + rank)
            metadata[node_id] = meta
        lexical = self._lexicon.sentences.search(query, k, filters.key(), filters.mask_args())
        for rank, (node_id, _score) in enumerate(lexical):
            fused[node_id] = fused.get(node_id, 0.0) + 1 / (60 + rank)
        metadata |= self.store.sentence_metadata([i for i, _ in lexical if i not in metadata])
        best = sorted(fused, key=fused.get, reverse=True)[:k]
        return [Passage.from_node(NodeWithScore(node=TextNode(id_=i, text="", metadata=metadata[i]), score=fused[i])) for i in best]

    def _naming(self, query: str, filters: Filters) -> list[TextNode]:
        """The few chunks that write a rare name the question uses ("the Reflect project"): ranking a
        long chunk by the whole question can miss the one sentence about it."""
        naming: list[TextNode] = []
        for name in sorted(proper_names(query)):
            candidates = self._lexicon.chunks_naming(name)
            if not candidates:
                continue
            nodes = self.store.chunk_nodes(candidates)
            holding = [
                nodes[i] for i in candidates
                if i in nodes and filters.accepts(nodes[i].metadata) and re.search(rf"\b{re.escape(name)}\b", nodes[i].get_content())
            ]
            if len(holding) <= RARE_NAME_CHUNKS:
                naming += [n for n in holding if n.node_id not in {m.node_id for m in naming}]
        return naming

    def _sentence_embeddings(self, doc_hash_by_doc: dict[str, str], items: list[tuple[str, Sentence]]) -> np.ndarray:
        """Each sentence's embedding as ingest stored it; one the store lacks (an index written before
        sentences were stored) is embedded now."""
        ids = [sentence_id(doc_hash_by_doc[d], s.start) for d, s in items]
        vectors = self.store.sentence_vectors(list(dict.fromkeys(ids)))
        missing = [(i, s.text) for i, (_, s) in zip(ids, items, strict=True) if i not in vectors]
        if missing:
            texts = dict(missing)
            vectors |= {i: np.asarray(v, dtype=np.float32) for i, v in zip(texts, embed_texts(list(texts.values())), strict=True)}
        return np.stack([vectors[i] for i in ids])

    def rerank(self, query: str, passages: list[Passage], limit: int) -> list[Evidence]:
        """Score every sentence of the passages against the question; best first, no duplicates."""
        seen: set[tuple[str, int]] = set()
        items: list[tuple[Passage, Sentence, str]] = []
        docs = {p.doc_id: self.document(p.doc_id) for p in passages}  # each looked up once, not per sentence
        for passage in passages:
            doc = docs[passage.doc_id]
            for sentence in self.sentences_within(doc, passage.start, passage.end):
                if (passage.doc_id, sentence.start) not in seen and len(sentence.text.split()) >= 3 and not is_furniture(sentence.text):
                    seen.add((passage.doc_id, sentence.start))
                    items.append((passage, sentence, heading_at(doc.text, sentence.start)))
        if not items:
            return []
        hashes = {doc_id: doc.content_hash for doc_id, doc in docs.items()}
        vectors = self._sentence_embeddings(hashes, [(p.doc_id, s) for p, s, _ in items])
        query_vector = np.asarray(self.query_vector(query), dtype=np.float32)
        dense = vectors @ query_vector
        q_stems = content_stems(query)
        table, default = self._lexicon.idf, self._lexicon.idf_default

        def weight(stem: str) -> float:
            return table.get(stem, default)

        total = sum(weight(q) for q in q_stems)
        kind = answer_type(query)
        evidence: list[Evidence] = []
        for (passage, sentence, heading), d in zip(items, dense, strict=True):
            s_stems = content_stems(sentence.text)
            author = docs[passage.doc_id].meta.author
            h_stems = content_stems(f"{heading} {front_matter(passage.title, author, passage.date)}")
            # the share of the question's words the sentence holds, each weighted by how rare it is in
            # the papers: the words that say what is asked about count more than the programme's name
            lexical = (
                (sum(map(weight, q_stems & s_stems)) + 0.5 * sum(map(weight, (q_stems - s_stems) & h_stems))) / total
                if total else 0.0
            )
            typed = bool(kind) and has_answer_type(kind, sentence.text, query)
            # Short fragments make poor evidence, unless one holds the question's terms and the fact asked for.
            brevity = 1.0 if typed and lexical >= 0.5 else min(1.0, len(sentence.text.split()) / 8) ** 0.5
            found = Evidence(
                passage.doc_id, passage.title, passage.date, passage.kind, heading, sentence, 0.0, float(d), lexical, typed, brevity,
                author=author,
            )
            found.score = self.weights.score(found)
            evidence.append(found)
        evidence.sort(key=lambda e: e.score, reverse=True)
        return evidence[:limit]

    def retrieve(self, query: str, k: int, limit: int, filters: Filters | None = None) -> RetrievalResult:
        """Passages, then reranked evidence sentences, with timings in ms."""
        t0 = time.perf_counter()
        passages = self.search(query, k=k, filters=filters)
        if self.store.settings.sentence_k:
            passages += self.search_sentences(query, k=self.store.settings.sentence_k, filters=filters)
        t1 = time.perf_counter()
        evidence = self.rerank(query, passages, limit)
        t2 = time.perf_counter()
        return RetrievalResult(passages, evidence, {"retrieve": (t1 - t0) * 1000, "rerank": (t2 - t1) * 1000})
