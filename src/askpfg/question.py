"""Question analysis: what a question asks for and about, read from its words.

The kind of fact asked for (a date for "when", a sum for "how much funding", a person for "who"),
the names it uses, the thing a "which X" question asks for, the noun a "how many" question counts.
The patterns state general English and question-answering knowledge; the place names, kinds of
body and roles of Welsh public administration come from `corpus/profile.yaml`.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

import yaml

PROFILE_FILE = Path(__file__).resolve().parents[2] / "corpus" / "profile.yaml"


@lru_cache(maxsize=1)
def profile() -> dict[str, list[str]]:
    """The domain profile: places, kinds of body, roles and generic names (read once)."""
    return yaml.safe_load(PROFILE_FILE.read_text(encoding="utf-8"))


def _alternatives(names: list[str]) -> str:
    """Names as one regex alternation; words of a name may be joined by spaces or hyphens."""
    return "|".join(r"[\s-]+".join(map(re.escape, n.split())) for n in sorted(names, key=len, reverse=True))


STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be been before being below between both
    but by can could did do does doing down during each few for from further had has have having he her here
    hers him his how i if in into is it its itself just me more most my no nor not now of off on once only or
    other our out over own same she should so some such than that the their theirs them then there these they
    this those through to too under until up very was we were what when where which while who whom why will
    with would you your yours since tell give say said does did papers paper letter many much exactly date day
    anything""".split()
) | {w.lower() for w in profile()["generic_names"]}
_BODIES = _alternatives(profile()["bodies"])
NAME_JOINERS = ("and", "of", "for", "the", "&", "in", "on")  # the small words inside a name ("Department for Education")
_JOIN = "|".join(map(re.escape, NAME_JOINERS))
_COUNT = r"(\d[\d,.]*|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\w+teen|twenty|thirty|forty|fifty|\w+ hundred)"
MONTHS = "January|February|March|April|May|June|July|August|September|October|November|December"
CALENDAR = re.compile(rf"{MONTHS}|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday|Spring|Summer|Autumn|Winter")
ANSWER_TYPES: dict[str, tuple[re.Pattern, re.Pattern]] = {
    "money": (
        re.compile(
            r"\bhow much (\w+ )*?(money|funding)\b|\bhow much (does|did|do|will|has|have|had|was|were|is)\b.{0,80}?"
            r"\b(cost|fund(ed|ing)?|invest(ed)?|allocated|receive[sd]?|paid|pay|spen(d|t|ding)|provided?|give|gave|assign(ed)?)\b"
            r"|\bwhat (\w+ )?(rate|amount|budget|tariff|allowance)\b|\b(weekly|monthly|annual) rate\b|\bwhat did\b.{0,80}?\bcost\b",
            re.I,
        ),
        re.compile(r"£\s?\d|\b\d[\d,.]*\s?(million|billion|bn|m|k)\b|\bpounds\b", re.I),
    ),
    "proportion": (
        re.compile(r"\bwhat (proportion|percentage|share|fraction)\b|\bwhat per ?cent\b|\bhow many per ?cent\b", re.I),
        # a percentage, a fraction in words, or "N in/out of M"
        re.compile(
            r"\d(?:[\d.]*)\s?(?:%|per ?cent)|\b(half|thirds?|quarters?|fifths?|tenths?|majority|minority|all but)\b"
            r"|\b\d+ (?:in|out of) (?:every )?\d+\b",
            re.I,
        ),
    ),
    "number": (
        re.compile(r"\b(how (many|much)|what (rate|amount|budget|tariff)|number of|cost)\b", re.I),
        # A quantity, not a year or a day of the month.
        re.compile(
            rf"£|\b(?!(?:19|20)\d\d\b)\d[\d,.]*\b(?!(?:st|nd|rd|th)?\s+(?:{MONTHS}))"
            r"|\b(one|two|three|four|five|six|seven|eight|nine|ten|twelve|twenty|fifty|hundred|million)\b",
            re.I,
        ),
    ),
    "date": (
        re.compile(r"(?:^|[.!?]\s+)(when|since when|by when)\b|\bwhat (date|year|month)\b|\bby what date\b", re.I),
        # a month, season, year or day of the month; or "today"/"yesterday", dated by the paper itself
        re.compile(rf"\b((?-i:{MONTHS})|Spring|Summer|Autumn|Winter|(19|20)\d\d|today|yesterday)\b|\b\d{{1,2}}(st|nd|rd|th)\b", re.I),
    ),
    "chair": (
        re.compile(r"\bwho (chairs|chaired|leads|led|heads|headed)\b", re.I),
        re.compile(r"\b(chair(s|ed|ing|man|woman|person)?|led by|leads?|head(ed|s)? by)\b", re.I),
    ),
    "locality": (
        re.compile(r"\bwhich (\w+ )?(local authorit(y|ies)|councils?|regions?|towns?|cit(y|ies)|count(y|ies))\b", re.I),
        re.compile(rf"\b({_alternatives(profile()['places'])})\b"),  # the profile's authorities, regions, towns
    ),
    "place": (
        re.compile(r"(?:^|[.!?]\s+)where\b", re.I),
        # a place's or a document's name: a capitalised word past a sentence's start that is no generic name
        re.compile(rf"(?<![.!?]\s)(?<!^)\b(?!(?:{_alternatives(profile()['generic_names'])})\b)[A-Z][a-z]{{2,}}\b"),
    ),
    "organisation": (
        # bodies asked for by kind ("Which charity ...", "Which organisations ..."); "which bodies" is often
        # answered with kinds of body ("health boards"), so only "body" stays singular
        re.compile(
            r"\b(which|what) (\w+ )?(organi[sz]ations?|body|charit(y|ies)|agenc(y|ies)|compan(y|ies)|providers?|universit(y|ies))\b",
            re.I,
        ),
        # a name of two or more capitalised words ("Cardiff University", "Voices From Care Cymru"), or an acronym
        re.compile(rf"[A-Z][\w'’-]+(?:\s+(?:(?:{_JOIN})\s+)?[A-Z][\w'’-]+)+|\b[A-Z]{{2,}}\b"),
    ),
    "person": (
        re.compile(r"(?:^|[.!?]\s+)who\b|\bwho (is|was)\b|\bwhich (\w+ )?(figure|person|individual|official)\b", re.I),
        # A name ("Albert Heaney", "Family Justice Network") or a role; a body ("Implementation Group") is no answer.
        re.compile(
            rf"(?<![.!?]\s)(?<!^)\b[A-Z][a-z]+ (?!(?:{_BODIES})\b)[A-Z][a-z]+\b"
            rf"|\b({_alternatives(profile()['roles'])})\b"
        ),
    ),
}


