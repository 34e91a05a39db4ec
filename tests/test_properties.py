"""Properties of answering and drafting over any text (issue #13, item 3), on an index that holds the real
corpus and papers written to attack it (`tests/adversarial.py`: their own citation markers, HTML, invisible,
combining and control characters, other scripts, planted instructions).

Whatever the question, history, filters or letter: the pipeline either refuses the input with an
AskError (text that is not text, empty, too long) exactly when the boundary would, or returns an
answer whose every marker resolves to a citation, every citation to a stored passage, and every quote
is that passage verbatim. Extractive mode (no generator), so each example takes a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from adversarial import (
    ADVERSARIAL,
    PLANTED,
    adversarial_papers,
    grown_store,
    planted_papers,
)
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from askpfg.answering import Pipeline
from askpfg.drafting import DraftReply, LetterError, draft_reply
from askpfg.index import IndexStore
from askpfg.retrieval import Filters
from askpfg.schemas import Answer, AskError, Citation, Message, TextError, clean_text
from askpfg.verify import quote_is_verbatim

EXAMPLES = settings(max_examples=25, deadline=None, database=None, print_blob=True, suppress_health_check=[HealthCheck.too_slow])
MARKER = re.compile(r"(?<!\\)\[(\d+)\]")  # an answer's own [n]; a paper's own is escaped "\[n\]"


@pytest.fixture(scope="module")
def hostile(store: IndexStore, tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The real corpus with the adversarial and planted papers added, answering without the generator."""
    folder = tmp_path_factory.mktemp("hostile")
    papers = adversarial_papers(folder / "papers") + planted_papers(folder / "papers")
    grown = grown_store(store, folder, papers, use_generator=False)
    return Pipeline(grown.settings, grown)


# --- strategies -----------------------------------------------------------------------------------

HOSTILE_TEXT = " ".join([*(f"{title} {body}" for title, body in ADVERSARIAL.values()), *(f"{p.title} {p.body}" for p in PLANTED)])
WORDS = sorted(set(HOSTILE_TEXT.split()) | {"Who", "When", "How", "many", "much", "Which", "What", "latest", "chairs", "now", "it", "they"})
ODD = ["\ud800", "\udfff", "\x00", "\x07", "\x1b", "\x85", "\u200b", "\u202e", "\ufeff", "\u2028", "\r\n", "\r", "[1]", "[3]", "\\[", "]", "\u0301", "?"]

piece = st.one_of(st.characters(), st.characters(), st.characters(categories=["Cs"]), st.sampled_from(ODD))
unicode_text = st.lists(piece, max_size=60).map("".join)
# around the length limit (4,000 characters), before and after stripping
long_text = st.builds(lambda n, unit: (unit * n)[:n], st.integers(3990, 4010), st.sampled_from(["Board ", "x", "\u00e9", " \u200b"]))
# text that retrieval will match: the hostile papers' own words, joined by arbitrary unicode
worded = st.lists(st.one_of(st.sampled_from(WORDS), st.sampled_from(WORDS), unicode_text), min_size=1, max_size=14).map(" ".join)
question = st.one_of(worded, worded.map(lambda q: q + "?"), unicode_text, st.just(" " * 3), long_text)
history = st.lists(st.builds(lambda role, content: {"role": role, "content": content}, st.sampled_from(["user", "assistant"]), worded), max_size=2)
DOC_IDS = [f"2024-08-01-{name}" for name in ADVERSARIAL] + [p.doc_id for p in PLANTED]
filters = st.one_of(st.none(), st.builds(lambda ids: Filters(doc_ids=ids), st.lists(st.sampled_from(DOC_IDS), min_size=1, max_size=3)))


def letter_of(opening: str, asks: list[str], name: str) -> str:
    requests = "\n".join(f"{i}. {q}" for i, q in enumerate(asks, start=1))
    return f"Dear Minister,\n\n{opening}\n\nI would be grateful if you could tell me:\n\n{requests}\n\nYours sincerely,\n\n{name}\n"


letter = st.one_of(
    st.builds(letter_of, worded, st.lists(question, min_size=1, max_size=2), unicode_text),
    unicode_text,
)


