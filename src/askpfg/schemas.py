"""Typed objects that pass between the answering stage and its callers (CLI, API, UI, evals)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from askpfg.retrieval import Filters


class AskError(ValueError):
    """A question or history the pipeline cannot take; the message says what to change."""


class Message(BaseModel):
    """One turn of a conversation."""

    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


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
    citations: list[Citation] = []
    refused: bool = False
    refusal_reason: RefusalReason | None = Field(None, description="why the papers were judged not to answer, when refused")
    standalone_question: str
    nearest_sources: list[Citation] = []
    mode: Literal["generated", "extractive", "refusal"] = "extractive"
    timings: Timings = Timings()
    trace: Trace = Trace()


class AskRequest(BaseModel):
    """What the API and UI send to ask a question."""

    question: str
    history: list[Message] = []
    filters: Filters | None = None