# Words that ask for the position as it stands now, or for how it changed
LATEST = re.compile(
    r"\b(latest|current(ly)?|now|still|status|so far|most recent|chang\w*|yet|today|actually|originally|"
    r"eventually|updated?|as of|by (19|20)\d\d)\b",
    re.I,
)


def about_now(question: str) -> bool:
    """Whether a question asks for the position as it now stands ("latest", "still", "yet", "so far").
    A figure asked for without a time is not taken so: most such questions ask about one moment
    ("How many carers applied in the first week?"), and leading with a later paper lost answers."""
    return bool(LATEST.search(question))


_TOTAL = re.compile(r"\b(altogether|in total|total|overall|in all|combined|cumulative(ly)?)\b", re.I)
_RATE = re.compile(
    r"£\s?\d[\d,.]*\s?(?:million|billion|bn|m|k)?(?:\s*\([^)]*\))?,?\s+(?:\w+\s+){0,2}?(?:per|a|an|each|every)\s+"
    r"(?:week|month|year|annum|day|hour|night|child|person|young person|carer|placement)\b",
    re.I,
)
_UNTYPED = re.compile(r"\b(why|how)\b(?!\s+(many|much|long|often|old)\b)", re.I)


def answer_type(question: str) -> str | None:
    """What kind of fact the question asks for (money, number, date, person, ...), if it says; the
    question word that comes first decides ("Who is working on ... how many children ...?" asks for a person)."""
    found = [(m.start(), name) for name, (asks, _) in ANSWER_TYPES.items() if (m := asks.search(question))]
    untyped = _UNTYPED.search(question)  # "Why could it not say which councils ...?" asks for a reason
    if untyped:
        found.append((untyped.start(), None))
    return min(found, key=lambda f: f[0])[1] if found else None


