"""Reply drafting (issue #6): split an incoming letter into its points, answer each point with the
grounded pipeline, and compose a cited reply in the house style of the corpus letters.

Nothing in a reply is invented: a point the papers do not answer becomes a visible placeholder,
`[NOT COVERED BY THE PAPERS: <point> — needs input]`, for a person to fill in.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from pydantic import BaseModel

from askpfg.conversation import last_named_body, rule_condense
from askpfg.schemas import Message

_SIGN_OFF = re.compile(
    r"^\s*(yours\s+(sincerely|faithfully|truly|ever)|kind(est)?\s+regards|best\s+wishes|with\s+(best|kind)\s+regards|"
    r"regards|cofion(\s+gorau)?|yn\s+gywir)\s*,?\s*$",
    re.I | re.M,
)
_SALUTATION = re.compile(r"^\s*(dear|annwyl)\s+[^\n]{1,80}?,?\s*$", re.I | re.M)
_HEADER_FIELD = re.compile(r"^\s*(from|to|date|subject|re|cc|sent)\s*:\s*(.*)$", re.I)
_POST_NOMINAL = re.compile(r"(\s+(?:[A-Z]{2,5}(?:/[A-Z]{2,5})?|[A-Z]\.?[A-Z]\.?)\b)+\s*$")
_TITLE = re.compile(r"^(mr|mrs|ms|miss|mx|dr|prof(essor)?|cllr|councillor|sir|dame|lord|lady|rev(erend)?)\.?\s+", re.I)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE_PATTERNS = (
    re.compile(rf"\b(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\s+(?P<m>{_MONTHS}|{_MONTHS[:3]}\w*)\.?,?\s+(?P<y>\d{{4}})\b", re.I),
    re.compile(rf"\b(?P<m>{_MONTHS})\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b", re.I),
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})\b"),
)
_ITEM = re.compile(r"^\s*(?:\(?\d{1,2}[.)]|\(?[a-hj-z][.)]|\((?:i{1,3}|iv|v|vi{0,3}|ix|x)\)|[-•*–▪●])\s+", re.I)
_SENTENCE = re.compile(r"(?<=[.?!])[”’\"')]?\s+(?=[A-Z“‘\"(£0-9])")
_DISCOURSE = re.compile(
    r"^(first(ly)?|second(ly)?|third(ly)?|fourth(ly)?|fifth(ly)?|next|then|also|further(more)?|additionally|"
    r"in addition|lastly|finally|moreover)\s*,?\s+",
    re.I,
)
_REQUEST = re.compile(
    r"\?\s*$|"
    r"^(please|kindly)\b|,\s*please\b|"
    r"^(could|can|would|will)\s+(you|the\s+(welsh\s+)?government|officials)\b|"
    r"\b(i|we|the committee|members)\s+(would|should|will)\s+(be\s+grateful|appreciate|welcome|like\s+to\s+(know|understand|ask|see|receive))\b|"
    r"\b(i|we|the committee)\s+(ask|request|invite)\s+(that\s+)?you\b|"
    r"\b(i am|we are)\s+writing\s+to\s+(ask|request|enquire|inquire)\s+(whether|if|about|what|when|how|why|who|for)\b|"
    r"^(set out|provide|outline|explain|confirm|describe|clarify|share|send|tell us|let us know|update)\b",
    re.I,
)
_NOT_A_POINT = re.compile(
    r"\b(following|as follows|the points below|below)\s*[.:]\s*$|"
    r"\b(response|reply|respond|hear(ing)? from you|look forward|in due course)\b",
    re.I,
)
_CLAUSE = re.compile(r",?\s+(?:and|including)\s+(?=(?:who|when|where|which|what|how|whether|any)\b)", re.I)
_LABEL_MAX_WORDS = 7


class LetterError(ValueError):
    """A letter no reply can be drafted from; the message says what is wrong and what to do."""


class LetterPoints(BaseModel):
    """What a reply needs from an incoming letter."""

    sender: str = ""
    sender_first_name: str = ""
    letter_date: dt.date | None = None
    subject: str = ""
    points: list[str] = []


@dataclass(frozen=True)
class _Block:
    """A paragraph of the letter body, or one item of a numbered or bulleted list."""

    text: str
    is_item: bool


def _parse_date(text: str) -> dt.date | None:
    for pattern in _DATE_PATTERNS:
        for match in pattern.finditer(text):
            day, month, year = match.group("d"), match.group("m"), match.group("y")
            if not month.isdigit():
                month = str(next(i for i, name in enumerate(_MONTHS.split("|"), 1) if name.startswith(month[:3].lower())))
            try:
                return dt.date(int(year), int(month), int(day))
            except ValueError:
                continue
    return None


def _clean_name(line: str) -> str:
    """'Rhian Pritchard MS' -> 'Rhian Pritchard'; drops post-nominals and trailing commas."""
    name = re.sub(r"\s+", " ", line).strip(" ,.")
    return _POST_NOMINAL.sub("", name).strip(" ,.")


def _looks_like_name(line: str) -> bool:
    words = _clean_name(line).split()
    return 1 <= len(words) <= 5 and all(w[:1].isupper() for w in words) and not re.search(r"\d|:|@", line)


def _first_name(name: str) -> str:
    words = _TITLE.sub("", name).split()
    if len(words) < 2 and _TITLE.match(name):
        return name  # 'Dr Evans': no first name, so the reply says 'Dear Dr Evans'
    return words[0] if words else ""


def _lines(text: str) -> list[str]:
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def _find_sender(text: str, headers: dict[str, str]) -> str:
    if headers.get("from"):
        return _clean_name(re.sub(r"<[^>]*>|\S+@\S+", "", headers["from"]))
    sign_offs = list(_SIGN_OFF.finditer(text))
    if sign_offs:
        after = [line.strip().lstrip("#").strip() for line in _lines(text[sign_offs[-1].end() :])]
        name = next((line for line in after if line), "")
        if name and _looks_like_name(name):
            return _clean_name(name)
    first = next((line.strip() for line in _lines(text) if line.strip()), "")
    salutation = _SALUTATION.search(text)
    if first and _looks_like_name(first) and (salutation is None or text.find(first) < salutation.start()):
        return _clean_name(first)
    return ""


def _headers(text: str) -> dict[str, str]:
    """'From:', 'Date:', 'Subject:' fields at the top of an e-mailed letter."""
    fields: dict[str, str] = {}
    for line in _lines(text)[:12]:
        match = _HEADER_FIELD.match(line)
        if match and match.group(2).strip():
            fields.setdefault(match.group(1).lower(), match.group(2).strip())
    return fields


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(re.sub(r"\s+", " ", text).strip()) if s.strip()]


def _blocks(body: str) -> list[_Block]:
    """Paragraphs and list items; a list item runs until the next item or a blank line."""
    blocks: list[_Block] = []
    current: list[str] = []
    is_item = False

    def flush() -> None:
        if current:
            blocks.append(_Block(" ".join(current).strip(), is_item))
            current.clear()

    for line in _lines(body):
        if not line.strip():
            flush()
            is_item = False
        elif _ITEM.match(line):
            flush()
            is_item = True
            current.append(_ITEM.sub("", line, count=1).strip())
        else:
            current.append(line.strip())
    flush()
    return [b for b in blocks if b.text]


def _strip_label(sentences: list[str]) -> list[str]:
    """Drop a short heading-like lead ('Governance.') at the start of a numbered item."""
    first = sentences[0] if sentences else ""
    words = first.rstrip(".:").split()
    if len(sentences) > 1 and len(words) <= _LABEL_MAX_WORDS and first.endswith((".", ":")) and not _REQUEST.search(first):
        if not re.search(r"\b(is|are|was|were|has|have|had|will|refers?|referred|noted|said|says)\b", first, re.I):
            return sentences[1:]
    return sentences


def _is_request(sentence: str) -> bool:
    plain = _DISCOURSE.sub("", sentence)
    return bool(_REQUEST.search(plain)) and not _NOT_A_POINT.search(plain)


def _tidy_point(sentences: list[str]) -> str:
    plain = [_DISCOURSE.sub("", s) for s in sentences]
    return " ".join(s[0].upper() + s[1:] for s in plain if s).strip()


def _points(body: str) -> list[str]:
    """Each list item holding a request is one point (with its context sentences); in running
    paragraphs each request sentence is a point, carrying the context sentences just before it."""
    points: list[str] = []
    blocks = _blocks(body)
    items = [i for i, b in enumerate(blocks) if b.is_item]
    for index, block in enumerate(blocks):
        if len(items) > 1 and index == items[0] - 1 and not block.is_item:
            continue  # the paragraph that introduces a list of points is not a point itself
        sentences = _sentences(block.text)
        if block.is_item:
            sentences = _strip_label(sentences)
            requests = [i for i, s in enumerate(sentences) if _is_request(s)]
            if requests:
                points.append(_tidy_point(sentences[: requests[-1] + 1]))
            continue
        context: list[str] = []
        for sentence in sentences:
            if _is_request(sentence):
                points.append(_tidy_point([*context, sentence]))
                context = []
            elif not _NOT_A_POINT.search(sentence):
                context.append(sentence)
    return points


def sub_questions(point: str) -> list[str]:
    """A compound point as separate questions for retrieval: 'who chairs the Board and when it
    first met' -> ['who chairs the Board', 'when the Board first met']."""
    sentences = _sentences(point)
    context, request = sentences[:-1], sentences[-1] if sentences else ""
    cuts = [m for m in _CLAUSE.finditer(request) if len(request[: m.start()].split()) >= 4]
    if not cuts:
        return [point]
    bounds = [0, *[m.start() for m in cuts], len(request)]
    starts = [0, *[m.end() for m in cuts]]
    clauses = [request[s:e].strip(" ,.?") for s, e in zip(starts, bounds[1:], strict=True)]
    questions = [" ".join([*context, clauses[0]]) + "?"]
    for clause in clauses[1:]:
        earlier = [Message(role="user", content=" ".join([*context, c])) for c in clauses[: clauses.index(clause)]]
        body = last_named_body(earlier)
        resolved = rule_condense(clause, earlier)
        if body and resolved == clause and last_named_body([Message(role="user", content=clause)]) is None:
            resolved = f"{clause} ({body})"
        questions.append(resolved[0].upper() + resolved[1:] + "?")
    return questions


