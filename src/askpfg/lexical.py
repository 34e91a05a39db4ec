"""Lexical side of the index: BM25 over chunks and over sentences, word statistics and a name index,
built once per index generation and saved with it, so that a question never loads or tokenises the
whole collection.

bm25s is used directly rather than through llama-index's `BM25Retriever`: the wrapper keeps every node
as a dict and filters by a Python call per node, which does not hold at 100k chunks; here a filter is a
vectorised mask over metadata columns and the texts stay in Chroma.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import bm25s
import numpy as np
from llama_index.core.schema import MetadataMode, TextNode

from askpfg.question import _stemmer, content_stems, initialisms, word_stems

RARE_NAME_CHUNKS = 3  # a name written in more chunks than this is common enough for ranking to find
_NAME_TOKEN = re.compile(r"\w+")
_FOLDER = "lexical"


@dataclass
class Columns:
    """Metadata columns of one unit's rows, in BM25 row order, for filter masks."""

    ids: list[str]
    doc_ids: np.ndarray
    kinds: np.ndarray
    dates: np.ndarray

    @classmethod
    def of(cls, nodes: list[TextNode]) -> Columns:
        return cls(
            ids=[n.node_id for n in nodes],
            doc_ids=np.array([n.metadata["doc_id"] for n in nodes], dtype=object),
            kinds=np.array([n.metadata["kind"] for n in nodes], dtype=object),
            dates=np.array([int(n.metadata["date_int"]) for n in nodes], dtype=np.int64),
        )

    def mask(self, since: int | None, until: int | None, kinds: list[str] | None, doc_ids: list[str] | None) -> np.ndarray:
        """1.0 for rows the filters accept, 0.0 for the others."""
        keep = np.ones(len(self.ids), dtype=bool)
        if since is not None:
            keep &= self.dates >= since
        if until is not None:
            keep &= self.dates <= until
        if kinds:
            keep &= np.isin(self.kinds, kinds)
        if doc_ids:
            keep &= np.isin(self.doc_ids, doc_ids)
        return keep.astype(np.float32)

    def to_json(self) -> dict:
        return {"ids": self.ids, "doc_ids": self.doc_ids.tolist(), "kinds": self.kinds.tolist(), "dates": self.dates.tolist()}

    @classmethod
    def from_json(cls, data: dict) -> Columns:
        return cls(
            ids=data["ids"],
            doc_ids=np.array(data["doc_ids"], dtype=object),
            kinds=np.array(data["kinds"], dtype=object),
            dates=np.array(data["dates"], dtype=np.int64),
        )


