"""Verification stage: what a drafted sentence may say, checked by code against the evidence it cites.

The one verifier, used by answering and drafting: a sentence is kept only when its numbers occur in
the cited evidence as whole numbers, its names and most of its content words are there too, it adds
to the question, and it gives the kind of fact the question asks for. Every quote is checked against
the stored text.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from askpfg.question import (
    MONTHS,
    answer_type,
    asked_thing,
    content_stems,
    has_answer_type,
)
from askpfg.retrieval import Evidence

KIND_NAMES = {"letter": "letter", "bulletin": "bulletin", "board-summary": "Programme Board summary", "document": "document"}
_NUMBER = re.compile(r"£?\d[\d,.]*\s?(?:m|million|bn|billion|k)?\b")
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?({MONTHS})\b")


def _dates_missing(sentence: str, support: str) -> list[str]:
    """The day-and-month dates a sentence gives that its support does not give as the same date: "10
    September" is not supported by "3 December" and "10 May", though each number and month occurs."""
    given = {(int(d), m) for d, m in _DAY_MONTH.findall(support)}
    return [f"{d} {m}" for d, m in _DAY_MONTH.findall(sentence) if (int(d), m) not in given]


def format_date(iso: str) -> str:
    """'2022-07-22' -> '22 July 2022'."""
    date = dt.date.fromisoformat(iso)
    return f"{date.day} {date:%B %Y}"


def source_phrase(evidence: Evidence) -> str:
    """How an answer names its source in time: 'the letter of 22 July 2022'."""
    kind = KIND_NAMES.get(evidence.kind, "document")
    if evidence.kind == "bulletin":
        return f"the {kind} of {dt.date.fromisoformat(evidence.date):%B %Y}"
    return f"the {kind} of {format_date(evidence.date)}"


