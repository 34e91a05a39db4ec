"""Corpus stage: clean the seed extracts into Markdown with front matter, and read any document.

The seeds are text pulled out of PDFs and web pages. Cleaning repairs lost ligatures, drops page
furniture, moves letterhead blocks out of the running text and re-joins hard-wrapped lines, so
that what is indexed (and quoted back to users) reads as the original did.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, Field, field_validator

Kind = Literal["letter", "bulletin", "board-summary", "document"]
KINDS: tuple[str, ...] = ("letter", "bulletin", "board-summary", "document")
SUPPORTED_SUFFIXES = (".md", ".txt", ".pdf", ".docx", ".html", ".htm")
REPLACEMENT_CHAR = "\ufffd"


class CorpusError(ValueError):
    """A document that cannot be read or has unusable metadata; the message names the file."""


class DocumentMeta(BaseModel):
    """Front matter of a corpus document."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{2,120}$")
    title: str = Field(min_length=1)
    date: dt.date
    author: str = ""
    recipient: str = ""
    kind: Kind = "document"
    source: str = ""

    @field_validator("title", "author", "recipient", "source")
    @classmethod
    def _strip(cls, value: str) -> str:
        return as_document_text(value).strip()

    @property
    def date_int(self) -> int:
        """The date as YYYYMMDD, the form Chroma filters compare."""
        return int(self.date.strftime("%Y%m%d"))


class Document(BaseModel):
    """A cleaned document: metadata plus the exact text that citations point into."""

    meta: DocumentMeta
    text: str

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def content_hash(self) -> str:
        """Hash of metadata and text: any change means the document must be re-indexed."""
        payload = self.meta.model_dump_json() + "\n" + self.text
        return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:16]

    def to_markdown(self) -> str:
        """The document as a Markdown file with YAML front matter."""
        front = self.meta.model_dump(mode="json")
        header = yaml.safe_dump(front, sort_keys=False, allow_unicode=True, width=1000)
        return f"---\n{header}---\n{self.text}"


