"""The UI's model-free parts: filters checked before a search, their chips, a refusal under them, and the reader."""

from __future__ import annotations

import datetime as dt

import pytest

from askpfg.corpus import KINDS, Document, DocumentMeta
from askpfg.schemas import Answer, AskError
from askpfg.ui import (
    answer_html,
    copy_text,
    filters_from,
    paper_list_html,
    reader_html,
    scope_html,
    scope_labels,
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
    assert "<h4>Re: &lt;script&gt;alert(1)&lt;/script&gt;</h4>" in shown and "<p>Thanks &lt;b&gt;a lot&lt;/b&gt;.</p>" in shown
    assert "<script>" not in shown and "<b>" not in shown


def test_a_search_marks_every_match_in_any_case_and_across_a_line_break_and_counts_them() -> None:
    shown = reader_html(paper("The Oversight\nBoard met.\n\n## The oversight board"), "oversight  BOARD")
    assert shown.count("<mark>") == 2 and "<mark>Oversight\nBoard</mark>" in shown and "2 matches for “oversight BOARD”" in shown


def test_a_search_that_finds_nothing_says_so() -> None:
    assert "No match for “&lt;x&gt;” in this paper" in reader_html(paper("Nothing here."), "<x>")