@dataclass
class Bm25Unit:
    """BM25 over one unit (chunks or sentences), tokenised as llama-index's BM25Retriever does."""

    bm25: bm25s.BM25 | None
    columns: Columns
    _masks: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def build(cls, nodes: list[TextNode]) -> Bm25Unit:
        if not nodes:
            return cls(None, Columns.of([]))
        tokens = bm25s.tokenize(
            [n.get_content(metadata_mode=MetadataMode.EMBED) for n in nodes], stopwords="en", stemmer=_stemmer(), show_progress=False
        )
        bm25 = bm25s.BM25()
        bm25.index(tokens, show_progress=False)
        return cls(bm25, Columns.of(nodes))

    def __len__(self) -> int:
        return len(self.columns.ids)

    def search(self, query: str, k: int, mask_key: str, mask_args: tuple) -> list[tuple[str, float]]:
        """The top-k (row id, score) among the rows the filters accept (cached mask per filter set)."""
        if self.bm25 is None or k <= 0:
            return []
        if mask_key not in self._masks:
            self._masks[mask_key] = self.columns.mask(*mask_args)
        mask = self._masks[mask_key]
        if not mask.any():
            return []
        query_tokens = bm25s.tokenize(query, stemmer=_stemmer(), show_progress=False)
        rows, scores = self.bm25.retrieve(query_tokens, k=min(k, len(self)), show_progress=False, weight_mask=mask)
        return [(self.columns.ids[int(r)], float(s)) for r, s in zip(rows[0], scores[0], strict=True) if mask[int(r)]]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        if self.bm25 is not None:
            self.bm25.save(str(folder), show_progress=False)
        (folder / "columns.json").write_text(json.dumps(self.columns.to_json()), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Bm25Unit:
        columns = Columns.from_json(json.loads((folder / "columns.json").read_text(encoding="utf-8")))
        bm25 = bm25s.BM25.load(str(folder), mmap=True, show_progress=False) if columns.ids else None
        return cls(bm25, columns)


def _name_postings(chunks: list[TextNode]) -> dict[str, list[int] | None]:
    """Each capitalised word of the chunks -> the rows holding it as a whole word, or None when more
    than RARE_NAME_CHUNKS do (common)."""
    postings: dict[str, list[int] | None] = {}
    for row, node in enumerate(chunks):
        for token in {t for t in _NAME_TOKEN.findall(node.get_content()) if t[0].isupper()}:
            held = postings.setdefault(token, [])
            if held is not None:
                held.append(row)
                if len(held) > RARE_NAME_CHUNKS:
                    postings[token] = None
    return postings


def _inverse_frequencies(sentences: list[TextNode]) -> tuple[dict[str, float], float]:
    """Inverse sentence frequency of each stem over the live sentences, and the weight of an unseen stem."""
    counts: dict[str, int] = {}
    for node in sentences:
        for stem in content_stems(node.get_content()):
            counts[stem] = counts.get(stem, 0) + 1
    n = len(sentences)
    return {stem: math.log((n + 1) / (c + 1)) + 1 for stem, c in counts.items()}, math.log(n + 1) + 1


@dataclass
class Lexicon:
    """Everything lexical retrieval needs about one index generation."""

    chunks: Bm25Unit
    sentences: Bm25Unit
    written: set[str]
    initials: str
    idf: dict[str, float]
    idf_default: float
    names: dict[str, list[int] | None]

    @classmethod
    def build(cls, chunks: list[TextNode], sentences: list[TextNode]) -> Lexicon:
        """From the live chunks (in document then position order) and live non-furniture sentences."""
        idf, default = _inverse_frequencies(sentences)
        return cls(
            chunks=Bm25Unit.build(chunks),
            sentences=Bm25Unit.build(sentences),
            written=set().union(*(word_stems(f"{n.get_content()} {n.metadata.get('title', '')}") for n in chunks)),
            initials="|".join(set().union(*(initialisms(n.get_content()) for n in chunks))),
            idf=idf,
            idf_default=default,
            names=_name_postings(chunks),
        )

    def chunks_naming(self, name: str) -> list[str] | None:
        """Ids of the chunks that may write `name` as a whole word (to check against their text), or None
        when it is common: in more than RARE_NAME_CHUNKS chunks."""
        parts = _NAME_TOKEN.findall(name)
        held = [self.names.get(p, []) for p in parts if p[0].isupper()]
        if not held or any(h == [] for h in held):
            return []
        rare = [set(h) for h in held if h is not None]
        if not rare:
            return None
        return [self.chunks.columns.ids[r] for r in sorted(set.intersection(*rare))]

    def save(self, folder: Path) -> None:
        """Write into `folder/lexical` of a generation that is not yet committed."""
        target = folder / _FOLDER
        shutil.rmtree(target, ignore_errors=True)
        self.chunks.save(target / "chunks")
        self.sentences.save(target / "sentences")
        words = {
            "written": sorted(self.written), "initials": self.initials, "idf": self.idf, "idf_default": self.idf_default,
            "names": self.names,
        }
        (target / "words.json").write_text(json.dumps(words), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Lexicon | None:
        """The lexicon saved with a generation, or None if it has none (built before lexicons were saved)."""
        target = folder / _FOLDER
        if not (target / "words.json").is_file():
            return None
        words = json.loads((target / "words.json").read_text(encoding="utf-8"))
        return cls(
            chunks=Bm25Unit.load(target / "chunks"),
            sentences=Bm25Unit.load(target / "sentences"),
            written=set(words["written"]),
            initials=words["initials"],
            idf=words["idf"],
            idf_default=words["idf_default"],
            names=words["names"],
        )


def mask_args(
    since: dt.date | None, until: dt.date | None, kinds: Iterable[str] | None, doc_ids: Iterable[str] | None
) -> tuple:
    """Filter values as `Columns.mask` takes them: dates as YYYYMMDD ints, as stored."""
    since_int = int(since.strftime("%Y%m%d")) if since else None
    until_int = int(until.strftime("%Y%m%d")) if until else None
    return since_int, until_int, list(kinds) if kinds else None, list(doc_ids) if doc_ids else None