def slugify(text: str) -> str:
    """A readable id fragment: lower case, hyphens, no punctuation."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:80].strip("-") or "document"


# --- ligature repair ---------------------------------------------------------------------------

LIGATURE_CANDIDATES = ("ti", "tt", "fi", "fl", "ft", "ff", "ffi", "ffl", "tf")
_SUFFIX_RULES = (("ies", "y"), ("es", ""), ("s", ""), ("ing", ""), ("ing", "e"), ("ed", ""), ("ed", "e"))


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    from english_words import get_english_words_set

    return frozenset(get_english_words_set(["web2"], lower=True))


class LigatureRepairer:
    """Restores ligatures PDF extraction turned into U+FFFD, choosing ti/tt/fi/fl/... by a word list.

    The word list is the `english-words` web2 list plus the vocabulary of the texts being cleaned,
    so a word seen intact elsewhere in the corpus ("Parenting") wins over a guess.
    """

    def __init__(self, texts: Iterable[str] = ()) -> None:
        seen = Counter(w.lower() for t in texts for w in re.findall(r"[A-Za-z]+", t))
        self._corpus_words = seen
        self._dictionary = _dictionary()

    def _known(self, word: str) -> bool:
        if word in self._corpus_words or word in self._dictionary:
            return True
        for suffix, replacement in _SUFFIX_RULES:
            if word.endswith(suffix) and (word[: -len(suffix)] + replacement) in self._dictionary:
                return True
        return False

    def repair_word(self, token: str) -> str:
        candidates = [token.replace(REPLACEMENT_CHAR, c) for c in LIGATURE_CANDIDATES]
        known = [c for c in candidates if self._known(c.lower())]
        if not known:
            return candidates[0]
        return max(known, key=lambda c: self._corpus_words.get(c.lower(), 0))

    def __call__(self, text: str) -> str:
        return re.sub(rf"[A-Za-z]*{REPLACEMENT_CHAR}[A-Za-z{REPLACEMENT_CHAR}]*", lambda m: self.repair_word(m.group()), text)


# --- cleaning ----------------------------------------------------------------------------------

FURNITURE_PATTERNS = (
    r"skip to main content",
    r"(page\s+)?\d{1,3}(\s+of\s+\d{1,3})?",
    r"#*\s*[A-Z]+\(\d\)-\d+-\d+\s*-\s*Paper to note \d+",
    r"mailto:\S+",
)
LETTERHEAD_PATTERNS = (
    r"Canolfan Cyswllt Cyntaf.*",
    r"0300 060\s?4400",
    r"Bae Caerdydd.*Cardiff Bay",
    r"Caerdydd.*Cardiff",
    r"CF99 1SN",
    r"\S+@(llyw\.cymru|gov\.wales)\S*",
    r"Rydym yn croesawu derbyn gohebiaeth yn Gymraeg.*",
    r"We welcome receiving correspondence in Welsh.*",
)
_LIST_MARKER = re.compile(r"^\s*(?:[•\-*]|\d{1,2}\.)\s+")
_MD_LINK = re.compile(r"\[([^\]]+)\]\((?:mailto:[^)]*|#|)\)")
_ANGLE_URL = re.compile(r"<(https?://[^>]+)>")


@dataclass
class CleaningRules:
    """Per-seed instructions from `corpus/seeds.yaml`: where flattened graphics start and end."""

    graphics: list[tuple[str, str, str]] = field(default_factory=list)


def _full_match(patterns: Iterable[str], line: str) -> bool:
    return any(re.fullmatch(p, line, flags=re.IGNORECASE) for p in patterns)


def _normalise_line(line: str) -> str:
    line = line.replace("\u00a0", " ").replace("\t", " ")
    line = _MD_LINK.sub(r"\1", line)
    line = _ANGLE_URL.sub(r"\1", line)
    line = line.replace("\\(", "(").replace("\\)", ")")
    return re.sub(r" {2,}", " ", line).strip()


def _is_heading(paragraph: str) -> bool:
    words = paragraph.split()
    return (
        0 < len(words) <= 30
        and paragraph[0].isupper()
        and not re.search(r"[.,;:!?”\"']$", paragraph)
        and not paragraph.startswith(("http", "- "))
        and not re.fullmatch(r"[\d\s\w]*\d{4}", paragraph)
    )


def _continues(previous: str, paragraph: str) -> bool:
    """Whether a paragraph is the rest of the previous one, split by a page break."""
    if previous.startswith(("#", "---")) or paragraph.startswith(("#", "- ")) or _LIST_MARKER.match(paragraph):
        return False
    if paragraph[:1].islower():
        return True
    return len(previous.split()) > 30 and not re.search(r"[.:;!?”\"')]$", previous)


def _join_lines(lines: list[str]) -> list[str]:
    """Re-join hard-wrapped lines of one block; list items and headings start new paragraphs."""
    paragraphs: list[str] = []
    for line in lines:
        starts_new = not paragraphs or _LIST_MARKER.match(line) or line.startswith(("#", "Dear "))
        if starts_new:
            paragraphs.append(line)
        elif paragraphs[-1].endswith("-") and line[:1].islower():
            paragraphs[-1] += line
        else:
            paragraphs[-1] += " " + line
    return paragraphs


def _blocks(lines: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = [[]]
    for line in lines:
        if line:
            blocks[-1].append(line)
        elif blocks[-1]:
            blocks.append([])
    return [b for b in blocks if b]


def _format_paragraph(paragraph: str, in_body: bool) -> str:
    paragraph = paragraph.strip()
    bold = re.fullmatch(r"(#*)\s*\*\*(.+?)\*\*\s*", paragraph)
    if bold:
        return f"{bold.group(1) or '####'} {bold.group(2).strip()}"
    paragraph = paragraph.replace("**", "")
    if paragraph.startswith("•"):
        return "- " + paragraph[1:].strip()
    if in_body and not paragraph.startswith("#") and _is_heading(paragraph):
        return "## " + paragraph
    return paragraph


def _mark_graphics(lines: list[str], rules: CleaningRules) -> list[str]:
    """Render each flattened graphic as a titled list, one item per blank-line-separated group."""
    out: list[str] = []
    graphic: list[str] | None = None
    end = ""
    for line in lines:
        if graphic is None:
            match = next(((e, t) for s, e, t in rules.graphics if line == s), None)
            if match is None:
                out.append(line)
                continue
            end, title = match
            out += ["", f"### {title}", ""]
            graphic = []
        graphic.append(line)
        if line == end:
            items = [" ".join(block) for block in _blocks(graphic)]
            out += [line for item in items for line in ("- " + item, "")]
            graphic = None
    return out + (graphic or [])


def clean_text(raw: str, repair: LigatureRepairer, rules: CleaningRules | None = None, kind: str = "document") -> str:
    """Turn extracted text into clean Markdown paragraphs (deterministic)."""
    rules = rules or CleaningRules()
    lines = [_normalise_line(line) for line in repair(raw).splitlines()]
    counts = Counter(line for line in lines if len(line) > 3)
    seen: set[str] = set()
    body_lines: list[str] = []
    letterhead: list[str] = []
    for line in lines:
        if line and _full_match(FURNITURE_PATTERNS, line):
            continue
        if kind == "letter" and line and _full_match(LETTERHEAD_PATTERNS, line):
            if line not in letterhead:
                letterhead.append(line)
            body_lines.append("")
            continue
        if len(line) >= 20 and counts[line] >= 3 and line in seen:
            continue
        seen.add(line)
        body_lines.append(line)

    out: list[str] = []
    in_body = kind != "letter"
    for block in _blocks(_mark_graphics(body_lines, rules)):
        if kind == "letter" and any(re.match(r"Dear\b", line) for line in block):
            in_body = True
        if kind == "letter" and any(re.match(r"Yours (sincerely|faithfully)", line) for line in block):
            in_body = False
        joined = _join_lines(block) if in_body else block
        for paragraph in joined:
            if out and _continues(out[-1], paragraph):
                out[-1] += " " + paragraph
            else:
                out.append(_format_paragraph(paragraph, in_body))
    if letterhead:
        out.append("---")
        out.append("Letterhead: " + " · ".join(letterhead))
    return "\n\n".join(p for p in out if p.strip()) + "\n"


# --- seeds -------------------------------------------------------------------------------------


class SeedEntry(BaseModel):
    """One seed file's metadata in `corpus/seeds.yaml`."""

    file: str
    meta: DocumentMeta
    graphics: list[tuple[str, str, str]] = []


