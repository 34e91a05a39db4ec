"""The lexical index: built once when a generation is committed, loaded by readers, filtered by masks."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from askpfg.corpus import read_document
from askpfg.index import IndexStore
from askpfg.lexical import RARE_NAME_CHUNKS, Lexicon
from askpfg.retrieval import Filters, Retriever
from askpfg.settings import Settings


def paper(folder: Path, name: str, date: str, kind: str, body: str) -> Path:
    path = folder / f"{name}.md"
    path.write_text(f"---\nid: {name}\ntitle: {name.replace('-', ' ').title()}\ndate: '{date}'\nkind: {kind}\n---\n{body}\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> IndexStore:
    """Three short papers of two kinds and two years."""
    folder = tmp_path_factory.mktemp("papers")
    store = IndexStore(Settings(index_dir=folder / "index"))
    store.ingest([
        read_document(paper(folder, "orchard-letter", "2021-03-02", "letter",
                            "The Orchard Fund paid for twelve new apprenticeships in Ceredigion. The scheme closes in May.")),
        read_document(paper(folder, "harbour-bulletin", "2024-06-10", "bulletin",
                            "Harbour Lights opened a second respite house in Conwy this spring. Families waited less than a month.")),
        read_document(paper(folder, "later-letter", "2024-09-01", "letter",
                            "Apprenticeships funded by the Orchard Fund will continue until 2026. Respite places rose again.")),
    ])
    return store


def test_a_committed_generation_carries_its_lexicon(small: IndexStore) -> None:
    saved = Lexicon.load(small.data_dir)
    assert saved is not None
    assert len(saved.chunks) == small.chunk_count() and len(saved.sentences) > 0


def test_searching_does_not_write_to_the_current_generation(small: IndexStore) -> None:
    before = sorted((p.relative_to(small.data_dir), p.stat().st_mtime_ns) for p in small.data_dir.rglob("*") if p.is_file())
    Retriever(small).retrieve("Who paid for apprenticeships?", k=4, limit=4, filters=Filters(kinds=["letter"]))
    after = sorted((p.relative_to(small.data_dir), p.stat().st_mtime_ns) for p in small.data_dir.rglob("*") if p.is_file())
    assert after == before


def test_lexical_hits_stay_within_the_filters(small: IndexStore) -> None:
    lexicon = small.lexicon()
    since = Filters(since=dt.date(2024, 1, 1))
    hits = lexicon.sentences.search("Orchard Fund apprenticeships", 10, since.key(), since.mask_args())
    found = small.sentence_metadata([i for i, _ in hits])
    assert all(found[i]["date"] >= "2024-01-01" for i, _ in hits)
    assert found[hits[0][0]]["doc_id"] == "later-letter"


def test_a_question_with_no_matching_word_still_gets_no_paper_outside_its_filters(small: IndexStore) -> None:
    bulletins = Filters(kinds=["bulletin"])
    hits = small.lexicon().chunks.search("zebra crossings", 10, bulletins.key(), bulletins.mask_args())
    nodes = small.chunk_nodes([i for i, _ in hits])
    assert all(n.metadata["kind"] == "bulletin" for n in nodes.values())


def test_a_rare_name_points_at_the_chunks_that_write_it(small: IndexStore) -> None:
    lexicon = small.lexicon()
    chunks = small.chunk_nodes(lexicon.chunks_naming("Conwy"))
    assert [n.metadata["doc_id"] for n in chunks.values()] == ["harbour-bulletin"]
    assert lexicon.chunks_naming("Anglesey") == []


def test_a_name_in_many_chunks_is_common(tmp_path: Path) -> None:
    store = IndexStore(Settings(index_dir=tmp_path / "index", chunk_size=40, chunk_overlap=0))
    body = " ".join(f"Item {i}: the Tidewater Trust reviewed placement number {i} with the local authority." for i in range(30))
    store.ingest([read_document(paper(tmp_path, "trust-review", "2022-02-02", "document", body))])
    assert store.chunk_count() > RARE_NAME_CHUNKS
    assert store.lexicon().chunks_naming("Tidewater") is None


def test_a_reader_of_an_index_without_a_saved_lexicon_builds_one_in_memory(small: IndexStore, tmp_path: Path) -> None:
    import shutil

    copy = tmp_path / "index"
    shutil.copytree(small.root, copy)
    reader = IndexStore(Settings(index_dir=copy))
    shutil.rmtree(reader.data_dir / "lexical")
    assert reader.lexicon().chunks_naming("Conwy")
    assert not (reader.data_dir / "lexical").exists()


def test_reranking_reads_the_sentence_embeddings_ingest_stored(small: IndexStore, monkeypatch: pytest.MonkeyPatch) -> None:
    retriever = Retriever(small)
    passages = retriever.search("Which fund paid for apprenticeships?", k=4)

    def no_embedding(texts: list[str]) -> list[list[float]]:
        raise AssertionError(f"embedded again: {texts}")

    monkeypatch.setattr("askpfg.retrieval.embed_texts", no_embedding)
    evidence = retriever.rerank("Which fund paid for apprenticeships?", passages, limit=3)
    assert evidence[0].sentence.text.startswith("The Orchard Fund paid")


def test_a_committed_generation_holds_searches_to_no_list_of_papers(small: IndexStore) -> None:
    """Every row of a committed generation is live, so no query names every paper (a library of
    thousands would overflow SQLite's variables)."""
    assert small.live_hash_filter() is None
    assert Filters().to_chroma_where(None) == {"furniture": False}
    assert Filters().to_metadata_filters(None) is None


def test_an_index_written_before_sentences_were_stored_gets_them_once(tmp_path: Path) -> None:
    store = IndexStore(Settings(index_dir=tmp_path / "index"))
    store.ingest([read_document(paper(tmp_path, "ferry-letter", "2022-05-04", "letter",
                                      "The ferry grant reached nine island families in its first year."))])
    store.sentences.delete(where={"doc_id": "ferry-letter"})
    old = {doc_id: {k: v for k, v in entry.items() if k != "sentences"} for doc_id, entry in store.manifest().items()}
    store._write_manifest(old)
    assert store.add_missing_sentences() == 1
    generation = store.generation
    assert store.sentences.count() > 0 and all(entry["sentences"] for entry in store.manifest().values())
    assert store.add_missing_sentences() == 0 and store.generation == generation


def test_a_library_of_more_sentences_than_one_chroma_read_returns_is_read_whole(tmp_path: Path) -> None:
    """SQLite caps the variables of one statement and Chroma spends one per row: past about 32,000
    rows one read fails, so the store reads a page at a time."""
    store = IndexStore(Settings(index_dir=tmp_path / "index"))
    rows = 40_000
    for start in range(0, rows, 5000):
        numbers = range(start, start + 5000)
        store.sentences.add(
            ids=[f"harbour:s{i}" for i in numbers], embeddings=[[1.0, 0.0, 0.0]] * 5000, documents=["Boats sailed."] * 5000,
            metadatas=[{"doc_hash": "harbour", "furniture": i % 4 == 0} for i in numbers],
        )
    store._write_manifest({"harbour-log": {"hash": "harbour", "chunks": 0, "sentences": True, "meta": {}}})
    nodes = store.live_sentence_nodes()
    assert len(nodes) == len({n.node_id for n in nodes}) == rows * 3 // 4
