"""The UI's model-free parts: filters checked before a search, their chips, a refusal under them, the reader,
an answer's references and copy, the conversation's export and browser copy, and ratings written for evals."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from askpfg.corpus import KINDS, Document, DocumentMeta
from askpfg.evals import cases_from_feedback
from askpfg.schemas import Answer, AskError, Citation
from askpfg.ui import (
    Turn,
    answer_html,
    conversation_markdown,
    copy_text,
    feedback_record,
    filters_from,
    load_turns,
    paper_list_html,
    paper_overrides,
    reader_html,
    scope_html,
    scope_labels,
    snippet,
    store_turns,
    write_feedback,
)

TITLES = {"2022-07-22-letter-pfg": "PfG commitments"}
REFUSAL = Answer(text="The papers do not cover this.", refused=True, refusal_reason="no_evidence", standalone_question="q", mode="refusal")


def paper(text: str, id: str = "a-paper", date: dt.date = dt.date(2023, 9, 1), title: str = "A paper") -> Document:
    return Document(meta=DocumentMeta(id=id, title=title, date=date, kind="letter", author="Julie Morgan", recipient="Jayne Bryant"), text=text)


def test_a_since_date_after_the_until_date_is_refused_naming_both_dates() -> None:
    with pytest.raises(AskError, match=r"'Since' \(1 March 2024\) is after 'Until' \(1 January 2023\).*swap"):
        filters_from("2024-03-01", "2023-01-01", list(KINDS), None)


def test_no_kind_ticked_is_refused_rather_than_searching_every_kind() -> None:
    with pytest.raises(AskError, match="No kind of paper is ticked"):
        filters_from("", "", [], None)


def test_every_kind_ticked_and_no_dates_is_no_filter() -> None:
    assert filters_from("", " ", list(KINDS), []) is None


def test_each_active_filter_is_named_once() -> None:
    filters = filters_from("2023-01-01", "2023-12-31", ["letter", "bulletin"], list(TITLES))
    assert scope_labels(filters, TITLES) == ["since 1 January 2023", "until 31 December 2023", "kinds: letter, bulletin", "paper: PfG commitments"]


def test_chips_say_all_papers_when_no_filter_is_set_and_show_a_problem_instead_of_chips() -> None:
    assert "all papers" in scope_html([])
    problem = scope_html([], "No kind of paper is ticked <anywhere>")
    assert 'role="alert"' in problem and "&lt;anywhere&gt;" in problem and "all papers" not in problem


def test_a_refusal_under_filters_names_them_and_says_to_clear_them_in_the_chat_and_the_copy() -> None:
    note = "Searched only within your filters (since 1 January 2023; kinds: letter): clear them to search everything."
    assert note in answer_html(REFUSAL, 0, latest=True, scope="since 1 January 2023; kinds: letter")
    assert note in copy_text(REFUSAL, "since 1 January 2023; kinds: letter")


def test_a_refusal_without_filters_or_that_filters_cannot_cause_says_nothing_of_filters() -> None:
    assert "filters" not in answer_html(REFUSAL, 0, latest=True)
    never = REFUSAL.model_copy(update={"refusal_reason": "never_mentioned"})
    assert "filters" not in answer_html(never, 0, latest=True, scope="kinds: letter")


def test_the_paper_list_is_newest_first_with_date_kind_and_author_to_recipient() -> None:
    old, new = paper("x", "old-paper", dt.date(2019, 11, 6), "Old"), paper("x", "new-paper", dt.date(2024, 3, 4), "New")
    listed = paper_list_html([old.meta, new.meta])
    assert listed.index('data-doc="new-paper"') < listed.index('data-doc="old-paper"')
    assert "4 March 2024 · letter" in listed and "Julie Morgan → Jayne Bryant" in listed


def test_the_reader_shows_headings_as_headings_and_a_papers_markup_as_text() -> None:
    shown = reader_html(paper("Dear Jayne,\n\n## Re: <script>alert(1)</script>\n\nThanks <b>a lot</b>."))
    assert "<h3>Re: &lt;script&gt;alert(1)&lt;/script&gt;</h3>" in shown and "<p>Thanks &lt;b&gt;a lot&lt;/b&gt;.</p>" in shown
    assert "<script>" not in shown and "<b>" not in shown


def test_a_search_marks_every_match_in_any_case_and_across_a_line_break_and_counts_them() -> None:
    shown = reader_html(paper("The Oversight\nBoard met.\n\n## The oversight board"), "oversight  BOARD")
    assert shown.count("<mark>") == 2 and "<mark>Oversight\nBoard</mark>" in shown and "2 matches for “oversight BOARD”" in shown


def test_a_search_that_finds_nothing_says_so() -> None:
    assert "No match for “&lt;x&gt;” in this paper" in reader_html(paper("Nothing here."), "<x>")


QUOTE = "The Board is chaired by Dr Ruth Evans, who was appointed in March 2024 after an open competition run by the Public Appointments Unit."
CITED = Answer(
    text="Dr Ruth Evans chairs the Board [1].",
    citations=[Citation(n=1, doc_id="a-paper", title="A paper", date="2024-03-04", kind="letter", source="a.md", quote=QUOTE, start=10, end=10 + len(QUOTE))],
    standalone_question="Who chairs the Board?",
    mode="generated",
)


def test_each_reference_shows_the_date_and_the_start_of_its_quote() -> None:
    shown = answer_html(CITED, 0, latest=True)
    assert '<span class="ref-date">4 March 2024</span>' in shown
    assert "<span class=\"ref-quote\">“The Board is chaired by Dr Ruth Evans, who was appointed in March 2024 after an open competition run by the Public" in shown


def test_a_long_quote_is_cut_at_a_word_and_marked() -> None:
    assert snippet("one two three four", limit=12) == "one two …" and snippet("short", limit=12) == "short"


def test_the_copy_of_an_answer_is_plain_text_with_numbered_references_and_no_markup() -> None:
    assert copy_text(CITED) == f"Dr Ruth Evans chairs the Board [1].\n\nReferences\n[1] A paper (letter, 4 March 2024): “{QUOTE}”"
    hidden = answer_html(CITED, 0, latest=True).split('<div class="plain">')[1]
    assert hidden.startswith("Dr Ruth Evans chairs the Board [1].\n\nReferences\n[1] A paper") and "<a" not in hidden.split("</div>")[0]


def test_the_export_gives_each_question_its_answer_and_references_in_markdown() -> None:
    turns = [Turn(question="Who chairs the Board?", answer=CITED), Turn(question="And since when?", answer=REFUSAL, scope="kinds: letter")]
    exported = conversation_markdown(turns, dt.date(2026, 12, 3))
    assert exported.startswith("# Questions to the Programme for Government papers\n\nExported from askpfg on 3 December 2026.")
    assert "## 1. Who chairs the Board?\n\nDr Ruth Evans chairs the Board [1].\n\n**References**\n\n- [1] A paper (letter, 4 March 2024): “The Board" in exported
    assert "## 2. And since when?\n\n*Searched within: kinds: letter*\n\nThe papers do not cover this." in exported


def test_the_conversation_kept_in_the_browser_comes_back_whole_without_traces() -> None:
    turns = [Turn(question="Who chairs the Board?", answer=CITED, scope="kinds: letter", rating="Like")]
    stored = json.loads(json.dumps(store_turns(turns)))  # as localStorage keeps it
    assert "trace" not in stored[0]["answer"] and load_turns(stored) == turns


def test_a_stored_conversation_of_another_shape_is_dropped_not_half_shown() -> None:
    assert load_turns([{"question": "q"}]) == [] and load_turns("nonsense") == [] and load_turns(None) == []


def test_a_rating_is_written_with_its_question_history_answer_and_citations(tmp_path: Path) -> None:
    turns = [Turn(question="Who chairs the Board?", answer=CITED), Turn(question="Since when?", answer=REFUSAL)]
    path = tmp_path / "ratings" / "feedback.jsonl"
    write_feedback(path, feedback_record(turns, 0, liked=True))
    write_feedback(path, feedback_record(turns, 1, liked=False))
    up, down = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    assert (up["rating"], up["question"], up["answer"], up["citations"][0]["quote"]) == ("up", "Who chairs the Board?", CITED.text, QUOTE)
    assert down["rating"] == "down" and down["refused"] and down["history"] == [
        {"role": "user", "content": "Who chairs the Board?"}, {"role": "assistant", "content": CITED.text},
    ]


def test_ratings_become_eval_cases_the_latest_counting_and_a_thumbs_down_answer_left_for_a_person(tmp_path: Path) -> None:
    turns = [Turn(question="Who chairs the Board?", answer=CITED), Turn(question="Since when?", answer=REFUSAL), Turn(question="Why?", answer=CITED)]
    path = tmp_path / "feedback.jsonl"
    for index, liked in ((0, False), (0, True), (1, False), (2, False), (3, True), (3, None)):  # turn 0 changed, turn 3 taken back
        write_feedback(path, feedback_record([*turns, Turn(question="When?", answer=CITED)], index, liked))
    cases, left = cases_from_feedback(path)
    assert [(c.question, c.answerable, c.docs, len(c.history)) for c in cases] == [("Who chairs the Board?", True, ["a-paper"], 0), ("Since when?", True, [], 2)]
    assert left == ["Why?"]


def test_the_reader_highlights_a_cited_passage_in_place_across_paragraphs() -> None:
    text = "Dear Jayne,\n\nThe Board met in May. It agreed a plan.\n\nThe plan starts in June.\n\n## Next"
    start = text.index("It agreed")
    shown = reader_html(paper(text), passage=(start, text.index(" starts")))
    assert '<p>The Board met in May. <mark class="passage" id="reader-passage">It agreed a plan.</mark></p>' in shown
    assert '<p><mark class="passage">The plan</mark> starts in June.</p>' in shown and "The cited passage is highlighted." in shown


def test_a_paper_to_add_needs_a_date_written_yyyy_mm_dd_and_a_known_kind() -> None:
    assert paper_overrides("  A  letter ", "2024-02-01", "letter") == {"title": "A letter", "date": "2024-02-01", "kind": "letter"}
    with pytest.raises(AskError, match="Give the paper's date"):
        paper_overrides("A letter", " ", "letter")
    with pytest.raises(AskError, match="'Date' must be a date written YYYY-MM-DD.*not '1 Feb 2024'"):
        paper_overrides("", "1 Feb 2024", "letter")
    with pytest.raises(AskError, match="Choose the kind of paper"):
        paper_overrides("", "2024-02-01", "memo")


def test_the_readers_headings_start_under_its_title_and_skip_no_level() -> None:
    shown = reader_html(paper("## Part one\n\nText.\n\n#### Detail\n\nMore.\n\n## Part two"))
    assert "<h3>Part one</h3>" in shown and "<h4>Detail</h4>" in shown and "<h3>Part two</h3>" in shown