def load_seed_manifest(corpus_dir: Path) -> list[SeedEntry]:
    """Read `corpus/seeds.yaml`, the metadata the seed extracts do not carry themselves."""
    data = yaml.safe_load((corpus_dir / "seeds.yaml").read_text(encoding="utf-8"))
    return [SeedEntry.model_validate(entry) for entry in data["seeds"]]


def build_corpus(seeds_dir: Path, corpus_dir: Path, progress: bool = True) -> list[Path]:
    """Regenerate `corpus/*.md` from the seeds; the same seeds always give the same files."""
    from tqdm import tqdm

    entries = load_seed_manifest(corpus_dir)
    raws = {e.file: (seeds_dir / e.file).read_text(encoding="utf-8", errors="replace") for e in entries}
    repair = LigatureRepairer(raws.values())
    written: list[Path] = []
    for entry in tqdm(entries, desc="Cleaning seeds", unit="doc", disable=not progress):
        text = clean_text(raws[entry.file], repair, CleaningRules(entry.graphics), entry.meta.kind)
        doc = Document(meta=entry.meta, text=text)
        path = corpus_dir / f"{entry.meta.id}.md"
        path.write_text(doc.to_markdown(), encoding="utf-8")
        written.append(path)
    return written


# --- reading any document ----------------------------------------------------------------------


_LINE_BREAKS = str.maketrans(dict.fromkeys("\r\v\f\x85", "\n"))


