"""Chunking stage: documents become llama-index nodes that remember where they came from.

Each node keeps its document's id, title, date and kind, the section heading above it and its
character span in the stored document text, so a citation can point at the exact place.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import lru_cache

from llama_index.core import Document as LlamaDocument
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, TextNode

from askpfg.corpus import Document
from askpfg.question import STOPWORDS
from askpfg.settings import Settings

EMBED_METADATA = ("title", "heading")
_HEADING = re.compile(r"^#{1,6}\s+(.+)$", re.MULTILINE)
_WEB = re.compile(r"(?:https?://|\bwww\.)\S+|\S+@\S+\.\w+|\S+\.(?:gov|org|com|co|ac|net|wales|cymru)(?:\.uk)?/\S*")
_PHONE = re.compile(r"(?:\+44|\b0)\d{2,4}[\s-]?\d{3,4}[\s-]?\d{3,4}\b")


@dataclass(frozen=True)
class Sentence:
    """One sentence of a stored document, with its span in that document's text."""

    text: str
    start: int
    end: int


@lru_cache(maxsize=64)
def _headings(text: str) -> tuple[tuple[int, str], ...]:
    """Where each Markdown heading of a document starts, once per document (str hashes are cached)."""
    return tuple((m.start(), m.group(1).strip()) for m in _HEADING.finditer(text))


def heading_at(text: str, position: int) -> str:
    """The nearest Markdown heading at or before a character position ('' if none)."""
    marks = _headings(text)
    before = bisect.bisect_right(marks, position, key=lambda mark: mark[0])
    return marks[before - 1][1] if before else ""


def split_sentences(text: str, start: int = 0, end: int | None = None) -> list[Sentence]:
    """The sentences overlapping text[start:end], whole, with their spans in the text: each line
    (paragraph, list item) split by the Punkt tokenizer that llama-index's own splitter uses, and at
    web addresses (which end a statement without a full stop). Headings and addresses are not sentences.

    >>> [s.text for s in split_sentences("Dr. Jones met the panel. It agreed.")]
    ['Dr. Jones met the panel.', 'It agreed.']
    """
    end = len(text) if end is None else end
    first = text.rfind("\n", 0, start) + 1
    last = text.find("\n", end)
    return [s for s in _sentences_of(text, first, len(text) if last < 0 else last) if s.start < end and s.end > start]


def _sentences_of(text: str, start: int, end: int) -> list[Sentence]:
    tokenizer = _punkt()
    sentences: list[Sentence] = []
    for line in re.finditer(r"[^\n]+", text[start:end]):
        offset = start + line.start()
        body = line.group()
        if body.lstrip().startswith("#") or body.strip() == "---":
            continue
        for a, b in tokenizer.span_tokenize(body):
            cursor = a
            for url in _WEB.finditer(body, a, b):
                sentences.extend(_trimmed(text, offset + cursor, offset + url.start()))
                cursor = url.end()  # a web address on its own is no sentence
            sentences.extend(_trimmed(text, offset + cursor, offset + b))
    return sentences


@lru_cache(maxsize=1)
def _punkt():
    """NLTK's Punkt model for English, from the data llama-index ships (no download)."""
    from llama_index.core.utils import globals_helper
    from nltk.tokenize.punkt import PunktTokenizer

    globals_helper.wait_for_nltk_check()  # points NLTK at llama-index's bundled data
    return PunktTokenizer("english")


def _trimmed(text: str, start: int, end: int) -> list[Sentence]:
    piece = text[start:end]
    stripped = piece.strip()
    if len(stripped) < 3:
        return []
    offset = start + (len(piece) - len(piece.lstrip()))
    if stripped.startswith(("- ", "• ")):
        stripped, offset = stripped[2:], offset + 2
    return [Sentence(stripped, offset, offset + len(stripped))]


def is_furniture(text: str) -> bool:
    """Whether a piece of text is page furniture rather than a statement: a web or e-mail address, a
    telephone number, a signature block, address or page header (no lower-case prose), a graphic's or
    table's label (a few words, no sentence end), mostly figures, or a question (a written question
    asks; its answer states). Such text is never evidence.

    >>> is_furniture("Jane Smith AS/MS"), is_furniture("The panel met in May.")
    (True, False)
    """
    if _PHONE.search(text) or text.rstrip("”’\"' ").endswith("?"):
        return True
    words = _WEB.sub(" ", text).split()  # a statement that ends with its source's address still counts
    if len(words) < len(text.split()) and len(words) < 8:
        return True
    if not words:
        return True
    lower = [w for w in words if re.fullmatch(r"[a-z][a-z'’-]*[,;:.]?", w)]
    content = [w for w in lower if w.strip(",;:.") not in STOPWORDS]  # not "and", "for", "of"
    figures = [w for w in words if re.fullmatch(r"[£(]?[\d.,%/–-]+\)?[,;:]?", w)]
    ends = text.rstrip("”’\"'").endswith((".", "!", "?", ":", ";"))
    if len(figures) > len(words) / 2:
        return True
    if not ends and (len(words) < 5 or len(content) < len(words) / 3):
        return True
    capitalised = [w for w in words if w[:1].isupper()]
    return len(content) < 2 and len(words) < 12 and len(capitalised) > len(words) / 2  # a label, not a statement


def make_splitter(settings: Settings, tokenizer) -> SentenceSplitter:
    """A sentence-aware splitter sized in the embedding model's own tokens."""
    return SentenceSplitter(
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        tokenizer=lambda text: tokenizer.encode(text, add_special_tokens=False),
        paragraph_separator="\n\n",
        include_prev_next_rel=False,
        id_func=lambda i, doc: f"{doc.metadata['doc_hash']}:{i}",
    )


def to_llama_document(doc: Document) -> LlamaDocument:
    """A corpus document as a llama-index Document carrying the metadata every chunk inherits."""
    meta = doc.meta
    return LlamaDocument(
        id_=meta.id,
        text=doc.text,
        metadata={
            "doc_id": meta.id,
            "doc_hash": doc.content_hash,
            "title": meta.title,
            "date": meta.date.isoformat(),
            "date_int": meta.date_int,
            "kind": meta.kind,
        },
        excluded_embed_metadata_keys=["doc_id", "doc_hash", "date", "date_int", "kind"],
        excluded_llm_metadata_keys=["doc_id", "doc_hash", "date_int"],
    )


def chunk_document(doc: Document, splitter: SentenceSplitter) -> list[TextNode]:
    """Split one document into nodes with heading and exact character span in the metadata."""
    nodes: list[BaseNode] = splitter.get_nodes_from_documents([to_llama_document(doc)])
    out: list[TextNode] = []
    for node in nodes:
        start = node.start_char_idx if node.start_char_idx is not None else doc.text.find(node.text)
        if start < 0 or doc.text[start : start + len(node.text)] != node.text:
            raise ValueError(f"chunk of {doc.id} does not map back onto its text")
        node.metadata["start"] = start
        node.metadata["end"] = start + len(node.text)
        node.metadata["heading"] = heading_at(doc.text, start)
        node.excluded_embed_metadata_keys = [*node.excluded_embed_metadata_keys, "start", "end"]
        node.excluded_llm_metadata_keys = [*node.excluded_llm_metadata_keys, "start", "end"]
        out.append(node)
    return out
