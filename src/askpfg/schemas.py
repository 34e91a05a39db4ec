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


class Answer(BaseModel):
    """A verified answer: every factual sentence carries [n] markers that resolve to `citations`."""

    text: str
    citations: list[Citation] = []
    refused: bool = False
    standalone_question: str
    nearest_sources: list[Citation] = []
    mode: Literal["generated", "extractive", "refusal"] = "extractive"
    timings: Timings = Timings()


class AskRequest(BaseModel):
    """What the API and UI send to ask a question."""

    question: str
    history: list[Message] = []
    filters: Filters | None = None