# --- what the boundary accepts, and what an answer must be ----------------------------------------


def acceptable(text: str, limit: int) -> bool:
    """Whether the boundary takes this text as a question: clean, not empty, within the limit."""
    try:
        cleaned = clean_text(text, "question").strip()
    except TextError:
        return False
    return bool(cleaned) and len(cleaned) <= limit


def is_text(text: str) -> bool:
    """Whether the boundary takes this text at all (no lone surrogate, NUL or other control character)."""
    try:
        clean_text(text, "text")
    except TextError:
        return False
    return True


def assert_resolves(citations: list[Citation], pipeline: Pipeline) -> None:
    """Each citation is a passage of a stored paper, its quote that passage verbatim."""
    for citation in citations:
        doc = pipeline.retriever.document(citation.doc_id)
        assert doc is not None, citation.doc_id
        assert 0 <= citation.start < citation.end <= len(doc.text)
        assert doc.text[citation.start : citation.end] == citation.quote
        assert quote_is_verbatim(citation.quote, doc.text)


def assert_well_formed(answer: Answer, pipeline: Pipeline) -> None:
    assert_resolves(answer.citations + answer.nearest_sources, pipeline)
    numbers = [c.n for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert {int(n) for n in MARKER.findall(answer.text)} == set(numbers), answer.text
    if answer.refused:
        assert answer.citations == [] and answer.refusal_reason


# --- the properties --------------------------------------------------------------------------------


@EXAMPLES
@given(question=question, history=history, filters=filters)
def test_any_question_is_refused_as_input_or_answered_with_citations_that_resolve(
    hostile: Pipeline, question: str, history: list[dict], filters: Filters | None
) -> None:
    takes = acceptable(question, hostile.settings.max_question_chars) and all(is_text(m["content"]) for m in history)
    try:
        answer = hostile.answer(question, history, filters)
    except AskError as exc:
        assert not takes, f"refused a question the boundary takes: {exc}"
        assert str(exc)
        return
    assert takes, "answered a question the boundary refuses"
    assert_well_formed(answer, hostile)


@EXAMPLES
@given(letter=letter)
@example(letter="[0]")  # a letter's own bracketed numbers, in a heading, a subject or a name, are no references
@example(letter="Dear Minister,\n\nRe: the [3] notice\n\nCould you tell me what [2] says about the Oversight Board?\n\nYours sincerely,\n\nAnn [1] Jones\n")
def test_any_letter_is_refused_or_drafted_with_citations_that_resolve(hostile: Pipeline, letter: str) -> None:
    try:
        reply = draft_reply(letter, hostile, today=dt.date(2024, 9, 1))
    except (LetterError, AskError) as exc:
        assert str(exc)
        return
    assert isinstance(reply, DraftReply)
    assert_resolves(reply.citations, hostile)
    numbers = [c.n for c in reply.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    body, _, _references = reply.reply_markdown.partition("\n---\n")  # the letter, then its numbered references
    assert {int(n) for n in MARKER.findall(body)} <= set(numbers), body
    assert len(reply.sections) == len(reply.points) <= hostile.settings.max_points


def test_a_question_of_a_lone_surrogate_is_an_ask_error_naming_it(hostile: Pipeline) -> None:
    with pytest.raises(AskError, match=r"question holds a lone surrogate \(U\+D800\)"):
        hostile.answer("Who chairs \ud800 the Oversight Board?")


def test_history_holding_a_control_character_is_an_ask_error_naming_it(hostile: Pipeline) -> None:
    with pytest.raises(AskError, match=r"history\[0\]\.content holds a control character \(U\+0007\)"):
        hostile.answer("Who chairs it?", [Message(role="user", content="The Oversight\x07 Board")])



@pytest.mark.parametrize("name", ["control-characters", "invisible-characters"])
def test_a_paper_is_stored_without_control_or_invisible_characters(hostile: Pipeline, name: str) -> None:
    """What an answer quotes from a paper can be sent back as history: it is text the boundary takes."""
    text = hostile.retriever.document(f"2024-08-01-{name}").text
    assert is_text(text) and clean_text(text, "the paper") == text
    assert "£1,600 a month" in text or "café versus café" in text
