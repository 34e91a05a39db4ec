"""Reading Welsh questions into English with the installed Welsh-English dictionary."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest

from askpfg.settings import get_settings
from askpfg.welsh import (
    DICTIONARY_FILE,
    DictionaryError,
    gloss,
    install_dictionary,
    load_dictionary,
    looks_welsh,
)


@pytest.fixture(scope="module")
def dictionary() -> dict[str, list[str]]:
    words = load_dictionary(get_settings().model_cache_dir / DICTIONARY_FILE)
    assert words, "the Welsh dictionary is not installed: scripts/setup.sh runs `askpfg welsh`"
    return words


def test_welsh_questions_are_told_from_english_ones():
    assert looks_welsh("Pwy sy'n cadeirio'r Bwrdd Goruchwylio?")
    assert not looks_welsh("Who chairs the Oversight Board in Wales?")


def test_question_words_become_the_english_question_words_answering_reads(dictionary: dict[str, list[str]]):
    assert gloss("Pryd y cyhoeddwyd y Siarter?", dictionary).startswith("When ")
    assert gloss("Faint o arian a fuddsoddwyd?", dictionary).startswith("How much money ")
    assert gloss("Ym mha dref y cynhaliwyd y gynhadledd?", dictionary).startswith("In which town ")


def test_mutated_words_are_read_in_their_radical_form(dictionary: dict[str, list[str]]):
    english = gloss("Faint o ofalwyr maeth sydd yng Nghymru?", dictionary)
    assert "foster carers" in english and "Wales" in english


def test_the_programmes_terms_read_as_the_papers_write_them(dictionary: dict[str, list[str]]):
    english = gloss("Pwy yw cadeirydd y Bwrdd Rhaglen sy'n dileu elw preifat o ofal plant sy'n derbyn gofal?", dictionary)
    assert "Programme Board" in english and "eliminate profit" in english and "children looked after" in english


def test_names_and_numbers_are_kept_as_written(dictionary: dict[str, list[str]]):
    english = gloss("Faint a roddwyd i Bowys yn 2019/20 gan Anthony Douglas?", dictionary)
    assert "2019/20" in english and "Anthony Douglas" in english


def test_the_dictionary_is_read_from_the_dictd_files_of_debians_package(tmp_path: Path):
    # A dictd entry is the headword line, then its senses; the index gives its offset and length in base64 digits.
    entry = b"ysgol <n, s, f>\nschool (place of learning)\n"
    assert len(entry) == 43  # "r" in dictd's base64
    dictd = tmp_path / "dictd"
    dictd.mkdir()
    (dictd / "freedict-cym-eng.index").write_text("ysgol\tA\tr\n", encoding="utf-8")
    (dictd / "freedict-cym-eng.dict.dz").write_bytes(gzip.compress(entry))
    installed = install_dictionary(tmp_path / "cache", dictd)
    assert installed == tmp_path / "cache" / DICTIONARY_FILE
    assert json.loads(installed.read_text(encoding="utf-8")) == {"ysgol": ["school"]}


def test_a_missing_dictionary_package_is_named_so_it_can_be_installed(tmp_path: Path):
    with pytest.raises(DictionaryError, match="apt-get install dict-freedict-cym-eng"):
        install_dictionary(tmp_path / "cache", tmp_path / "no-dictd")
    assert not (tmp_path / "cache" / DICTIONARY_FILE).exists()


def test_askpfg_welsh_shows_how_a_question_is_read(dictionary: dict[str, list[str]]):
    run = subprocess.run(
        [sys.executable, "-m", "askpfg", "welsh", "Pwy sy'n cadeirio'r Bwrdd Goruchwylio?"], capture_output=True, text=True
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "Who chairs Oversight Board?"
