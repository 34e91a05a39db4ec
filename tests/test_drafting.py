"""Reply drafting (issue #6): letter splitting, bad letters, and a real drafted reply on the real pipeline."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
from pathlib import Path

import docx
import pytest
from fastapi.testclient import TestClient

from askpfg import api, drafting
from askpfg.answering import Pipeline
from askpfg.cli import cmd_draft
from askpfg.drafting import (
    DraftReply,
    DraftSection,
    LetterError,
    LetterPoints,
    NoPointsError,
    absolute_time,
    check_letter,
    draft_reply,
    heading_for,
    letter_points,
    placeholder,
    read_letter,
    split_letter,
    sub_questions,
    to_docx,
    to_markdown,
)
from askpfg.evals import LetterResult, LettersReport, match_points
from askpfg.schemas import Citation
from askpfg.settings import Settings
from askpfg.ui import UI_POINTS_HINT
from askpfg.verify import quote_is_verbatim

LETTERS = Path(__file__).resolve().parents[1] / "evals" / "letters"
ANSWERABLE = "Roughly what sum did Regional Partnership Boards put through the Regional Integration Fund in 2022/23, and into how many projects?"
UNANSWERABLE = "How many foster carers stopped fostering in each local authority during 2022/23?"


# --- splitting (no models) -----------------------------------------------------------------------


def test_split_letter_finds_sender_date_subject_and_points() -> None:
    letter = split_letter((LETTERS / "letter-01.txt").read_text(encoding="utf-8"))
    assert letter.sender == "Rhian Pritchard"
    assert letter.sender_first_name == "Rhian"
    assert letter.letter_date == dt.date(2023, 10, 5)
    assert letter.subject == "transformation of children's services"
    assert len(letter.points) == 5
    assert letter.points[0].startswith("I would be grateful if you could set out the current governance arrangements")
    assert "22 local authorities" in letter.points[3]
    assert letter.points[4] == "The bulletin refers to a further care leavers summit. When and where will it be held?"


def _development_letters() -> list[Path]:
    """The evaluation letters drafting is developed on; the held-out ones are measured by `askpfg eval --letters` only."""
    return [p for p in sorted(LETTERS.glob("*.txt")) if json.loads(p.with_suffix(".expected.json").read_text(encoding="utf-8"))["split"] == "development"]


@pytest.mark.parametrize("path", _development_letters(), ids=lambda p: p.stem)
def test_split_matches_every_development_letter(path: Path) -> None:
    expected = json.loads(path.with_suffix(".expected.json").read_text(encoding="utf-8"))
    letter = split_letter(path.read_text(encoding="utf-8"))
    assert letter.sender == expected["sender"]
    assert letter.letter_date == dt.date.fromisoformat(expected["letter_date"])
    assert len(letter.points) == len(expected["points"])
    assert len(match_points(letter.points, [p["point"] for p in expected["points"]])) == len(expected["points"])


def test_split_handles_email_headers_and_running_prose() -> None:
    text = (
        "From: Dr Ann Jones <ann@example.org>\nDate: 3 March 2024\nSubject: Foster Wales\n\n"
        "Dear Minister,\n\nI read your bulletin with interest. Please set out what Foster Wales offers carers. "
        "I also wonder when the survey closed?\n\nI look forward to your reply.\n\nKind regards,\nAnn"
    )
    letter = split_letter(text)
    assert (letter.sender, letter.sender_first_name) == ("Dr Ann Jones", "Ann")
    assert letter.letter_date == dt.date(2024, 3, 3)
    assert letter.subject == "Foster Wales"
    assert letter.points == ["I read your bulletin with interest. Please set out what Foster Wales offers carers.", "I also wonder when the survey closed?"]


def test_a_list_written_inline_in_one_paragraph_gives_a_point_per_item() -> None:
    text = (
        "Dear Minister,\n\nThank you for your note on school transport. I would be grateful if you could set out: "
        "1. the number of routes under review; 2. who leads the review; and 3. when it will report.\n\nYours sincerely,\nGwen Price"
    )
    assert split_letter(text).points == ["The number of routes under review", "Who leads the review", "When it will report"]


def test_lettered_items_inline_are_points_too() -> None:
    text = "Dear Minister,\n\nCould you tell us (a) what the grant is worth and (b) which councils receive it?\n\nRegards,\nGwen Price"
    assert split_letter(text).points == ["What the grant is worth", "Which councils receive it?"]


def test_items_on_their_own_lines_under_a_request_are_points_though_not_questions() -> None:
    text = (
        "Dear Minister,\n\nThe Committee would welcome information on the following:\n\n"
        "- the membership of the working group;\n- the budget for the pilot;\n- the date of its first report.\n\nKind regards,\nGwen Price"
    )
    assert split_letter(text).points == ["The membership of the working group", "The budget for the pilot", "The date of its first report"]


def test_an_email_gives_its_sender_role_sent_date_and_what_it_asks_in_prose() -> None:
    text = (
        "From: Gwen Price <gwen.price@example.org>\nSent: Tuesday, 5 March 2024 09:14\nTo: Minister\nSubject: School transport\n\n"
        "Hello,\n\nMembers met yesterday. We need to know when the review will report. Members also asked who leads it. "
        "Could you tell us what the budget is? I'd welcome an update on the pilot routes.\n\nMany thanks,\nGwen Price\nClerk, Transport Committee"
    )
    letter = split_letter(text)
    assert (letter.sender, letter.sender_role, letter.letter_date) == ("Gwen Price", "Clerk, Transport Committee", dt.date(2024, 3, 5))
    assert letter.points == [
        "Members met yesterday. We need to know when the review will report.",
        "Members also asked who leads it.",
        "Could you tell us what the budget is?",
        "I'd welcome an update on the pilot routes.",
    ]
    assert [sub_questions(p)[-1] for p in letter.points[1:]] == ["Who leads it?", "What the budget is?", "The pilot routes?"]


def test_a_heading_is_the_request_with_the_sentence_before_it_only_when_it_leans_on_it() -> None:
    context = "The Committee has followed the review for many months. The report mentions a new pilot. "
    assert heading_for(context + "When will it start?") == "The report mentions a new pilot. When will it start?"
    assert heading_for(context + "Could you tell us when the Valleys Pilot will start?") == "When the Valleys Pilot will start"


def test_a_sentence_asking_for_nothing_in_particular_is_not_a_point() -> None:
    text = "Dear Minister,\n\nI am writing to seek further information. When will the review report?\n\nYours sincerely,\nGwen Price"
    assert split_letter(text).points == ["When will the review report?"]


@pytest.mark.parametrize(
    ("written", "said", "absolute"),
    [
        ("2023-09-01", "The group met in May this year.", "The group met in May 2023."),
        ("2023-09-01", "A summit will be held later this year.", "A summit will be held later in 2023."),
        ("2023-09-01", "This year we opened two homes.", "In 2023 we opened two homes."),
        ("2024-02-10", "The survey closed last month.", "The survey closed in January 2024."),
        ("2024-02-10", "Funding for this financial year is agreed.", "Funding for the 2023-24 financial year is agreed."),
        ("2024-02-10", "The report was published today.", "The report was published on 10 February 2024."),
        ("2024-02-10", "It opens next year and closed last summer.", "It opens in 2025 and closed last summer."),
    ],
)
def test_relative_time_in_a_paper_becomes_absolute_from_its_date(written: str, said: str, absolute: str) -> None:
    assert absolute_time(said, dt.date.fromisoformat(written)) == absolute


def test_a_letter_without_points_says_how_each_surface_gives_them(tmp_path: Path, capsys: pytest.CaptureFixture[str], pipeline: Pipeline) -> None:
    letter = "Dear Julie,\n\nThanks for the bulletin.\n\nYours sincerely,\nAnn"
    path = tmp_path / "letter.txt"
    path.write_text(letter, encoding="utf-8")
    assert cmd_draft(_args(path)) == 2 and "--point" in capsys.readouterr().err
    body = TestClient(api.create_app(pipeline)).post("/api/draft", json={"letter": letter}).json()
    assert '"points"' in body["detail"] and "--point" not in body["detail"]
    assert "--point" not in str(NoPointsError(UI_POINTS_HINT)) and "Points to answer" in UI_POINTS_HINT


def test_sub_questions_split_compound_points_and_keep_unresolved_references_together() -> None:
    assert sub_questions("Who chairs the multi-agency Programme Board overseeing this work, and which stakeholders are represented on it?") == [
        "Who chairs the multi-agency Programme Board overseeing this work?",
        "Which stakeholders are represented on the Programme Board?",
    ]
    tariff = "What specific tariff per child does the Welsh Government consider appropriate, and how has that figure been calculated?"
    assert sub_questions(tariff) == [tariff]


# --- bad letters -----------------------------------------------------------------------------------


def test_bad_letters_are_refused_with_a_reason(settings: Settings) -> None:
    with pytest.raises(LetterError, match="empty"):
        check_letter("  \n ", settings)
    with pytest.raises(LetterError, match="limit is 20,000"):
        check_letter("Could you confirm the date? " * 1000, settings)
    with pytest.raises(LetterError, match="binary"):
        check_letter("Dear Julie,\x00\x01\x02 What is it?", settings)
    with pytest.raises(LetterError, match="no recognisable request"):
        split_letter("Dear Julie,\n\nThank you for the bulletin. Members found it useful.\n\nYours sincerely,\n\nAnn Jones MS")


def test_a_point_longer_than_a_question_loses_its_context_or_is_refused(settings: Settings) -> None:
    context = "The Committee heard a great deal of evidence on the subject over many weeks. " * 10
    letter = split_letter(f"Dear Minister,\n\n{context}When will the review report?\n\nYours sincerely,\nGwen Price")
    assert letter.points[-1].endswith("When will the review report?") and len(letter.points[-1]) <= 600
    with pytest.raises(LetterError, match="split it into separate points"):
        letter_points("Dear Minister, when?", ["Could you set out " + "the plans, " * 80], settings)


def _args(letter: Path, out: Path | None = None, points: list[str] | None = None) -> argparse.Namespace:
    return argparse.Namespace(letter=letter, out=out, point=points)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary"),
        (b"Could you confirm this? " * 1000, "limit"),
        (b"Dear Julie,\n\nThanks for the bulletin.\n\nYours sincerely,\nAnn", "no recognisable request"),
    ],
    ids=["empty", "binary", "too-long", "no-request"],
)
def test_cli_exits_2_on_bad_letters_naming_the_problem(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str) -> None:
    path = tmp_path / "letter.txt"
    path.write_bytes(content)
    assert cmd_draft(_args(path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("askpfg: error:") and message in err
    if message == "binary":
        assert str(path) in err


def test_unreadable_files_are_named(tmp_path: Path) -> None:
    with pytest.raises(LetterError, match="no such file"):
        read_letter(tmp_path / "missing.txt")
    fake = tmp_path / "letter.docx"
    fake.write_bytes(b"not a zip")
    with pytest.raises(LetterError, match=re.escape(str(fake))):
        read_letter(fake)


# --- a real reply on the real pipeline (two points: a few pipeline calls) ---------------------------


@pytest.fixture(scope="module")
def reply(pipeline: Pipeline) -> DraftReply:
    letter = (LETTERS / "letter-05.txt").read_text(encoding="utf-8")
    return draft_reply(letter, pipeline, [ANSWERABLE, UNANSWERABLE], today=dt.date(2024, 1, 8))


def test_real_reply_is_a_cited_letter_in_house_style(reply: DraftReply, pipeline: Pipeline) -> None:
    text = reply.reply_markdown
    assert text.startswith(
        "8 January 2024\n\nEleri Vaughan  \nChair, Public Accounts and Public Administration Committee\n\nDear Eleri,\n\n"
        "Thank you for your letter of 6 November 2023 about care experienced children"
    )
    assert "I hope you have found my reply helpful.\n\nYours sincerely,\n\nJulie Morgan MS\n\nDeputy Minister for Social Services" in text
    body, references = text.split("**References**")
    assert "[1]" in body and "£50m" in body and "86 projects" in body and "“" not in body  # quotes go to the references
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", body)}
    assert markers == {c.n for c in reply.citations} == set(range(1, len(reply.citations) + 1))
    for citation in reply.citations:
        assert quote_is_verbatim(citation.quote, pipeline.retriever.document(citation.doc_id).text)
        assert f"{citation.n}. {citation.title}, " in references and " ".join(citation.quote.split()) in references


def test_the_reply_shown_beside_its_sources_panel_leaves_out_the_reference_list(reply: DraftReply) -> None:
    shown = to_markdown(reply, references=False)
    assert "References" not in shown and shown.rstrip().endswith("Deputy Minister for Social Services")
    assert f"**{reply.sections[0].heading}**" in shown


def test_unanswerable_point_becomes_a_placeholder_not_an_answer(reply: DraftReply) -> None:
    covered, uncovered = reply.sections
    assert covered.covered and not uncovered.covered
    assert uncovered.text == f"[NOT COVERED BY THE PAPERS: {UNANSWERABLE.rstrip('?')} — needs input]"
    assert reply.not_covered == [UNANSWERABLE]
    assert not re.search(r"\[\d+\]", uncovered.text)


def test_a_later_part_of_a_point_is_answered_from_the_document_that_answered_the_first(pipeline: Pipeline) -> None:
    letter = (LETTERS / "letter-02.txt").read_text(encoding="utf-8")
    point = "Who chairs the multi-agency Programme Board overseeing this work, and which stakeholders are represented on it?"
    section = draft_reply(letter, pipeline, [point]).sections[0]
    assert section.covered and not section.uncovered
    assert "Albert Heaney" in section.text and "Voices from Care" in section.text


def test_docx_is_written_and_readable(reply: DraftReply, tmp_path: Path) -> None:
    path = to_docx(reply, tmp_path / "reply.docx")
    paragraphs = [p.text for p in docx.Document(str(path)).paragraphs]
    assert "Dear Eleri," in paragraphs and "Yours sincerely," in paragraphs and "References" in paragraphs
    assert any(p.startswith("[NOT COVERED BY THE PAPERS:") for p in paragraphs)
    assert any(p.startswith("1. ") and "“" in p for p in paragraphs)


def _made_up_reply() -> DraftReply:
    letter = LetterPoints(sender="Gwen Price", sender_first_name="Gwen", sender_role="Clerk, Transport Committee",
                          letter_date=dt.date(2024, 3, 5), subject="school transport", points=["Who leads the review?", "What will it cost?"])
    citation = Citation(n=1, doc_id="d", title="Transport letter", date="2024-01-10", kind="letter", source="s.txt",
                        quote="The review is led by Dr Rhys Owen.", start=0, end=34)
    sections = [
        DraftSection(point="Who leads the review?", heading="Who leads the review?", text="The review is led by Dr Rhys Owen [1].", covered=True),
        DraftSection(point="What will it cost?", heading="What will it cost?", text=placeholder("What will it cost?"), covered=False,
                     uncovered=["What will it cost?"]),
    ]
    return DraftReply(points=letter.points, reply_markdown="", citations=[citation], not_covered=["What will it cost?"], letter=letter,
                      sections=sections, reply_date=dt.date(2024, 3, 20), signatory_name="Ann Minister", signatory_role="Minister for Transport")


def test_the_word_reply_is_a4_addressed_to_the_sender_signed_and_marks_what_needs_input(tmp_path: Path) -> None:
    document = docx.Document(str(to_docx(_made_up_reply(), tmp_path / "reply.docx")))
    page = document.sections[0]
    assert (round(page.page_width.mm), round(page.page_height.mm)) == (210, 297)
    assert document.core_properties.author == "Ann Minister"
    texts = [p.text for p in document.paragraphs]
    assert texts[:3] == ["20 March 2024", "Gwen Price\nClerk, Transport Committee", "Dear Gwen,"]
    flagged = [r for p in document.paragraphs for r in p.runs if r.font.highlight_color is not None]
    assert [r.text for r in flagged] == ["[NOT COVERED BY THE PAPERS: What will it cost — needs input]"]
    assert "References" in texts and texts[-1].startswith("1. Transport letter, 10 January 2024: “The review is led by")


def test_an_edited_reply_is_what_goes_into_the_word_document(tmp_path: Path) -> None:
    reply = _made_up_reply()
    edited = to_markdown(reply, references=False).replace(placeholder("What will it cost?"), "Officials will write with the cost.")
    texts = [p.text for p in docx.Document(str(to_docx(reply, tmp_path / "reply.docx", edited))).paragraphs]
    assert "Officials will write with the cost." in texts and not any("NOT COVERED" in t for t in texts)


def test_cli_writes_markdown_or_docx(reply: DraftReply, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(drafting, "draft_reply", lambda text, pipeline, points: reply)
    letter = LETTERS / "letter-05.txt"
    assert cmd_draft(_args(letter, points=[ANSWERABLE])) == 0
    assert capsys.readouterr().out == reply.reply_markdown
    assert cmd_draft(_args(letter, tmp_path / "reply.docx")) == 0
    assert docx.Document(str(tmp_path / "reply.docx")).paragraphs[2].text == "Dear Eleri,"
    assert cmd_draft(_args(letter, tmp_path / "reply.pdf")) == 2


def test_api_drafts_and_rejects_bad_letters(reply: DraftReply, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    client = TestClient(api.create_app(pipeline))
    bad = client.post("/api/draft", json={"letter": "   "})
    assert bad.status_code == 400 and bad.json()["error"] == "bad letter" and "empty" in bad.json()["detail"]
    monkeypatch.setattr(api, "draft_reply", lambda text, pipeline, points: reply)
    good = client.post("/api/draft", json={"letter": "Dear Julie, could you confirm?", "points": [ANSWERABLE]})
    assert good.status_code == 200
    assert set(good.json()) == {"points", "reply_markdown", "citations", "not_covered"}
    assert good.json()["not_covered"] == [UNANSWERABLE]


def test_draft_tab_builds_inside_a_tab(pipeline: Pipeline) -> None:
    import gradio as gr

    from askpfg.ui import build_draft_tab

    with gr.Blocks() as blocks, gr.Tab("Draft a reply"):
        build_draft_tab(pipeline)
    labels = {getattr(block, "label", None) for block in blocks.blocks.values()}
    assert {"Letter", "Points to answer (one per line)", "Download .docx"} <= labels


# --- evaluation report ------------------------------------------------------------------------------


def test_letters_report_passes_only_with_no_invented_answers_and_90_percent_key_facts() -> None:
    row = {"letter": "l", "sender_ok": True, "date_ok": True, "points_expected": 5, "points_found": 5, "points_matched": 5,
           "answerable": 10, "unanswerable": 1, "flagged": 1, "citations": 3, "citations_verified": 3, "seconds": 1.0}
    assert LettersReport(letters=[LetterResult(**row, with_key_facts=9, invented=0)]).passed
    assert not LettersReport(letters=[LetterResult(**row, with_key_facts=10, invented=1)]).passed
    failing = LettersReport(letters=[LetterResult(**row, with_key_facts=8, invented=0, problems=["key facts missing"])])
    assert not failing.passed
    assert "FAIL: 80%" in failing.table() and "l: key facts missing" in failing.table()
