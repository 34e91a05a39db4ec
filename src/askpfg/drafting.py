"""Reply drafting (issue #6): split an incoming letter into its points, answer each point with the
grounded pipeline, and compose a cited reply in the house style of the corpus letters.

Nothing in a reply is invented: a point the papers do not answer becomes a visible placeholder,
`[NOT COVERED BY THE PAPERS: <point> — needs input]`, for a person to fill in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from askpfg.answering import Pipeline, as_quoted, split_draft
from askpfg.chunking import split_sentences
from askpfg.conversation import last_named_body, rule_condense
from askpfg.corpus import REPLACEMENT_CHAR, CorpusError, extract_text
from askpfg.question import ANAPHOR, content_stems, counted_noun, has_answer_type
from askpfg.retrieval import Filters
from askpfg.schemas import Answer, AskError, Citation, Message
from askpfg.settings import Settings
from askpfg.verify import format_date, normalise_ws

CLOSING = "I hope you have found my reply helpful."

_SIGN_OFF = re.compile(
    r"^\s*(yours\s+(sincerely|faithfully|truly|ever)|kind(est)?\s+regards|best\s+wishes|with\s+(best|kind)\s+regards|"
    r"(warm|best)\s+regards|regards|many\s+thanks|thanks(\s+(again|very\s+much))?|thank\s+you|all\s+the\s+best|best|"
    r"diolch(\s+yn\s+fawr)?|gyda\s+diolch|cofion(\s+(gorau|cynnes))?|yn\s+gywir)\s*[,!.]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
# "Dear Ms Jones," / "Annwyl Weinidog,"; an e-mail's "Hello," or "Hi Julie," (a greeting and at most a name)
_SALUTATION = re.compile(
    r"^\s*(?:(?:dear|annwyl)\s+[^\n]{1,80}?|(?:hello|hi|helo|good\s+(?:morning|afternoon|evening)|bore\s+da|prynhawn\s+da)"
    r"(?:\s+[A-Z][\w'’.-]*){0,3})\s*[,!]?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_HEADER_FIELD = re.compile(r"^\s*(from|to|date|subject|re|cc|sent)\s*:\s*(.*)$", re.IGNORECASE)
_POST_NOMINAL = re.compile(r"(\s+(?:[A-Z]{2,5}(?:/[A-Z]{2,5})?|[A-Z]\.?[A-Z]\.?)\b)+\s*$")
_TITLE = re.compile(r"^(mr|mrs|ms|miss|mx|dr|prof(essor)?|cllr|councillor|sir|dame|lord|lady|rev(erend)?)\.?\s+", re.IGNORECASE)
_MONTHS = "january|february|march|april|may|june|july|august|september|october|november|december"
_DATE_PATTERNS = (
    re.compile(r"\b(?P<d>\d{1,2})(?:st|nd|rd|th)?\s+(?P<m>jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?,?\s+(?P<y>\d{4})\b", re.IGNORECASE),
    re.compile(rf"\b(?P<m>{_MONTHS})\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?,?\s+(?P<y>\d{{4}})\b", re.IGNORECASE),
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})\b"),
)
_ITEM = re.compile(r"^\s*(?:\(?\d{1,2}[.)]|\(?[a-hj-z][.)]|\((?:i{1,3}|iv|v|vi{0,3}|ix|x)\)|[-•*–▪●])\s+", re.IGNORECASE)
_DISCOURSE = re.compile(
    r"^(first(ly)?|second(ly)?|third(ly)?|fourth(ly)?|fifth(ly)?|next|then|also|further(more)?|additionally|"
    r"in addition|lastly|finally|moreover)\s*,?\s+",
    re.IGNORECASE,
)
_ASKING = r"(?:tell|confirm|set\s+out|let|provide|explain|outline|say|share|clarify|update|advise|give|describe|send|indicate|detail|supply|list|summarise)"
_WANTING = r"(?:know|understand|ask|see|receive|hear|learn|have)"
# A sentence that asks the reader for something, in the forms English letters and e-mails use.
_REQUEST = re.compile(
    r"\?\s*$|"
    r"^(please|kindly)\b|,\s*please\b|\bplease\s+" + _ASKING + r"\b|"
    r"\b(could|can|would|will)\s+you\s+(?:(?:please|also|kindly)\s+)*" + _ASKING + r"\b|"
    r"^(could|can|would|will)\s+(you|the\s+(welsh\s+)?government|officials)\b|"
    r"\b(i|we|the committee|members)\s+(would|should|will)\s+(also\s+)?(be\s+grateful|appreciate|welcome|like\s+to\s+" + _WANTING + r")\b|"
    r"\b(i|we)['’]d\s+(also\s+)?(be\s+grateful|appreciate|welcome|like\s+to\s+" + _WANTING + r")\b|"
    r"\b(i|we|the committee|members)\s+(also\s+)?(need|want|wish|are\s+keen|were\s+keen|are\s+anxious|would\s+like)\s+to\s+" + _WANTING + r"\b|"
    r"\b(members|the committee|we|colleagues)\s+(also\s+)?(have\s+)?(asked|queried)\s+(whether|if|who|what|when|where|how|why|which|for|about)\b|"
    r"\bit\s+would\s+(help|assist|be\s+(helpful|useful))\b|"
    r"\b(i|we|the committee)\s+(ask|request|invite)\s+(that\s+)?you\b|"
    r"\b(i am|we are|i['’]m)\s+writing\s+to\s+(ask|request|enquire|inquire|seek)\b|"
    r"^(set out|provide|outline|explain|confirm|describe|clarify|share|send|tell us|let us know|update)\b",
    re.IGNORECASE,
)
_NOT_A_POINT = re.compile(
    r"\b(following|as follows|the points below|below)\s*[.:]\s*$|"
    r"\b(some|any|further|more|additional)\s+(information|details?|clarification)\s*[.:]?\s*$|"  # asks for nothing in particular
    r"\b(response|reply|respond|hear(ing)? from you|look forward|in due course)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r",?\s+(?:and|including)\s+(?=(?:who|when|where|which|what|how|whether|any)\b)", re.IGNORECASE)
_LABEL_MAX_WORDS = 7
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those)\b", re.IGNORECASE)
_LEANS = re.compile(r"\b(it|its|they|them|their|these|those)\b", re.IGNORECASE)  # a request that needs the sentence before it
_GRATEFUL = r"(?:i|we)(?:\s+(?:would|should)|['’]d)\s+(?:also\s+)?be\s+grateful\s+if\s+you\s+(?:could|would)\s+"
# the ways a letter leads into what it asks ("Members also asked ...", "It would help to know ..."), dropped from questions and headings
_ASKED = (
    r"(?:we|i|members|the\s+committee)\s+(?:also\s+)?(?:need|want|wish|would\s+like|are\s+keen|were\s+keen)\s+to\s+(?:know|understand|learn|hear)\s+|"
    r"(?:members|the\s+committee|we|colleagues)\s+(?:also\s+)?(?:have\s+)?(?:asked|queried)\s+(?=(?:whether|if|who|what|when|where|how|why|which)\b)|"
    r"it\s+would\s+(?:help|assist|be\s+(?:helpful|useful))\s+(?:(?:members|the\s+committee|us|me)\s+)?(?:to\s+(?:know|understand|have)\s+|if\s+you\s+could\s+)|"
    r"(?:i|we)(?:\s+would|['’]d)\s+(?:also\s+)?welcome\s+(?:an?\s+)?(?:update|information|clarification|details?)\s+(?:on|about|regarding)\s+"
)
_LEAD_IN = re.compile(
    rf"^(?:{_GRATEFUL}|{_ASKED}|(?:could|can|would)\s+you\s+|please\s+|kindly\s+)"
    r"(?:also\s+)?(?:please\s+)?(?:set\s+out|provide(?:\s+us\s+with)?|confirm|outline|explain|describe|clarify|tell\s+(?:us|me)|"
    r"let\s+(?:us|me)\s+know|say|share|give)?\s*",
    re.IGNORECASE,
)
_POLITE = re.compile(
    rf"^(?:{_GRATEFUL}|{_ASKED}|(?:could|can|would|will)\s+you\s+(?:please\s+)?|"
    r"please\s+|kindly\s+)(?:also\s+)?",
    re.IGNORECASE,
)
_FRONTED = re.compile(r"^[^,?]{2,60},\s+")  # a phrase set before the request, up to its comma
_ASK_VERB = re.compile(
    r"^(?:confirm|tell\s+(?:us|me)|let\s+(?:us|me)\s+know|say|explain|clarify|set\s+out|outline|describe)\s+"
    r"(?=(?:who|what|when|where|which|how|why|whether)\b)",
    re.IGNORECASE,
)
_QUANTITY = re.compile(
    r"\b(?:how\s+many|how\s+much|number\s+of|(?:total|estimated|specific|overall)\s+"
    r"(?=(?:\w+\s+){0,2}(?:cost|budget|tariff|amount|sum|figure|funding|spend)))(?P<what>[^,.;?]*)",
    re.IGNORECASE,
)
_QUANTITY_STOP = frozenset(
    [
        "available", "for", "of", "to", "in", "on", "by", "through", "have", "has", "had", "was", "were", "is", "are",
        "did", "does", "do", "will", "would", "been", "be", "as", "that", "which", "since", "per", "across", "each",
        "currently",
    ]
)
_BOILERPLATE = frozenset(
    content_stems(
        "grateful could set out provide confirm outline explain describe clarify please kindly tell us know let share detail "
        "details information current currently position members committee understand like would welcome also since then"
    )
)
_MIN_COVERAGE = 0.5
POINT_CHARS = _POINT_CHARS = 600  # a point is a question or request, not a paragraph: longer is split into its requests or refused
_MAX_SENTENCES = 3  # a question's answer in a reply: one to three plain sentences
_MARKER = re.compile(r"\s*\[\d+\]")
_DIRECT = re.compile(r"(who|what|when|where|which|how|why|whether|is|are|was|were|will|does|do|did|has|have|(on|in|at|by|to|for)\s+(what|which|whom))\b", re.IGNORECASE)
_WHEN = re.compile(r"\b(when|what date|which date|by what date|how soon|what time(scale|table)?)\b", re.IGNORECASE)
_TIME = re.compile(
    r"\b(January|February|March|April|May|June|July|August|September|October|November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|"
    r"Sept?|Oct|Nov|Dec|(?i:spring|summer|autumn|winter)|(19|20)\d\d|"
    r"(?i:(this|next|last|later|coming|current)\s+(year|term|senedd|month|week|quarter)|today|tomorrow|yesterday))\b"
)
_LIST_ITEM = re.compile(r"\s*\n[-•*] [^\n]+")
_NAME = re.compile(r"\b[A-Z][\w’'-]*(?:\s+(?:(?:of|for|on|and|the|a|to)\s+)*[A-Z][\w’'-]*)+")
_QUOTED = re.compile(r"[\"“‘]([^\"”’]{8,})[\"”’]")
_OBJECT = re.compile(
    r"\b(?:set\s+out|provide(?:\s+us\s+with)?|outline|confirm|explain|describe|share|give)\s+(?:the|a|an|any|your)\s+"
    r"(?P<head>[^,;:?.]*?)(?=\s+(?:of|on|for|to|from|by|in|with|under|between|at|about|that|which|who|whose|established)\b|[,;:?.]|$)",
    re.IGNORECASE,
)


class LetterError(ValueError):
    """A letter no reply can be drafted from; the message says what is wrong and what to do."""


class NoPointsError(LetterError):
    """A letter in which no question or request was found. Each caller adds how its user gives the
    points themselves (the CLI's --point, the UI's points box, the API's "points")."""

    def __init__(self, how_to_give_points: str = "") -> None:
        super().__init__(
            "no recognisable request in the letter: it needs at least one question or request "
            "(e.g. 'Could you confirm ...?', 'Please set out ...')" + (f"; or {how_to_give_points}" if how_to_give_points else "")
        )


class LetterPoints(BaseModel):
    """What a reply needs from an incoming letter."""

    sender: str = ""
    sender_first_name: str = ""
    sender_role: str = ""
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


def _role_after(lines: list[str], name: str) -> str:
    """The line after a sender's name when it reads as their role ('Chair, Finance Committee'), else ''."""
    stripped = [line.strip().lstrip("#").strip() for line in lines]
    at = next((i for i, line in enumerate(stripped) if line and _clean_name(line) == name), None)
    role = next((line for line in stripped[at + 1 :] if line), "") if at is not None else ""
    return role if role and len(role) <= 120 and not re.search(r"\d|@|:", role) and not _SIGN_OFF.match(role) else ""


def _find_sender(text: str, headers: dict[str, str]) -> tuple[str, str]:
    """Who wrote the letter and their role: the e-mail's From, the name under the sign-off, or the letterhead."""
    sign_offs = list(_SIGN_OFF.finditer(text))
    signature = _lines(text[sign_offs[-1].end() :]) if sign_offs else []
    if headers.get("from"):
        name = _clean_name(re.sub(r"<[^>]*>|\S+@\S+", "", headers["from"]))
        return name, _role_after(signature, name)
    name = next((line.strip().lstrip("#").strip() for line in signature if line.strip()), "")
    if name and _looks_like_name(name):
        return _clean_name(name), _role_after(signature, _clean_name(name))
    first = next((line.strip() for line in _lines(text) if line.strip()), "")
    salutation = _SALUTATION.search(text)
    if first and _looks_like_name(first) and (salutation is None or text.find(first) < salutation.start()):
        return _clean_name(first), _role_after(_lines(text), _clean_name(first))
    return "", ""


def _headers(text: str) -> dict[str, str]:
    """'From:', 'Date:', 'Subject:' fields at the top of an e-mailed letter."""
    fields: dict[str, str] = {}
    for line in _lines(text)[:12]:
        match = _HEADER_FIELD.match(line)
        if match and match.group(2).strip():
            fields.setdefault(match.group(1).lower(), match.group(2).strip())
    return fields


def _sentences(text: str) -> list[str]:
    return [s.text for s in split_sentences(re.sub(r"\s+", " ", text).strip())]


_INLINE_MARK = re.compile(r"(?:(?<=\s)|(?<=^)|(?<=[:;,]))\(?(\d{1,2}|[a-h]|i{1,3}|iv|vi{0,3})[.)]\s+", re.IGNORECASE)
_ROMAN = ("i", "ii", "iii", "iv", "v", "vi", "vii", "viii")


def _label_after(label: str) -> set[str]:
    """The labels that may follow one in a list: '2' after '1', 'b' after 'a', 'ii' after 'i' (and 'j' after 'i')."""
    label = label.lower()
    following = set()
    if label.isdigit():
        following.add(str(int(label) + 1))
    if len(label) == 1 and label.isalpha():
        following.add(chr(ord(label) + 1))
    if label in _ROMAN[:-1]:
        following.add(_ROMAN[_ROMAN.index(label) + 1])
    return following


def _inline_list(text: str) -> tuple[str, list[str]] | None:
    """A paragraph holding a list written inline ('... set out: 1. the X; 2. the Y; and 3. the Z.',
    '(a) ... (b) ...') as its lead-in and items; None when it holds no such list of two or more."""
    marks = list(_INLINE_MARK.finditer(text))
    for i, first in enumerate(marks):
        if first.group(1).lower() not in ("1", "a", "i"):
            continue
        run = [first]
        for mark in marks[i + 1 :]:
            if mark.group(1).lower() in _label_after(run[-1].group(1)):
                run.append(mark)
        if len(run) < 2:
            continue
        ends = [m.start() for m in run[1:]] + [len(text)]
        items = [re.sub(r"[;,]?\s*(?:and|or)?\s*$", "", text[m.end() : end].strip()).strip() for m, end in zip(run, ends)]
        return text[: first.start()].strip(), [item for item in items if item]
    return None


def _blocks(body: str) -> list[_Block]:
    """Paragraphs and list items; a list item runs until the next item or a blank line, and a list
    written inline in a paragraph becomes its lead-in paragraph and one item each."""
    blocks: list[_Block] = []
    current: list[str] = []
    is_item = False

    def flush() -> None:
        if current:
            text = " ".join(current).strip()
            inline = None if is_item else _inline_list(text)
            if inline:
                lead, items = inline
                blocks.extend([_Block(lead, False)] if lead else [])
                blocks.extend(_Block(item, True) for item in items)
            else:
                blocks.append(_Block(text, is_item))
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
    is_label = len(sentences) > 1 and len(words) <= _LABEL_MAX_WORDS and first.endswith((".", ":")) and not _REQUEST.search(first)
    if is_label and not re.search(r"\b(is|are|was|were|has|have|had|will|refers?|referred|noted|said|says)\b", first, re.IGNORECASE):
        return sentences[1:]
    return sentences


def _is_request(sentence: str) -> bool:
    plain = _DISCOURSE.sub("", sentence)
    return bool(_REQUEST.search(plain)) and not _NOT_A_POINT.search(plain)


def _tidy_point(sentences: list[str]) -> str:
    """A point as one string, each sentence capitalised; the context sentences before its request are
    dropped from the first while it is longer than a point may be (`_POINT_CHARS`)."""
    plain = [s[0].upper() + s[1:] for s in (_DISCOURSE.sub("", s) for s in sentences) if s]
    while len(plain) > 1 and len(" ".join(plain)) > _POINT_CHARS:
        plain.pop(0)
    return " ".join(plain).strip()


def _introduces_a_list(block: _Block) -> bool:
    """A paragraph ending in a colon, or one that asks ('The Committee would welcome information on:')."""
    last = (_sentences(block.text) or [""])[-1]
    return block.text.rstrip().endswith(":") or _is_request(last.rstrip(":"))


def _points(body: str) -> list[str]:
    """Each list item holding a request is one point (with its context sentences), and so is every
    item of a list whose lead-in asks for them ('Please set out: - the date ...; - the cost ...');
    in running paragraphs each request sentence is a point, carrying the context sentences just before it."""
    points: list[str] = []
    blocks = _blocks(body)
    first_item = next((i for i, b in enumerate(blocks) if b.is_item), -1)
    asked_for = False
    for index, block in enumerate(blocks):
        if not block.is_item:
            starts_list = index + 2 < len(blocks) and blocks[index + 1].is_item and blocks[index + 2].is_item
            asked_for = starts_list and _introduces_a_list(block)
            if asked_for or (starts_list and index == first_item - 1):
                continue  # the paragraph that introduces a list of points is not a point itself
        sentences = _sentences(block.text)
        if block.is_item:
            sentences = _strip_label(sentences)
            requests = [i for i, s in enumerate(sentences) if _is_request(s)]
            if requests:
                points.append(_tidy_point(sentences[: requests[-1] + 1]))
            elif asked_for and sentences:
                points.append(_tidy_point(sentences).rstrip(";,. "))
            continue
        context: list[str] = []
        for sentence in sentences:
            if _is_request(sentence):
                points.append(_tidy_point([*context, sentence]))
                context = []
            elif not _NOT_A_POINT.search(sentence):
                context.append(sentence)
    return points


def _unfronted(sentence: str) -> str:
    """A request without a phrase set before it: 'On special guardianship, could you tell us who ...'
    -> 'could you tell us who ...'; a sentence whose comma is not followed by a polite request is kept."""
    fronted = _FRONTED.match(sentence)
    return sentence[fronted.end() :] if fronted and _POLITE.match(sentence[fronted.end() :]) else sentence


def plain_question(sentence: str) -> str:
    """A request as the plain question it asks: 'Could you confirm what has happened to X?' ->
    'What has happened to X?'; 'I would be grateful if you could set out Y' -> 'Set out Y?'."""
    rest = _unfronted(_DISCOURSE.sub("", sentence.strip()))
    rest = _ASK_VERB.sub("", _POLITE.sub("", rest, count=1), count=1).strip(" ,.?")
    return rest[0].upper() + rest[1:] + "?" if rest else sentence


def sub_questions(point: str) -> list[str]:
    """A compound point as separate questions for retrieval: 'who chairs the Board and when it
    first met' -> ['who chairs the Board', 'when the Board first met']. A part whose 'it' or
    'that figure' names nothing earlier stays with the part before it."""
    sentences = _sentences(point)
    if not sentences:
        return [point]
    request = plain_question(sentences[-1])
    # The sentence before a request is searched with it only when the request points back to it
    # ('it', 'those barriers', 'the survey' it introduced); earlier context only dilutes the search.
    last = sentences[-2] if len(sentences) > 1 else ""
    context = [last] if last and (_PRONOUN.search(request) or request_words(request) & request_words(last)) else []
    cuts = [m for m in _CLAUSE.finditer(request) if len(request[: m.start()].split()) >= 4]
    parts = [request[: cuts[0].start()] if cuts else request]
    questions = [" ".join([*context, parts[0].strip(" ,.?")]) + "?"]
    for i, cut in enumerate(cuts):
        clause = request[cut.end() : cuts[i + 1].start() if i + 1 < len(cuts) else len(request)].strip(" ,.?")
        earlier = [Message(role="user", content=" ".join([*context, *parts]))]
        body = last_named_body(earlier)
        if _PRONOUN.search(clause) and body is None:
            parts[-1] += request[cut.start() : cut.end()] + clause
            questions[-1] = questions[-1].rstrip("?") + request[cut.start() : cut.end()] + clause + "?"
            continue
        resolved = rule_condense(clause, earlier)
        if body and resolved == clause and last_named_body([Message(role="user", content=clause)]) is None:
            resolved = f"{clause} ({body})"
        parts.append(clause)
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
        if first_block and not first_block.is_item and len(first_block.text) <= 160 and not re.search(r"[.?!:]$", first_block.text):
            subject = first_block.text
    subject = re.sub(r"^(re|subject)\s*:\s*", "", subject, flags=re.IGNORECASE).strip()

    sender, role = _find_sender(text, headers)
    date_source = headers.get("date") or headers.get("sent") or head or "\n".join(_lines(text)[:15])
    points = _points(body)
    if require_points and not points:
        raise NoPointsError()
    return LetterPoints(
        sender=sender,
        sender_first_name=_first_name(sender),
        sender_role=role,
        letter_date=_parse_date(date_source),
        subject=_lower_first(subject),
        points=points,
    )


# --- answering each point ----------------------------------------------------------------------


class DraftSection(BaseModel):
    """The reply's section for one point: its heading and cited text, or the not-covered placeholder."""

    point: str
    heading: str
    text: str
    covered: bool
    uncovered: list[str] = []


class DraftReply(BaseModel):
    """A drafted reply: the Markdown letter, its renumbered citations and what still needs input."""

    points: list[str]
    reply_markdown: str
    citations: list[Citation]
    not_covered: list[str]
    letter: LetterPoints
    sections: list[DraftSection]
    reply_date: dt.date
    signatory_name: str
    signatory_role: str


def placeholder(point: str) -> str:
    """The visible marker for a point the papers do not answer."""
    return f"[NOT COVERED BY THE PAPERS: {normalise_ws(point).rstrip('.?')} — needs input]"


def _stems(text: str) -> set[str]:
    """Stemmed content words, possessives dropped ('Government's' is 'Government')."""
    return content_stems(re.sub(r"['’]s\b", "", text))


def request_words(text: str) -> set[str]:
    """What a request or point is about: its stemmed content words less the polite boilerplate
    ('I would be grateful if you could set out ...') every letter shares."""
    return _stems(text) - _BOILERPLATE


def _quantity_noun(question: str) -> set[str] | None:
    """Stems naming what a 'how many / how much / total cost' question counts; None if it counts nothing."""
    match = _QUANTITY.search(question)
    if not match:
        return None
    words = re.split(r"\s+", match.group("what").strip())
    kept = list(itertools.takewhile(lambda w: w.lower() not in _QUANTITY_STOP, words))[:4] or words[:1]
    return _stems(" ".join(kept)) or _stems(match.group("what"))


def _has_quantity(text: str) -> bool:
    """A number that is not a date or a year: '£70m', '86 projects', '26 children'."""
    for pattern in _DATE_PATTERNS:
        text = pattern.sub(" ", text)
    text = re.sub(rf"\b(?:{_MONTHS})\b,?\s+\d{{4}}\b|\b(19|20)\d\d(\s*[/–-]\s*\d{{2,4}})?\b", " ", text, flags=re.IGNORECASE)
    return bool(re.search(r"\d", text))


def _names(question: str) -> list[set[str]]:
    """Stems of each thing a question names: 'the Ministerial Oversight Board', a quoted title."""
    names = _NAME.findall(question) + _QUOTED.findall(question)
    return [stems for name in names if (stems := request_words(name))]


def _object_head(request: str) -> set[str]:
    """Stems of what an imperative request asks for: 'provide the evaluation findings on ...' -> {evalu, find}."""
    match = _OBJECT.search(request)
    return request_words(match.group("head")) if match else set()


def answers_question(question: str, answer: Answer, context: Callable[[Citation], str] = lambda _c: "") -> bool:
    """Whether an answer the pipeline gave addresses this question, not just its topic.

    The pipeline refuses when nothing is close; a letter's point often is close (the papers
    mention the scheme but not the figure asked for). An answer counts only when its quoted
    sentences (read with the sentence before each, from `context`) hold half the request's own
    words and one of the things it names, the thing an imperative request asks for, and for a
    'how many / how much' question a number beside the thing counted.
    """
    if answer.refused or not answer.citations:
        return False
    request = _request(question)
    quoted = set().union(*(_stems(c.quote) for c in answer.citations))
    found = quoted.union(*(_stems(f"{context(c)} {c.heading}") for c in answer.citations))
    wanted = request_words(request)
    if wanted and len(wanted & found) / len(wanted) < _MIN_COVERAGE:
        return False
    names = _names(question)
    if names and not any(name <= found for name in names):
        return False
    head = _object_head(request)
    if head and not (head & quoted or ("date" in head and any(p.search(c.quote) for c in answer.citations for p in _DATE_PATTERNS[:2]))):
        return False
    if _WHEN.search(request) and not any(_TIME.search(c.quote) for c in answer.citations):
        return False
    if counted_noun(request):  # a count needs a number of the thing counted: "three roles" is no count of applicants
        return any(has_answer_type("number", c.quote, request) for c in answer.citations)
    counted = _quantity_noun(request)
    if counted is not None:
        return any(_has_quantity(c.quote) and (not counted or counted & _stems(c.quote)) for c in answer.citations)
    return True


@dataclass
class _Numbering:
    """One numbering of citations across the whole letter: a passage keeps its number, and so
    does a passage inside one already cited."""

    citations: list[Citation]

    def number(self, citation: Citation) -> int:
        for existing in self.citations:
            if existing.doc_id == citation.doc_id and existing.start <= citation.start and citation.end <= existing.end:
                return existing.n
        self.citations.append(citation.model_copy(update={"n": len(self.citations) + 1}))
        return len(self.citations)


def _request(question: str) -> str:
    return (_sentences(question) or [question])[-1]


def _facts(text: str) -> set[str]:
    """The stems of a text's words and each figure in it ('26', '£3.5m', '2022/23')."""
    return _stems(text) | set(re.findall(r"\S*\d\S*", _MARKER.sub("", text)))


def _plain_answer(answer: Answer, wanted: set[str], numbering: _Numbering, shown: list[tuple[str, list[Citation]]]) -> str:
    """What the reply says for one question, in at most `_MAX_SENTENCES` plain sentences each ending in
    its letter-wide [n]: the answer's direct sentences, then, while one adds to them, the sentence of
    the passages it quotes that is on the point (shares one of its words, `wanted`) and says most
    that neither the point nor the section says yet (the verbatim quotes go to the references).
    Relative dates are made absolute from the date of the paper each sentence cites; what this section
    already says, in any words, is not said again."""
    by_n = {c.n: c for c in answer.citations}
    covered = set().union(*(_facts(s) for s, _ in shown))
    chosen = []
    for sentence, numbers in split_draft(answer.lead):
        cited = [by_n[n] for n in numbers if n in by_n]
        if cited and not _facts(sentence) <= covered:
            chosen.append((sentence, cited))
            covered |= _facts(sentence)
    passages = [
        (sentence.text, [c]) for c in answer.citations if not c.earlier
        for sentence in split_sentences(normalise_ws(c.quote)) if sentence.text[:1].isupper() or sentence.text[:1].isdigit()
    ]

    def gain(sentence: str) -> int:
        facts = _facts(sentence)
        return len(facts - covered - wanted) if facts & wanted else 0  # on the point, and saying what is not yet said

    while len(chosen) < _MAX_SENTENCES and passages:
        best, earliest = max((gain(s), -i) for i, (s, _) in enumerate(passages))
        if best == 0:
            break
        chosen.append(passages.pop(-earliest))
        covered |= _facts(chosen[-1][0])
    sentences = []
    for sentence, cited in chosen:
        plain = normalise_ws(sentence)
        markers = "".join(f"[{numbering.number(c)}]" for c in cited)
        sentences.append(f"{absolute_time(plain, dt.date.fromisoformat(cited[0].date)).rstrip('.:;, ')} {markers}.")
        shown.append((plain, cited))
    return " ".join(sentences)


_MONTH_NAMES = [m.capitalize() for m in _MONTHS.split("|")]
_PREPOSITION = r"(?:in|of|during|for|by|from|until|since|throughout|before|after)"
RELATIVE_TIME = re.compile(
    rf"\b(?P<prep>{_PREPOSITION}\s+)?(?:(?P<month>{_MONTHS})\s+(?P<rel1>this|last|next)\s+year|"
    r"(?P<when>earlier|later)\s+(?P<rel2>this|last|next)\s+(?P<unit2>year|month)|"
    r"(?P<rel3>this|last|next|the\s+current)\s+(?P<unit3>year|month|financial\s+year|spring|summer|autumn|winter)|"
    r"(?P<day>today|yesterday|tomorrow))\b",
    re.IGNORECASE,
)


def absolute_time(text: str, written: dt.date) -> str:
    """Relative time in a sentence written on `written` made absolute, so a reply dated later does not
    repeat it: 'met in May this year' (2023) -> 'met in May 2023'; 'later this year' -> 'later in 2023';
    'last month' -> 'in August 2023'; 'this financial year' -> 'in the 2023-24 financial year'."""

    def month_of(shift: int) -> str:
        index = written.year * 12 + written.month - 1 + shift
        return f"{_MONTH_NAMES[index % 12]} {index // 12}"

    def replace(match: re.Match[str]) -> str:
        prep = match.group("prep") or ""
        shift = {"this": 0, "last": -1, "next": 1}
        if match.group("month"):
            return f"{prep}{match.group('month')} {written.year + shift[match.group('rel1').lower()]}"
        if match.group("when"):
            step = shift[match.group("rel2").lower()]
            when = str(written.year + step) if match.group("unit2").lower() == "year" else month_of(step)
            return f"{prep}{match.group('when')} in {when}"
        if match.group("day"):
            day = written + dt.timedelta(days={"today": 0, "yesterday": -1, "tomorrow": 1}[match.group("day").lower()])
            return f"{prep or 'on '}{format_date(day.isoformat())}"
        rel, unit = match.group("rel3").lower(), re.sub(r"\s+", " ", match.group("unit3").lower())
        step = shift.get(rel, 0)
        if unit == "year":
            when = str(written.year + step)
        elif unit == "month":
            when = month_of(step)
        elif unit == "financial year":
            start = written.year - (written.month < 4) + step
            when = f"the {start}-{(start + 1) % 100:02d} financial year"
        elif step == 0:
            when = f"{unit} {written.year}"
        else:
            return match.group(0)  # 'last summer': which year depends on the season it was written in
        return f"{prep or 'in '}{when}"

    def as_written(match: re.Match[str]) -> str:
        said = replace(match)
        return said[0].upper() + said[1:] if match.group(0)[0].isupper() else said

    return RELATIVE_TIME.sub(as_written, text)


def heading_for(point: str) -> str:
    """A section heading mirroring the point: its request sentence without the polite lead-in, after
    the sentence before it when the request leans on it and names nothing ('When will it be held?');
    the letter's own bracketed numbers escaped ("\\[3\\]"), as a paper's are, so none reads as a reference."""
    return as_quoted(_heading(point))


def _heading(point: str) -> str:
    sentences = _sentences(point) or [point]
    sentence = sentences[-1]
    core = _LEAD_IN.sub("", _unfronted(_DISCOURSE.sub("", sentence))).strip()
    direct = core == sentence and _DIRECT.match(core)
    core = core.rstrip(" ?.")
    core = (core[0].upper() + core[1:] if core else sentence) + ("?" if direct else "")
    leans = len(sentences) > 1 and _LEANS.search(core) and not _names(sentence)
    return f"{sentences[-2]} {sentence}" if leans else core


def _context(pipeline: Pipeline) -> Callable[[Citation], str]:
    """The sentence before a cited one, so 'The Board is jointly chaired by ...' knows which board."""

    def before(citation: Citation) -> str:
        text = pipeline.retriever.document(citation.doc_id).text
        previous = split_sentences(text, max(0, citation.start - 600), citation.start)
        return previous[-1].text if previous else ""

    return before


def _list_end(doc_text: str, end: int) -> int:
    """Where the bulleted list right after position `end` stops (up to 8 items); `end` if none."""
    for count, item in enumerate(_LIST_ITEM.finditer(doc_text, end)):
        if count == 8 or item.start() != end:
            break
        end = item.end()
    return end


def _extended(answer: Answer, pipeline: Pipeline) -> Answer:
    """Quotes extended, verbatim, over their neighbours so the reply reads whole: a quote that opens
    with 'It', 'This' or 'The Board' takes the sentence before it, one ending in ':' the list it
    introduces. (The sentence after a quote that completes it is already part of the evidence.)"""
    citations, text = [], answer.text
    for citation in answer.citations:
        doc_text = pipeline.retriever.document(citation.doc_id).text
        previous = split_sentences(doc_text, max(0, citation.start - 600), citation.start)
        start = previous[-1].start if previous and ANAPHOR.match(citation.quote) else citation.start
        end = _list_end(doc_text, citation.end) if citation.quote.rstrip().endswith(":") else citation.end
        if (start, end) != (citation.start, citation.end) and f"“{citation.quote}”" in text:
            quote = doc_text[start:end]
            text = text.replace(f"“{citation.quote}”", f"“{normalise_ws(quote)}”")
            citation = citation.model_copy(update={"quote": quote, "start": start, "end": end})
        citations.append(citation)
    return answer.model_copy(update={"citations": citations, "text": text})


def _answer_to(question: str, pipeline: Pipeline, filters: Filters | None = None) -> Answer | None:
    """The pipeline's answer to one question if it addresses the question, else None."""
    try:
        answer = _extended(pipeline.answer(question, filters=filters), pipeline)
    except AskError:
        return None
    return answer if answers_question(question, answer, _context(pipeline)) else None


def _section(point: str, pipeline: Pipeline, numbering: _Numbering) -> DraftSection:
    """Answer a point part by part. The parts of one point are about one thing, so a part is first
    sought in the documents its sibling parts were answered from, then in all of them."""
    questions = sub_questions(point)
    answers: dict[str, Answer] = {}

    def sibling_docs() -> Filters | None:
        docs = sorted({c.doc_id for a in answers.values() for c in a.citations})
        return Filters(doc_ids=docs) if docs else None

    def says_more(answer: Answer | None) -> Answer | None:
        """The answer found beside a sibling's, if its direct sentences add to what the siblings say."""
        said = set().union(*(_stems(a.lead) for a in answers.values()))
        return answer if answer and not _stems(_MARKER.sub("", answer.lead)) <= said else None

    for question in questions:
        within = sibling_docs()
        if answer := (within and says_more(_answer_to(question, pipeline, within))) or _answer_to(question, pipeline):
            answers[question] = answer
    for question in questions:  # an earlier part may be found beside a later part's answer
        if question not in answers and (within := sibling_docs()) and (answer := _answer_to(question, pipeline, within)):
            answers[question] = answer
    shown: list[tuple[str, list[Citation]]] = []
    wanted = request_words(" ".join(_request(q) for q in questions))
    paragraphs = [p for q in questions if q in answers and (p := _plain_answer(answers[q], wanted, numbering, shown))]
    heading = heading_for(point)
    if not paragraphs:
        return DraftSection(point=point, heading=heading, text=placeholder(heading), covered=False, uncovered=[point])
    # a part not answered on its own may be answered by what the section says for the others
    said = [c.model_copy(update={"quote": sentence}) for sentence, cited in shown for c in cited]
    uncovered = [
        q for q in questions if q not in answers
        and not answers_question(q, Answer(text="", standalone_question=q, citations=said), _context(pipeline))
    ]
    text = "\n\n".join([" ".join(paragraphs), *(placeholder(heading_for(q)) for q in uncovered)])
    return DraftSection(point=point, heading=heading, text=text, covered=True, uncovered=uncovered)


# --- composing the reply -----------------------------------------------------------------------


def signatory(pipeline: Pipeline) -> tuple[str, str]:
    """Who signs: the settings, else the author of the newest letter in the corpus ('Name, Role')."""
    settings = pipeline.settings
    if settings.signatory_name:
        return settings.signatory_name, settings.signatory_role or ""
    metas = [m for m in pipeline.store.documents() if m.author]
    letters = [m for m in metas if m.kind == "letter"] or metas
    if not letters:
        return "", settings.signatory_role or ""
    author = re.sub(r"\s*\([^)]*\)", "", max(letters, key=lambda m: (m.date, m.id)).author)
    name, _, role = author.partition(",")
    return name.strip(), settings.signatory_role or role.strip()


def _opening(letter: LetterPoints) -> str:
    of = f" of {format_date(letter.letter_date.isoformat())}" if letter.letter_date else ""
    about = f" about {as_quoted(letter.subject).rstrip('.')}" if letter.subject else ""  # the letter's "[3]" no reference
    return f"Thank you for your letter{of}{about}. I have set out below what the published papers say on each of the points you raised."


def _salutation(letter: LetterPoints) -> str:
    return f"Dear {as_quoted(letter.sender_first_name)}," if letter.sender_first_name else "Dear Sir or Madam,"


def reference_line(citation: Citation) -> str:
    """'1. Title, 1 September 2023: “verbatim quote”'."""
    return f"{citation.n}. {citation.title}, {format_date(citation.date)}: “{normalise_ws(citation.quote)}”"


def _recipient(letter: LetterPoints) -> str:
    """The reply's recipient block: the sender of the letter and their role, one per line."""
    return "  \n".join(as_quoted(line) for line in (letter.sender, letter.sender_role) if line)


def to_markdown(reply: DraftReply, references: bool = True) -> str:
    """The reply as Markdown: the date, the recipient, the letter (section headings in bold, as in the
    ministers' letters), then the numbered reference list unless the caller shows the sources beside it."""
    parts = [format_date(reply.reply_date.isoformat()), _recipient(reply.letter), _salutation(reply.letter), _opening(reply.letter)]
    for section in reply.sections:
        parts += [f"**{section.heading}**", section.text]
    parts += [CLOSING, "Yours sincerely,", reply.signatory_name or "[SIGNATORY — needs input]"]
    if reply.signatory_role:
        parts.append(reply.signatory_role)
    if references and reply.citations:
        parts += ["---", "**References**", "\n".join(reference_line(c) for c in reply.citations)]
    return "\n\n".join(part for part in parts if part) + "\n"


def check_letter(text: object, settings: Settings) -> str:
    """The letter's text, or a `LetterError` saying what is wrong with it."""
    if not isinstance(text, str):
        raise LetterError("the letter must be text")
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if not text.strip():
        raise LetterError("the letter is empty: paste or attach the letter you want to reply to")
    if len(text) > settings.max_letter_chars:
        raise LetterError(
            f"the letter is {len(text):,} characters; the limit is {settings.max_letter_chars:,}. "
            "Trim it to the part with the questions, or give the points yourself"
        )
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\n\t\f") + text.count(REPLACEMENT_CHAR)
    if "\x00" in text or controls > max(8, len(text) // 100):
        raise LetterError("the letter does not look like text (it holds binary data): paste the letter or give a .txt, .docx or .pdf file")
    return text


def letter_points(letter_text: str, points: list[str] | None, settings: Settings) -> LetterPoints:
    """The letter read for a reply, with the points to answer (those given, else those found in it),
    or a `LetterError` before any work starts: every point is searched and verified, so a reply
    answers at most `max_points` of them, none longer than a question may be."""
    text = check_letter(letter_text, settings)
    given = [normalise_ws(p) for p in points or [] if p and p.strip()]
    letter = split_letter(text, require_points=not given)
    if given:
        letter = letter.model_copy(update={"points": given})
    if len(letter.points) > settings.max_points:
        counted = f"{len(given)} points were given" if given else f"the letter makes {len(letter.points)} points (questions or requests)"
        raise LetterError(
            f"{counted}; one reply answers at most {settings.max_points} (ASKPFG_MAX_POINTS): "
            "choose the points to answer, or split the letter into more than one reply"
        )
    for point in letter.points:
        if len(point) > _POINT_CHARS:
            raise LetterError(
                f"a point is {len(point):,} characters; a point is one question or request of at most {_POINT_CHARS} characters: "
                f"shorten it or split it into separate points: “{point[:60]}…”"
            )
    return letter


@dataclass(frozen=True)
class DraftProgress:
    """Drafting has reached point `index` (from 1) of `total`."""

    index: int
    total: int
    point: str


def draft_stream(
    letter_text: str, pipeline: Pipeline, points: list[str] | None = None, *, today: dt.date | None = None
) -> Iterator[DraftProgress | DraftReply]:
    """Draft a cited reply to a letter, yielding progress before each point and then the `DraftReply`."""
    letter = letter_points(letter_text, points, pipeline.settings)
    numbering = _Numbering([])
    sections = []
    for index, point in enumerate(letter.points, start=1):
        yield DraftProgress(index, len(letter.points), point)
        sections.append(_section(point, pipeline, numbering))
    name, role = signatory(pipeline)
    reply = DraftReply(
        points=letter.points,
        reply_markdown="",
        citations=numbering.citations,
        not_covered=[q for s in sections for q in s.uncovered],
        letter=letter,
        sections=sections,
        reply_date=today or dt.date.today(),
        signatory_name=name,
        signatory_role=role,
    )
    reply.reply_markdown = to_markdown(reply)
    yield reply


def draft_reply(
    letter_text: str, pipeline: Pipeline, points: list[str] | None = None, *, today: dt.date | None = None
) -> DraftReply:
    """Draft a cited reply to a letter: its points (or the ones given), each answered from the papers."""
    *_, reply = draft_stream(letter_text, pipeline, points, today=today)
    assert isinstance(reply, DraftReply)
    return reply


BOLD = re.compile(r"\*\*([^\n]+)\*\*")  # a drafted reply's section heading, a paragraph of its own
_PLACEHOLDER = re.compile(r"(\[NOT COVERED BY THE PAPERS:[^\]]*\]|\[SIGNATORY — needs input\])")


def to_docx(reply: DraftReply, path: Path, letter_markdown: str | None = None) -> Path:
    """Write the reply as an A4 Word document: the letter (as drafted, or as edited: `letter_markdown`,
    the Markdown without references), its NOT COVERED placeholders highlighted, then the references.
    The document's author is the signatory."""
    import docx
    from docx.enum.text import WD_COLOR_INDEX
    from docx.shared import Mm

    document = docx.Document()
    page = document.sections[0]
    page.page_width, page.page_height = Mm(210), Mm(297)
    page.left_margin = page.right_margin = page.top_margin = page.bottom_margin = Mm(25)
    document.core_properties.author = reply.signatory_name or "askpfg"
    document.core_properties.title = f"Reply to {reply.letter.sender}" if reply.letter.sender else "Draft reply"
    text = to_markdown(reply, references=False) if letter_markdown is None else letter_markdown
    for part in (p.strip() for p in text.replace("\r\n", "\n").split("\n\n")):
        if not part:
            continue
        paragraph = document.add_paragraph()
        heading = BOLD.fullmatch(part)
        if heading:
            paragraph.add_run(heading.group(1)).bold = True
            continue
        for i, line in enumerate(line.rstrip() for line in part.split("\n")):
            if i:
                paragraph.add_run().add_break()
            for piece in _PLACEHOLDER.split(line.replace("\\[", "[").replace("\\]", "]")):
                if piece:
                    run = paragraph.add_run(piece)
                    if _PLACEHOLDER.fullmatch(piece):
                        run.bold = True
                        run.font.highlight_color = WD_COLOR_INDEX.YELLOW
    if reply.citations:
        document.add_page_break()
        document.add_heading("References", level=2)
        for citation in reply.citations:
            document.add_paragraph(reference_line(citation))
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    return path


# --- reading letter files ----------------------------------------------------------------------


def read_letter(path: Path) -> str:
    """The text of a letter file (.txt, .md, .docx, .pdf, or plain text under any name)."""
    if not path.is_file():
        raise LetterError(f"{path}: no such file")
    try:
        if path.suffix.lower() in (".pdf", ".docx", ".html", ".htm", ".txt", ".md"):
            return extract_text(path)
        raw = path.read_bytes()
    except CorpusError as exc:
        raise LetterError(str(exc)) from exc
    except OSError as exc:
        raise LetterError(f"{path}: could not be read: {exc.strerror}") from exc
    if b"\x00" in raw[:4096]:
        raise LetterError(f"{path}: looks like a binary file, not text: give a .txt, .docx or .pdf letter")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LetterError(f"{path}: is not UTF-8 text: save it as UTF-8 .txt, .docx or .pdf") from exc


def load_letter(path: Path, settings: Settings) -> str:
    """A letter file's text, checked like a pasted one; every error names the file."""
    text = read_letter(path)
    try:
        return check_letter(text, settings)
    except LetterError as exc:
        raise LetterError(f"{path}: {exc}") from exc