def normalise_ws(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def quote_is_verbatim(quote: str, document_text: str) -> bool:
    """The check every citation passes: its quote occurs in the stored text (whitespace-normalised)."""
    return bool(quote.strip()) and normalise_ws(quote) in normalise_ws(document_text)


@dataclass
class DraftCheck:
    """The verifier's verdict on one drafted sentence."""

    sentence: str
    cited: list[int]
    supported: bool
    reason: str = ""


def verify_sentence(sentence: str, cited: list[int], evidence: list[Evidence], question: str) -> DraftCheck:
    """A sentence is supported when its numbers and most content words occur in the evidence it cites."""
    if not cited or any(n < 1 or n > len(evidence) for n in cited):
        return DraftCheck(sentence, cited, False, "no valid citation")
    if len(sentence.split()) < 5 or not sentence[:1].isalnum():
        return DraftCheck(sentence, cited, False, "not a full sentence")
    support = " ".join(
        f"{evidence[n - 1].text} {evidence[n - 1].heading} {evidence[n - 1].header} {format_date(evidence[n - 1].date)} "
        f"{source_phrase(evidence[n - 1])}"
        for n in cited
    )
    # A paper's date gives a sentence its month and year, and its day only as that date ("on 1 September"):
    # "workstream 1" is not supported by a paper dated 1 September.
    counted = " ".join(
        f"{evidence[n - 1].text} {evidence[n - 1].heading} {evidence[n - 1].header} {dt.date.fromisoformat(evidence[n - 1].date):%B %Y}"
        for n in cited
    ).replace(",", "").lower()
    paper_days = [dt.date.fromisoformat(evidence[n - 1].date) for n in cited]
    for number in _NUMBER.findall(sentence):
        digits = re.sub(r"[^\d.]", "", number.replace(",", "")).rstrip(".")
        # whole numbers only: "1" must not pass because the evidence says "2021"
        if not digits or re.search(rf"(?<![\d.]){re.escape(digits)}(?![\d]|\.\d)", counted):
            continue
        if not any(digits == str(d.day) and re.search(rf"(?<![\d.]){d.day}(?:st|nd|rd|th)?\s+{d:%B}", sentence) for d in paper_days):
            return DraftCheck(sentence, cited, False, f"number '{number.strip()}' not in cited evidence")
    missing_dates = _dates_missing(sentence, support)
    if missing_dates:
        return DraftCheck(sentence, cited, False, f"date '{missing_dates[0]}' not in cited evidence")
    known = content_stems(support)
    unnamed = content_stems(" ".join(re.findall(r"(?<=\w )[A-Z][a-z]+", sentence))) - known
    if unnamed:
        return DraftCheck(sentence, cited, False, f"names not in cited evidence: {', '.join(sorted(unnamed))}")
    words = content_stems(sentence)
    if not words:
        return DraftCheck(sentence, cited, False, "no content")
    if not words - content_stems(question):
        return DraftCheck(sentence, cited, False, "only restates the question")
    for n in cited:  # "The workshop it asks about is the board summary of 19 September 2023."
        unsourced = re.sub(re.escape(source_phrase(evidence[n - 1])), " ", sentence, flags=re.IGNORECASE)
        if unsourced != sentence and not content_stems(unsourced) - content_stems(question):
            return DraftCheck(sentence, cited, False, "only restates the question and names its source")
    kind = answer_type(question)
    if kind in ("date", "money", "number", "proportion", "place", "locality") and not has_answer_type(kind, sentence, question):
        return DraftCheck(sentence, cited, False, f"does not give the {kind} asked for")
    thing = asked_thing(question)
    if thing in words and thing not in known:  # "What survey ...?": the survey must be in what it cites
        return DraftCheck(sentence, cited, False, f"the {thing} asked about is not in cited evidence")
    missing = words - known
    if len(missing) / len(words) > 0.25:
        return DraftCheck(sentence, cited, False, f"unsupported words: {', '.join(sorted(missing))}")
    return DraftCheck(sentence, cited, True)


def foreign_numbers(question: str, evidence: list[Evidence]) -> set[str]:
    """Years and amounts the question names that no evidence mentions (nor its paper's date, see
    `_dated`): then the evidence is about something else ("the budget in 2025/26" answered from a
    2022/2025 budget). Not used for questions about change, which name the earlier position on purpose."""
    said = " ".join(f"{e.text} {e.title}" for e in evidence)
    named = re.findall(r"(?<![\d,.])(?:\d{3,}(?:[./–-]\d+)?|\d+[./]\d+)", question)  # 2025/26 and 2024-25 are one year each
    return {n for n in named if not _mentions(n, said) and not any(_dated(n, question, e) for e in evidence)}


def _dated(year: str, question: str, evidence: Evidence) -> bool:
    """Whether a paper's own date gives a year the question names, as precisely as the question gives it:
    "in 2023" by any paper of 2023; "in July and August 2023" by one of those months, or of 2023 that
    writes the month; "at 31 March 2023" likewise by that day (a paper of December 2023 saying "by 2021
    there were ..." is no answer to it)."""
    date = dt.date.fromisoformat(evidence.date)
    at = re.search(rf"(?<![\d,.]){year}(?![\d])", question)
    if year != str(date.year) or at is None:
        return False
    before = question[max(0, at.start() - 40) : at.start()]
    given = re.findall(rf"(?:\b(\d{{1,2}})(?:st|nd|rd|th)?\s+)?\b({MONTHS})\b", before, re.I)
    months = [m.lower() for m in MONTHS.split("|")]
    for day, month in given:
        if date.month == months.index(month.lower()) + 1 and (not day or int(day) == date.day):
            return True
        written = rf"\b{day}(?:st|nd|rd|th)?\s+{month}\b" if day else rf"\b{month}\b"
        if re.search(written, evidence.text, re.I):
            return True
    return not given


def _mentions(number: str, text: str) -> bool:
    """Whether a text gives a number; a financial year ("2023-24") also when it gives both its years
    ("1st April 2023 – 31st March 2024")."""
    if re.search(rf"(?<![\d.]){re.escape(number)}(?![\d])", text):
        return True
    years = re.fullmatch(r"((?:19|20)\d\d)[./–-](\d{2}|\d{4})", number)
    if not years:
        return False
    first, second = years.group(1), years.group(2)
    second = second if len(second) == 4 else first[:2] + second
    return all(re.search(rf"\b{y}\b", text) for y in (first, second))


def support_for(sentence: str, cited: list[int], evidence: list[Evidence], question: str) -> DraftCheck:
    """The sentence checked against the evidence it cites or, failing that, each other evidence item.

    Small models often number their citations wrongly; the citation that counts is the passage code
    finds that supports the sentence.
    """
    check = verify_sentence(sentence, cited, evidence, question)
    if check.supported:
        return check
    for n in range(1, len(evidence) + 1):
        if [n] != cited:
            alternative = verify_sentence(sentence, [n], evidence, question)
            if alternative.supported:
                return alternative
    return check
