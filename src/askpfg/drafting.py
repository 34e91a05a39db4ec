"""Reply drafting (issue #6): split an incoming letter into its points, answer each point with the
grounded pipeline, and compose a cited reply in the house style of the corpus letters.

Nothing in a reply is invented: a point the papers do not answer becomes a visible placeholder,
`[NOT COVERED BY THE PAPERS: <point> — needs input]`, for a person to fill in.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from askpfg.answering import Pipeline
from askpfg.chunking import split_sentences
from askpfg.conversation import last_named_body, rule_condense
from askpfg.corpus import REPLACEMENT_CHAR, CorpusError, extract_text
from askpfg.question import ANAPHOR, content_stems
from askpfg.retrieval import Filters
from askpfg.schemas import Answer, AskError, Citation, Message
from askpfg.settings import Settings
from askpfg.verify import format_date, normalise_ws

CLOSING = "I hope you have found my reply helpful."

_SIGN_OFF = re.compile(
    r"^\s*(yours\s+(sincerely|faithfully|truly|ever)|kind(est)?\s+regards|best\s+wishes|with\s+(best|kind)\s+regards|"
    r"regards|cofion(\s+gorau)?|yn\s+gywir)\s*,?\s*$",
    re.IGNORECASE | re.MULTILINE,
)
_SALUTATION = re.compile(r"^\s*(dear|annwyl)\s+[^\n]{1,80}?,?\s*$", re.IGNORECASE | re.MULTILINE)
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
_REQUEST = re.compile(
    r"\?\s*$|"
    r"^(please|kindly)\b|,\s*please\b|"
    r"^(could|can|would|will)\s+(you|the\s+(welsh\s+)?government|officials)\b|"
    r"\b(i|we|the committee|members)\s+(would|should|will)\s+(be\s+grateful|appreciate|welcome|like\s+to\s+(know|understand|ask|see|receive))\b|"
    r"\b(i|we|the committee)\s+(ask|request|invite)\s+(that\s+)?you\b|"
    r"\b(i am|we are)\s+writing\s+to\s+(ask|request|enquire|inquire)\s+(whether|if|about|what|when|how|why|who|for)\b|"
    r"^(set out|provide|outline|explain|confirm|describe|clarify|share|send|tell us|let us know|update)\b",
    re.IGNORECASE,
)
_NOT_A_POINT = re.compile(
    r"\b(following|as follows|the points below|below)\s*[.:]\s*$|"
    r"\b(response|reply|respond|hear(ing)? from you|look forward|in due course)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r",?\s+(?:and|including)\s+(?=(?:who|when|where|which|what|how|whether|any)\b)", re.IGNORECASE)
_LABEL_MAX_WORDS = 7
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those)\b", re.IGNORECASE)
_GRATEFUL = r"(?:i|we)\s+(?:would|should)\s+be\s+grateful\s+if\s+you\s+(?:could|would)\s+"
_LEAD_IN = re.compile(
    rf"^(?:{_GRATEFUL}|(?:could|can|would)\s+you\s+|please\s+|kindly\s+)"
    r"(?:also\s+)?(?:please\s+)?(?:set\s+out|provide(?:\s+us\s+with)?|confirm|outline|explain|describe|clarify|tell\s+(?:us|me)|"
    r"let\s+(?:us|me)\s+know|say|share|give)?\s*",
    re.IGNORECASE,
)
_MARKER = re.compile(r"\[(\d+)\]")
_POLITE = re.compile(
    rf"^(?:{_GRATEFUL}|(?:could|can|would|will)\s+you\s+(?:please\s+)?|"
    r"please\s+|kindly\s+)(?:also\s+)?",
    re.IGNORECASE,
)
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
_MIN_PARAGRAPH_COVERAGE = 0.34
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
    return [s.text for s in split_sentences(re.sub(r"\s+", " ", text).strip())]


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
    is_label = len(sentences) > 1 and len(words) <= _LABEL_MAX_WORDS and first.endswith((".", ":")) and not _REQUEST.search(first)
    if is_label and not re.search(r"\b(is|are|was|were|has|have|had|will|refers?|referred|noted|said|says)\b", first, re.IGNORECASE):
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


def plain_question(sentence: str) -> str:
    """A request as the plain question it asks: 'Could you confirm what has happened to X?' ->
    'What has happened to X?'; 'I would be grateful if you could set out Y' -> 'Set out Y?'."""
    rest = _POLITE.sub("", _DISCOURSE.sub("", sentence.strip()), count=1)
    rest = _ASK_VERB.sub("", rest, count=1).strip(" ,.?")
    return rest[0].upper() + rest[1:] + "?" if rest else sentence


def sub_questions(point: str) -> list[str]:
    """A compound point as separate questions for retrieval: 'who chairs the Board and when it
    first met' -> ['who chairs the Board', 'when the Board first met']. A part whose 'it' or
    'that figure' names nothing earlier stays with the part before it."""
    sentences = _sentences(point)
    if not sentences:
        return [point]
    context, request = sentences[:-1], plain_question(sentences[-1])
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
        if first_block and not first_block.is_item and len(first_block.text) <= 160 and not re.search(r"[.?!]$", first_block.text):
            subject = first_block.text
    subject = re.sub(r"^(re|subject)\s*:\s*", "", subject, flags=re.IGNORECASE).strip()

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


def _renumbered(question: str, answer: Answer, numbering: _Numbering, shown: list[str]) -> list[str]:
    """The answer's paragraphs that bear on the question, with letter-wide [n] markers. A paragraph
    quoting a passage that shares too few of the question's words, or saying only what this
    section already says (a compound point's parts often share evidence), is left out."""
    by_n = {c.n: c for c in answer.citations}
    wanted = request_words(_request(question))
    paragraphs = []
    for paragraph in answer.text.split("\n\n"):
        cited = [by_n[int(n)] for n in _MARKER.findall(paragraph) if int(n) in by_n]
        words = set().union(*(_stems(f"{c.quote} {c.heading}") for c in cited))
        if not cited or (wanted and len(wanted & words) / len(wanted) < _MIN_PARAGRAPH_COVERAGE):
            continue
        said = normalise_ws(" ".join(shown))
        quotes = re.findall(r"“([^”]+)”", paragraph) or [_MARKER.sub("", paragraph)]
        if all(normalise_ws(q) in said for q in quotes):
            continue
        local = {c.n: numbering.number(c) for c in cited}
        text = _MARKER.sub(lambda m, local=local: f"[{local.get(int(m.group(1)), m.group(1))}]", paragraph.strip())
        shown.append(text)
        paragraphs.append(text)
    return paragraphs


def heading_for(point: str) -> str:
    """A section heading mirroring the point: its request sentence without the polite lead-in,
    after the sentences before it when the request names nothing ('When will it be held?')."""
    sentences = _sentences(point) or [point]
    sentence = sentences[-1]
    core = _LEAD_IN.sub("", _DISCOURSE.sub("", sentence)).strip()
    direct = core == sentence and _DIRECT.match(core)
    core = core.rstrip(" ?.")
    core = (core[0].upper() + core[1:] if core else sentence) + ("?" if direct else "")
    return " ".join(sentences) if len(sentences) > 1 and not _names(sentence) else core


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

    for question in questions:
        within = sibling_docs()
        if answer := (within and _answer_to(question, pipeline, within)) or _answer_to(question, pipeline):
            answers[question] = answer
    for question in questions:  # an earlier part may be found beside a later part's answer
        if question not in answers and (within := sibling_docs()) and (answer := _answer_to(question, pipeline, within)):
            answers[question] = answer
    shown: list[str] = []
    paragraphs = [p for q in questions if q in answers for p in _renumbered(q, answers[q], numbering, shown)]
    heading = heading_for(point)
    if not paragraphs:
        return DraftSection(point=point, heading=heading, text=placeholder(point), covered=False, uncovered=[point])
    uncovered = [q for q in questions if q not in answers]
    text = "\n\n".join([*paragraphs, *(placeholder(heading_for(q)) for q in uncovered)])
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
    about = f" about {letter.subject.rstrip('.')}" if letter.subject else ""
    return f"Thank you for your letter{of}{about}. I have set out below what the published papers say on each of the points you raised."


def _salutation(letter: LetterPoints) -> str:
    return f"Dear {letter.sender_first_name}," if letter.sender_first_name else "Dear Sir or Madam,"


def reference_line(citation: Citation) -> str:
    """'1. Title, 1 September 2023: “verbatim quote”'."""
    return f"{citation.n}. {citation.title}, {format_date(citation.date)}: “{normalise_ws(citation.quote)}”"


def to_markdown(reply: DraftReply, references: bool = True) -> str:
    """The reply as Markdown: the letter (section headings in bold, as in the ministers' letters),
    then the numbered reference list unless the caller shows the sources beside it."""
    parts = [format_date(reply.reply_date.isoformat()), _salutation(reply.letter), _opening(reply.letter)]
    for section in reply.sections:
        parts += [f"**{section.heading}**", section.text]
    parts += [CLOSING, "Yours sincerely,", reply.signatory_name or "[SIGNATORY — needs input]"]
    if reply.signatory_role:
        parts.append(reply.signatory_role)
    if references and reply.citations:
        parts += ["---", "**References**", "\n".join(reference_line(c) for c in reply.citations)]
    return "\n\n".join(parts) + "\n"


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
        if len(point) > settings.max_question_chars:
            raise LetterError(f"a point is {len(point):,} characters; the limit is {settings.max_question_chars:,}: shorten it")
    return letter


def draft_reply(
    letter_text: str, pipeline: Pipeline, points: list[str] | None = None, *, today: dt.date | None = None
) -> DraftReply:
    """Draft a cited reply to a letter: its points (or the ones given), each answered from the papers."""
    letter = letter_points(letter_text, points, pipeline.settings)
    numbering = _Numbering([])
    sections = [_section(point, pipeline, numbering) for point in letter.points]
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
    return reply


def to_docx(reply: DraftReply, path: Path) -> Path:
    """Write the reply as a Word document (same content as the Markdown)."""
    import docx

    document = docx.Document()
    for line in (format_date(reply.reply_date.isoformat()), _salutation(reply.letter), _opening(reply.letter)):
        document.add_paragraph(line)
    for section in reply.sections:
        document.add_heading(section.heading, level=2)
        for paragraph in section.text.split("\n\n"):
            document.add_paragraph(paragraph)
    for line in (CLOSING, "Yours sincerely,", reply.signatory_name or "[SIGNATORY — needs input]", reply.signatory_role):
        if line:
            document.add_paragraph(line)
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