def has_answer_type(kind: str | None, text: str, question: str = "") -> bool:
    """Whether a sentence contains the kind of fact asked for; for a person, one the question does not name."""
    if kind is None:
        return True
    if kind == "chair":  # a chair's or leader's name, said to chair or lead
        return bool(ANSWER_TYPES["chair"][1].search(text)) and bool(ANSWER_TYPES["person"][1].search(_unasked(text, question)))
    if kind == "person":  # someone, or a body: "Who funds the helpline?" is answered by "the Department for Education"
        return bool(ANSWER_TYPES["person"][1].search(_unasked(text, question))) or has_answer_type("organisation", text, question)
    if kind == "organisation":  # a name with a word the question does not use, and not "Welsh Government"
        asked = _words(question) | STOPWORDS  # generic names are stopwords
        return any(_words(m.group(0)) - asked for m in ANSWER_TYPES[kind][1].finditer(text))
    if kind in ("place", "locality"):
        text = _unasked(text, question)
    else:  # "Funding was agreed from April 2022. When did roll-out commence?": April 2022 is no answer
        given = {m.group(0) for m in ANSWER_TYPES[kind][1].finditer(question)}
        text = ANSWER_TYPES[kind][1].sub(lambda m: "x" if m.group(0) in given else m.group(0), text)
    if kind == "money" and _TOTAL.search(question):  # a total is not a rate: "£1,600 a month" does not say what it cost in all
        text = _RATE.sub("x", text)
    counted = counted_noun(question) if kind == "number" else None
    if counted:  # "How many foster carers ...?" needs "N foster carers", not "22 local authorities"
        # a number of them, not a year or a day of the month ("on 10 September between care leavers")
        return bool(re.search(rf"\b(?!(?:19|20)\d\d\b){_COUNT}(?!\s+(?:{MONTHS})\b)\s+(\S+\s+){{0,3}}?{counted}", text, re.I))
    return bool(ANSWER_TYPES[kind][1].search(text))


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def _unasked(text: str, question: str) -> str:
    """The text with the capitalised words the question uses blanked out: what it names is no answer."""
    asked = _words(question)
    return re.sub(r"\b[A-Z][A-Za-z]+\b", lambda m: "x" if m.group(0).lower() in asked else m.group(0), text)


def counted_noun(question: str) -> str | None:
    """The stem of what a "how many" question counts: "How many new standards of practice" -> "standard",
    "How many of the pilots" -> "pilot", "The number of schools visited" -> "school" (leading: not "why, given the number of ...")."""
    asks = r"\bhow many|^(?:what (?:is|was|are|were) )?(?:the |a )?(?:total )?number of"  # "the number of" asks only when it leads
    match = re.search(rf"(?:{asks}) (?:(?:of )?(?:the|these|those|its|their|our) )?((?:[\w-]+ ?){{1,2}})", question.strip(), re.I)
    if not match:
        return None
    words = []
    for word in match.group(1).lower().split():
        if word in STOPWORDS:
            break
        words.append(word)
    plural = [w for w in words if w.endswith("s") or w in ("children", "people", "staff")]
    head = plural[-1] if plural else words[0] if words else ""
    return _stemmer().stemWord(head) if head else None