def as_document_text(text: str) -> str:
    """A paper's text as it is stored, by the rule every boundary applies (`schemas.clean_text`), except
    that what a question would be refused for is dropped, never refused: line breaks as "\\n", control
    characters other than a tab and a line break dropped, invisible format characters (zero-width spaces,
    bidirectional controls, soft hyphens) dropped, NFC. Papers come from files nobody checks by eye, and
    whatever an answer quotes from them must be text a client can send back as conversation history."""
    text = text.replace("\r\n", "\n").translate(_LINE_BREAKS)
    kept = "".join(ch for ch in text if ch in "\t\n" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs"))
    return unicodedata.normalize("NFC", kept)


def parse_markdown(text: str, path: Path) -> Document:
    """A Markdown file with YAML front matter; its text as `as_document_text` stores it."""
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, flags=re.DOTALL)
    if not match:
        raise CorpusError(f"{path}: no YAML front matter (a block between '---' lines at the top)")
    try:
        meta = DocumentMeta.model_validate(yaml.safe_load(match.group(1)) or {})
    except Exception as exc:
        raise CorpusError(f"{path}: bad front matter: {exc}") from exc
    return Document(meta=meta, text=as_document_text(match.group(2)))


def extract_text(path: Path) -> str:
    """Plain text of a .txt, .pdf, .docx or .html file, by the well-kept parser for each."""
    suffix = path.suffix.lower()
    try:
        if suffix in (".txt", ".md"):
            raw = path.read_bytes()
            if b"\x00" in raw[:4096]:
                raise CorpusError(f"{path}: looks like a binary file, not text")
            return raw.decode("utf-8", errors="replace")
        if suffix == ".pdf":
            from pypdf import PdfReader

            return "\n\n".join(page.extract_text() or "" for page in PdfReader(path).pages)
        if suffix == ".docx":
            import docx

            return "\n\n".join(p.text for p in docx.Document(str(path)).paragraphs)
        if suffix in (".html", ".htm"):
            from bs4 import BeautifulSoup

            soup = BeautifulSoup(path.read_bytes(), "html.parser")
            for tag in soup(["script", "style", "nav", "header", "footer"]):
                tag.decompose()
            return soup.get_text("\n")
    except CorpusError:
        raise
    except Exception as exc:
        raise CorpusError(f"{path}: could not be read as {suffix[1:]}: {exc}") from exc
    raise CorpusError(f"{path}: unsupported file type '{suffix}' (supported: {', '.join(SUPPORTED_SUFFIXES)})")


def read_document(
    path: Path,
    title: str | None = None,
    date: str | None = None,
    kind: str | None = None,
    author: str = "",
    recipient: str = "",
) -> Document:
    """Read one file of any supported type into a cleaned `Document`; raises `CorpusError`."""
    if not path.is_file():
        raise CorpusError(f"{path}: no such file")
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        raise CorpusError(f"{path}: unsupported file type '{path.suffix}' (supported: {', '.join(SUPPORTED_SUFFIXES)})")
    if path.suffix.lower() == ".md":
        raw_md = extract_text(path)
        if raw_md.startswith("---\n"):
            doc = parse_markdown(raw_md, path)
            if not doc.text.strip():
                raise CorpusError(f"{path}: the document has no text")
            return doc
    raw = extract_text(path)
    if not raw.strip():
        raise CorpusError(f"{path}: the file is empty (no text could be extracted)")
    text = as_document_text(clean_text(raw, LigatureRepairer([raw]), kind=kind or "document"))
    if not text.strip():
        raise CorpusError(f"{path}: the file is empty after cleaning")
    if kind is not None and kind not in KINDS:
        raise CorpusError(f"{path}: unknown kind '{kind}' (valid: {', '.join(KINDS)})")
    doc_title = title or next((p.lstrip("# ").strip() for p in text.split("\n\n") if p.strip()), path.stem)[:200]
    try:
        doc_date = dt.date.fromisoformat(date) if date else dt.date.fromtimestamp(path.stat().st_mtime)
    except ValueError as exc:
        raise CorpusError(f"{path}: --date must be YYYY-MM-DD, got '{date}'") from exc
    meta = DocumentMeta(
        id=f"{doc_date.isoformat()}-{slugify(doc_title)}",
        title=doc_title,
        date=doc_date,
        author=author,
        recipient=recipient,
        kind=kind or "document",
        source=path.name,
    )
    return Document(meta=meta, text=text)


def load_corpus(corpus_dir: Path) -> list[Document]:
    """Every `*.md` document in the corpus folder, in id order."""
    docs = [parse_markdown(p.read_text(encoding="utf-8"), p) for p in sorted(corpus_dir.glob("*.md"))]
    return sorted(docs, key=lambda d: d.id)
