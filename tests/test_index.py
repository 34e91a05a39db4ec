"""Ingest and index: every file type, incremental and idempotent, errors named, crash-safe, server mode."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from documents import write_samples
from servers import free_port

from askpfg.index import IndexStore, build_index, ingest_paths
from askpfg.retrieval import Filters, Retriever
from askpfg.settings import Settings

ROOT = Path(__file__).resolve().parents[1]


def _store(tmp_path: Path, **overrides) -> IndexStore:
    return IndexStore(Settings(index_dir=tmp_path / "index", **overrides))


def test_every_supported_file_type_is_ingested_and_searchable(tmp_path: Path):
    store = _store(tmp_path)
    report = ingest_paths(store, list(write_samples(tmp_path / "in").values()), {"date": "2024-03-01"})
    assert report.ok and len(report.added) == 5
    retriever = Retriever(store)
    for question, fact in [
        ("Which pilot covers twelve councils?", "kite mark"),
        ("How many coastal projects does the lighthouse fund pay?", "lighthouse"),
        ("How many foster families does the orchard scheme support?", "orchard"),
        ("How many young carers did the harbour grant reach?", "harbour"),
        ("How many advocates did the bridge programme train?", "bridge programme"),
    ]:
        assert fact in retriever.search(question, k=1)[0].text.lower()


def test_reingesting_unchanged_documents_is_a_no_op(tmp_path: Path):
    store = _store(tmp_path)
    paths = list(write_samples(tmp_path / "in").values())
    ingest_paths(store, paths, {"date": "2024-03-01"})
    before = store.collection.count()
    report = ingest_paths(store, paths, {"date": "2024-03-01"})
    assert len(report.unchanged) == 5 and not report.added and not report.updated
    assert store.collection.count() == before


def test_a_changed_document_has_its_old_chunks_replaced(tmp_path: Path):
    store = _store(tmp_path)
    note = write_samples(tmp_path / "in")["md"]
    ingest_paths(store, [note])
    note.write_text(note.read_text(encoding="utf-8").replace("twelve councils", "fifteen councils"), encoding="utf-8")
    report = ingest_paths(store, [note])
    assert report.updated == ["2024-02-01-note-kite-mark"]
    texts = store.collection.get(include=["documents"])["documents"]
    assert len(texts) == 1 and "fifteen" in texts[0]


def test_remove_deletes_a_document_and_its_chunks(tmp_path: Path):
    store = _store(tmp_path)
    ingest_paths(store, [write_samples(tmp_path / "in")["md"]])
    assert store.remove("2024-02-01-note-kite-mark")
    assert store.collection.count() == 0 and store.documents() == []
    assert not store.remove("2024-02-01-note-kite-mark")


def test_unreadable_and_empty_files_are_named_and_the_rest_still_ingested(tmp_path: Path):
    store = _store(tmp_path)
    good = write_samples(tmp_path / "in")["txt"]
    empty = tmp_path / "in" / "empty.txt"
    empty.write_text("   \n", encoding="utf-8")
    broken = tmp_path / "in" / "broken.pdf"
    broken.write_bytes(b"this is not a pdf")
    binary = tmp_path / "in" / "blob.txt"
    binary.write_bytes(b"\x00\x01\x02" * 100)
    report = ingest_paths(store, [empty, good, broken, binary], {"date": "2024-03-01"})
    assert len(report.added) == 1
    assert len(report.errors) == 3
    assert any("empty.txt" in e and "empty" in e for e in report.errors)
    assert any("broken.pdf" in e for e in report.errors)
    assert any("blob.txt" in e and "binary" in e for e in report.errors)


def test_cli_ingest_exits_non_zero_naming_the_bad_file(tmp_path: Path):
    bad = tmp_path / "broken.docx"
    bad.write_bytes(b"not a docx")
    good = write_samples(tmp_path / "in")["md"]
    env = {**os.environ, "ASKPFG_INDEX_DIR": str(tmp_path / "index")}
    run = subprocess.run([sys.executable, "-m", "askpfg", "ingest", str(bad), str(good)], check=False, capture_output=True, text=True, env=env)
    assert run.returncode == 1
    assert "broken.docx" in run.stderr
    assert "added      2024-02-01-note-kite-mark" in run.stdout


def test_cli_ingest_into_a_new_index_keeps_the_shipped_papers(tmp_path: Path):
    env = {**os.environ, "ASKPFG_INDEX_DIR": str(tmp_path / "index")}
    note = write_samples(tmp_path / "in")["md"]
    subprocess.run([sys.executable, "-m", "askpfg", "ingest", str(note)], check=True, capture_output=True, env=env)
    listed = subprocess.run([sys.executable, "-m", "askpfg", "documents", "--json"], check=True, capture_output=True, text=True, env=env)
    ids = {d["id"] for d in json.loads(listed.stdout)}
    shipped = {p.stem for p in (ROOT / "corpus").glob("*.md")}
    assert "2024-02-01-note-kite-mark" in ids and shipped <= ids


def test_chunks_carry_doc_metadata_heading_and_exact_span(store: IndexStore):
    for node in store.live_nodes():
        meta = node.metadata
        doc = store.document(meta["doc_id"])
        assert doc.text[meta["start"] : meta["end"]] == node.text
        assert meta["title"] == doc.meta.title and meta["date"] == doc.meta.date.isoformat()
    headings = {n.metadata["heading"] for n in store.live_nodes()}
    assert "Strengthen public bodies in their role as ‘corporate parent’" in headings


def test_a_killed_ingest_leaves_the_previous_index_queryable_and_the_next_ingest_completes(tmp_path: Path):
    index_dir = tmp_path / "index"
    store = IndexStore(Settings(index_dir=index_dir))
    build_index(store)
    baseline = store.manifest()
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(40):
        body = " ".join(f"Paragraph {j} of extra document {i} about regional fostering panels." for j in range(60))
        (extra / f"extra-{i:02d}.txt").write_text(f"Extra document {i}\n\n{body}\n", encoding="utf-8")
    env = {**os.environ, "ASKPFG_INDEX_DIR": str(index_dir)}
    files = sorted(str(p) for p in extra.iterdir())
    proc = subprocess.Popen([sys.executable, "-m", "askpfg", "ingest", "--date", "2024-01-01", *files], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    current = (index_dir / "CURRENT").read_text().strip()

    def ingest_underway() -> bool:
        """A new generation exists and has taken in some, not all, of the extra documents."""
        for gen in index_dir.glob("gen-*"):
            manifest = gen / "manifest.json"
            if gen.name != current and manifest.is_file():
                return len(json.loads(manifest.read_text())) > len(baseline) + 1
        return False

    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not ingest_underway():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    after = IndexStore(Settings(index_dir=index_dir))
    assert after.manifest() == baseline, "the killed ingest must not change the live index"
    hits = Retriever(after).search("Who chairs the Oversight Board?", k=3)
    assert any("Anthony Douglas" in h.text for h in hits)
    live = after.collection.get(where={"doc_hash": {"$in": after.live_hashes()}}, include=[])
    assert len(live["ids"]) == after.chunk_count()

    rerun = subprocess.run([sys.executable, "-m", "askpfg", "ingest", "--date", "2024-01-01", *files], check=False, env=env, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    final = IndexStore(Settings(index_dir=index_dir))
    assert len(final.manifest()) == len(baseline) + 40
    assert final.collection.count() == final.chunk_count()


@pytest.mark.skipif(shutil.which("chroma", path=str(Path(sys.executable).parent)) is None, reason="chroma CLI not installed")
def test_server_mode_indexes_and_searches_through_a_real_chroma_server(tmp_path: Path):
    port = free_port()
    chroma = str(Path(sys.executable).parent / "chroma")
    server = subprocess.Popen([chroma, "run", "--path", str(tmp_path / "server"), "--host", "127.0.0.1", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                time.sleep(0.2)
        store = _store(tmp_path, chroma_host="127.0.0.1", chroma_port=port)
        report = ingest_paths(store, list(write_samples(tmp_path / "in").values()), {"date": "2024-03-01"})
        assert report.ok
        assert store.client.get_settings().chroma_server_host == "127.0.0.1"
        hit = Retriever(store).search("How many advocates did the bridge programme train?", k=1)[0]
        assert "41 advocates" in hit.text
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_search_respects_kind_and_date_filters_in_both_retrievers(store: IndexStore):
    retriever = Retriever(store)
    letters = retriever.search("Programme Board workstreams", k=8, filters=Filters(kinds=["letter"]))
    assert letters and all(p.kind == "letter" for p in letters)
    import datetime as dt

    recent = retriever.search("Oversight Board", k=8, filters=Filters(since=dt.date(2023, 1, 1)))
    assert recent and all(p.date >= "2023-01-01" for p in recent)
