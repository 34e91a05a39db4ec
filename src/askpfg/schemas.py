"""Typed objects that pass between the answering stage and its callers (CLI, API, UI, evals)."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from typing import Literal, get_args

from pydantic import BaseModel, Field, model_validator
from pydantic_core import PydanticCustomError

from askpfg.retrieval import Filters
from askpfg.settings import Settings

TEXT_ERROR = "unclean_text"  # the validation error type of a request string that `clean_text` rejects
_TEXT_CONTROLS = "\t\n\r\v\f"  # the control characters that are text: a tab and line breaks
_AS_NEWLINE = str.maketrans(dict.fromkeys("\r\v\f", "\n"))
# What `clean_text` takes, said in the schema so that a client (or a fuzzer) can know it: no NUL or control
# character other than a tab and line breaks (a lone surrogate is not Unicode text, so no pattern can
# name it). Enforced by `clean_text`, whose 400 names the field. The patterns use only what ECMA, Python
# and Rust regular expressions share (no look-ahead), so every schema tool can generate from them.
_CONTROL = r"\u0000-\u0008\u000e-\u001f\u007f-\u009f"


def _char_class(keep: Callable[[str], bool]) -> str:
    """The characters `keep` accepts as the inside of a regex character class: ranges, with \\u and \\U escapes."""
    def escape(code: int) -> str:
        return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"

    ranges: list[list[int]] = []
    for code in range(0x110000):
        if keep(chr(code)):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1][1] = code
            else:
                ranges.append([code, code])
    return "".join(escape(a) if a == b else f"{escape(a)}-{escape(b)}" for a, b in ranges)


# what cleaning drops or stripping removes: format characters (zero-width spaces, BOMs, bidi controls) and white space
_INVISIBLE = _char_class(lambda ch: unicodedata.category(ch) == "Cf" or (ch.isspace() and unicodedata.category(ch) != "Cc") or ch in "\t\n\v\f\r")
TEXT = {"pattern": rf"^[^{_CONTROL}]*$"}
# `minLength: 1` and something visible, enforced after cleaning by the stage's own check, so that an
# empty question or letter (or one of only invisible characters) gets its 400 saying it is empty, not a 422
NON_EMPTY = {"minLength": 1, "pattern": rf"^[{_INVISIBLE}]*[^{_INVISIBLE}{_CONTROL}][^{_CONTROL}]*$"}


class AskError(ValueError):
    """A question or history the pipeline cannot take; the message says what to change."""


class TextError(AskError):
    """Text that no stage can take: a lone surrogate, NUL or another control character."""


def clean_text(text: str, what: str) -> str:
    """Text from outside as every stage takes it: line breaks (CR LF, CR, and the form feeds and line tabs
    of PDF and Word text) as "\\n", invisible format characters (zero-width spaces, byte-order marks,
    bidirectional controls) dropped, NFC. A lone surrogate, NUL or any other control character is a
    TextError naming `what` and where: the tokenizers, Chroma and the JSON encoder fail on them mid-answer."""
    for i, ch in enumerate(text):
        category = unicodedata.category(ch)
        if category == "Cs" or (category == "Cc" and ch not in _TEXT_CONTROLS):
            kind = "a lone surrogate" if category == "Cs" else "a NUL character" if ch == "\0" else "a control character"
            raise TextError(f"{what} holds {kind} (U+{ord(ch):04X}) at character {i + 1}; send it as plain Unicode text")
    text = text.replace("\r\n", "\n").translate(_AS_NEWLINE)
    return unicodedata.normalize("NFC", "".join(ch for ch in text if unicodedata.category(ch) != "Cf"))


def _model_in(annotation: object) -> type[BaseModel] | None:
    """The model a field holds ("list[Message] | None" holds Message), if any."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    return next((found for arg in get_args(annotation) if (found := _model_in(arg))), None)


def _cleaned(value: object, where: str, model: type[BaseModel] | None = None) -> object:
    """A JSON value with every string in it cleaned; `where` is its path in the body ("history[0].content").
    An object read as `model` keeps only the fields the model has (the model would ignore the others, so
    they are dropped unread, whatever they hold), unless the model keeps extra fields."""
    if isinstance(value, str):
        return clean_text(value, where or "the body")
    if isinstance(value, list):
        return [_cleaned(item, f"{where}[{i}]", model) for i, item in enumerate(value)]
    if isinstance(value, dict):
        cleaned = {}
        keeps_extra = model is None or model.model_config.get("extra") == "allow"
        for key, item in value.items():
            field = model.model_fields.get(key) if model is not None and isinstance(key, str) else None
            if field is None and not keeps_extra:
                continue
            name = key if field is not None else clean_text(key, f"a field name in {where or 'the body'}")
            cleaned[name] = _cleaned(item, f"{where}.{name}" if where else name, _model_in(field.annotation) if field else None)
        return cleaned
    return value


class CleanRequest(BaseModel):
    """A request body from outside: every string in it, however deep, passes `clean_text` first."""

    @model_validator(mode="before")
    @classmethod
    def _clean_strings(cls, data: object) -> object:
        try:
            return _cleaned(data, "", cls)
        except TextError as exc:
            raise PydanticCustomError(TEXT_ERROR, "{reason}", {"reason": str(exc)}) from None


class Message(BaseModel):
    """One turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000, json_schema_extra=TEXT)


class Citation(BaseModel):
    """A numbered reference: a verbatim quote and its exact span in a stored document."""

    n: int
    doc_id: str
    title: str
    date: str
    kind: str
    source: str
    heading: str = ""
    quote: str
    start: int
    end: int
    earlier: bool = Field(False, description="cited only for the earlier position a status answer compares with")


class Timings(BaseModel):
    """Milliseconds spent in each stage."""

    condense: float = 0.0
    retrieve: float = 0.0
    rerank: float = 0.0
    generate: float = 0.0
    total: float = 0.0


class TraceEvidence(BaseModel):
    """One sentence the answer considered: where it is, how it scored, whether it was used."""

    doc_id: str
    start: int
    end: int
    score: float
    dense: float
    lexical: float
    typed: bool
    used: bool


class TraceDraft(BaseModel):
    """One sentence the generator drafted and the verifier's verdict on it."""

    sentence: str
    cited: list[int]
    kept: bool
    reason: str = ""


class Trace(BaseModel):
    """How an answer was reached: the evidence considered, and each drafted sentence kept or dropped."""

    considered: list[TraceEvidence] = []
    drafted: list[TraceDraft] = []


RefusalReason = Literal[
    "no_evidence", "never_mentioned", "wrong_kind_of_fact", "foreign_numbers", "generator_declined",
    "filters_exclude_all", "welsh_unavailable",
]


class Answer(BaseModel):
    """A verified answer: every factual sentence carries [n] markers that resolve to `citations`."""

    text: str
    lead: str = Field("", description="the sentences that answer, each ending in its [n], without the quotes behind them")
    citations: list[Citation] = []
    refused: bool = False
    refusal_reason: RefusalReason | None = Field(None, description="why the papers were judged not to answer, when refused")
    standalone_question: str
    nearest_sources: list[Citation] = []
    mode: Literal["generated", "extractive", "refusal"] = "extractive"
    timings: Timings = Timings()
    trace: Trace = Trace()


class AskRequest(CleanRequest):
    """What the API and UI send to ask a question."""

    question: str = Field(json_schema_extra={**NON_EMPTY, "maxLength": Settings.model_fields["max_question_chars"].default})
    history: list[Message] = []
    filters: Filters | None = None