def _lower_first(subject: str) -> str:
    """'Fostering, kinship care' -> 'fostering, kinship care'; keeps names and acronyms as written."""
    words = subject.split()
    if len(words) > 1 and words[0][1:].islower() and words[1][:1].islower():
        return words[0][0].lower() + subject[1:]
    return subject


def split_letter(text: str, require_points: bool = True) -> LetterPoints:
    """Find the sender, the date of their letter, its subject and each question or request in it."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    headers = _headers(text)
    salutation = _SALUTATION.search(text)
    sign_offs = list(_SIGN_OFF.finditer(text))
    head = text[: salutation.start()] if salutation else ""
    body = text[salutation.end() :] if salutation else text
    if sign_offs and (salutation is None or sign_offs[-1].start() > salutation.end()):
        body = body[: sign_offs[-1].start() - (salutation.end() if salutation else 0)]

    subject = headers.get("subject") or headers.get("re") or ""
    if not subject:
        first_block = next((b for b in _blocks(body)), None)
        if first_block and not first_block.is_item and len(first_block.text) <= 160 and not re.search(r"[.?!]$", first_block.text):
            subject = first_block.text
    subject = re.sub(r"^(re|subject)\s*:\s*", "", subject, flags=re.I).strip()

    sender = _find_sender(text, headers)
    date_source = headers.get("date") or head or "\n".join(_lines(text)[:15])
    points = _points(body)
    if require_points and not points:
        raise LetterError(
            "no recognisable request in the letter: it needs at least one question or request "
            "(e.g. 'Could you confirm ...?', 'Please set out ...'); or give the points yourself with --point"
        )
    return LetterPoints(
        sender=sender,
        sender_first_name=_first_name(sender),
        letter_date=_parse_date(date_source),
        subject=_lower_first(subject),
        points=points,
    )