ANAPHOR = re.compile(r"^(It|Its|This|These|They|Their|Them|He|She|His|Her|Those|Such)\b")  # a sentence leaning on the one before
NAME_WORD = re.compile(r"(?<=[\w,][ '’(])[A-Z][A-Za-z+]+")
_ASKED_THING = re.compile(
    r"\b(?:which|what)\s+(?!(?:the|a|an|is|are|was|were|will|would|did|does|do|has|have|had|can|could|should)\b)"
    r"((?:[\w-]+\s+){0,3}?)([a-z][\w-]+)\s+(?:is|are|was|were|did|does|do|has|have|had|will|would|can|could|from|of|for|in|on|under|to|that|per)\b",
    re.I,
)
# Things too vague to look for ("What help is funded ..."), and kinds of named thing whose answer is
# a name rather than the word ("What body ..." -> "Director's Board").
_VAGUE_THINGS = frozenset(
    "help support work action step progress way thing kind type role differ chang bodi organis organ group person figur individu agenc chariti".split()
)


def asked_thing(question: str) -> str | None:
    """The stem of the thing a 'which/what X ...' question asks for ("Which subgroups have ..." -> 'subgroup')."""
    match = _ASKED_THING.search(question)
    stems = content_stems(match.group(2)) - _VAGUE_THINGS if match else set()
    return next(iter(stems), None)


def proper_names(question: str) -> set[str]:
    """The capitalised words a question uses past its first word, months and days aside: the names
    of what it asks about."""
    return {w for w in NAME_WORD.findall(question) if w.lower() not in STOPWORDS and not CALENDAR.fullmatch(w)}


# a name may hold a bracketed word: "Health and Social Care (Wales) Bill"
CAPITALISED_RUN = re.compile(rf"[A-Z][\w'’-]*(?:,?\s+(?:(?:{_JOIN})\s+)?\(?[A-Z][\w'’-]*\)?)+")


def name_runs(question: str) -> list[list[str]]:
    """The names of two or more words a question uses, each as its words less stopwords, generic names and
    months: "When did the Kinship Care Review Panel meet?" -> [['Kinship', 'Care', 'Review', 'Panel']]."""
    runs = []
    for run in CAPITALISED_RUN.findall(question):
        words = [re.sub(r"['’]s$", "", w) for w in re.findall(r"[\w'’-]+", run)]
        words = [w for w in words if w.lower() not in STOPWORDS and not CALENDAR.fullmatch(w)]
        if len(words) >= 2:
            runs.append(words)
    return runs


def initialisms(text: str) -> set[str]:
    """The initials of each run of capitalised words, lower-cased: "Children, Young People and
    Education Committee" -> 'cypec' (an acronym is any stretch of them)."""
    return {"".join(w[0] for w in re.findall(r"[A-Z][\w'’-]*", run)).lower() for run in CAPITALISED_RUN.findall(text)}


def word_stems(text: str) -> set[str]:
    """The stems of every word of a text, lower-cased, hyphenated words taken apart and joined
    ("Co-ordination" -> {'co', 'ordin', 'coordin'})."""
    lowered = text.lower()
    joined = [w.replace("-", "") for w in re.findall(r"[a-z]+(?:-[a-z]+)+", lowered)]
    return set(_stemmer().stemWords(re.findall(r"[a-z]+", lowered) + joined))


@lru_cache(maxsize=1)
def _stemmer():
    import Stemmer

    return Stemmer.Stemmer("english")


def content_stems(text: str) -> set[str]:
    """Stemmed content words (and numbers) of a text."""
    words: list[str] = []
    for word in re.findall(r"[A-Za-z][A-Za-z'’-]*|\d+(?:\.\d+)?", text.lower()):
        word = word.strip("'’-")
        parts = [word.replace("-", ""), *word.split("-")] if "-" in word else [word]
        words += [w for w in parts if w not in STOPWORDS and len(w) > 1]
    return set(_stemmer().stemWords(words))


