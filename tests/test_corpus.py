"""The cleaned corpus: complete, repaired, with full metadata, regenerated deterministically."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from askpfg.corpus import (
    FURNITURE_PATTERNS,
    KINDS,
    LigatureRepairer,
    build_corpus,
    load_corpus,
    load_seed_manifest,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT / "corpus"
SEEDS = ROOT.parent / "shared" / "seeds"
needs_seeds = pytest.mark.skipif(not SEEDS.is_dir(), reason="../shared/seeds is not beside this checkout")


def _alnum(text: str) -> str:
    return re.sub(r"[^a-z0-9£]", "", text.lower())


def test_corpus_has_the_five_seed_documents():
    assert len(load_corpus(CORPUS)) == 5


def test_no_replacement_character_remains():
    for path in CORPUS.glob("*.md"):
        assert "\ufffd" not in path.read_text(encoding="utf-8"), path.name


def test_front_matter_parses_and_every_field_is_filled():
    for doc in load_corpus(CORPUS):
        meta = doc.meta
        for name in ("id", "title", "author", "recipient", "source"):
            assert getattr(meta, name).strip(), f"{doc.id}: {name} is empty"
        assert meta.kind in KINDS
        assert meta.id.startswith(meta.date.isoformat())


@needs_seeds
def test_every_line_of_every_seed_is_in_its_cleaned_file():
    """Nothing lost: each seed line (ligatures repaired, punctuation-free) occurs in the cleaned text."""
    docs = {doc.meta.source: doc for doc in load_corpus(CORPUS)}
    raws = {name: (SEEDS / name).read_text(encoding="utf-8") for name in docs}
    repair = LigatureRepairer(raws.values())
    for name, raw in raws.items():
        cleaned = _alnum(docs[name].text)
        for line in repair(raw).splitlines():
            line = re.sub(r"\]\((mailto:[^)]*|#)\)", "", line).strip()
            if not _alnum(line) or any(re.fullmatch(p, line.strip(" #"), re.I) for p in FURNITURE_PATTERNS):
                continue
            assert _alnum(line) in cleaned, f"{name}: lost line {line!r}"


@needs_seeds
def test_every_sentence_of_every_seed_is_in_its_cleaned_file():
    docs = {doc.meta.source: doc for doc in load_corpus(CORPUS)}
    for name, doc in docs.items():
        lines = LigatureRepairer([])((SEEDS / name).read_text(encoding="utf-8")).splitlines()
        raw = "\n".join(line for line in lines if not any(re.fullmatch(p, line.strip(" #"), re.I) for p in FURNITURE_PATTERNS))
        cleaned = _alnum(doc.text)
        for sentence in re.split(r"(?<=[.?!])\s+", " ".join(raw.split())):
            if len(sentence.split()) >= 6 and "mailto" not in sentence and "Canolfan" not in sentence:
                assert _alnum(sentence) in cleaned or _alnum(sentence[:60]) in cleaned, f"{name}: {sentence[:80]!r}"


def test_ligatures_are_repaired_by_word_list():
    repair = LigatureRepairer(["Corporate Parenting"])
    assert repair("Suppor\ufffdng Na\ufffdonal priori\ufffdes Paren\ufffdng") == "Supporting National priorities Parenting"


def test_page_furniture_is_removed():
    board = next(d for d in load_corpus(CORPUS) if d.meta.kind == "board-summary")
    assert "Skip to main content" not in board.text
    letter = next(d for d in load_corpus(CORPUS) if d.meta.source.startswith("002"))
    assert "Paper to note" not in letter.text and "mailto:" not in letter.text
    assert "action taken to reduce the number of children in care" in letter.text


@needs_seeds
def test_corpus_build_is_deterministic(tmp_path: Path):
    (tmp_path / "seeds.yaml").write_text((CORPUS / "seeds.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    build_corpus(SEEDS, tmp_path, progress=False)
    for entry in load_seed_manifest(CORPUS):
        name = f"{entry.meta.id}.md"
        assert (tmp_path / name).read_text(encoding="utf-8") == (CORPUS / name).read_text(encoding="utf-8")
