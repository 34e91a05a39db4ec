"""Conversation stage: turn a follow-up ("When did it first meet?") into a standalone question.

The model rewrites the question; a rule resolves pronouns to the last named body in the history
and is used when the model is off, fails, or drops the body the rule found.
"""

from __future__ import annotations

import re
import time

from pydantic import TypeAdapter, ValidationError

from askpfg.models import ChatMessage, Generator
from askpfg.schemas import AskError, Message
from askpfg.settings import Settings

_PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those|he|she|his|her)\b", re.I)
_BODY_WORDS = (
    "Board|Group|Charter|Programme|Framework|Scheme|Summit|Fund|Bill|Committee|Service|Network|Commitment|"
    "Wales|Pilot|Plan|Report|Review|Declaration|Toolkit|Project|Orders?|Workstreams?|Courts?|Commissioner"
)
_NAMED = re.compile(
    rf"\b(?:the\s+)?((?:[A-Z][\w’'-]*\s+)(?:(?:of|for|and|on|the|to|[A-Z][\w’'-]*)\s+)*?(?:{_BODY_WORDS}))\b"
)
_HISTORY = TypeAdapter(list[Message])
CONDENSE_PROMPT = (
    "Rewrite the user's last question so it can be understood without the conversation: replace "
    "pronouns such as 'it' or 'they' with the thing they refer to. Reply with the rewritten question only."
)


def parse_history(history: object) -> list[Message]:
    """Validate history as a list of {role, content}; errors name the offending field."""
    if isinstance(history, list) and all(isinstance(m, Message) for m in history):
        return history
    try:
        return _HISTORY.validate_python(history)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise AskError(f"history[{where}]: {error['msg']} (expected a list of {{role: user|assistant, content: text}})") from exc


def last_named_body(history: list[Message]) -> str | None:
    """The most recently named programme, board, body or scheme in the conversation."""
    for message in reversed(history):
        found = _NAMED.findall(message.content)
        if found:
            return found[-1] if message.role == "assistant" else found[0]
    return None


def rule_condense(question: str, history: list[Message]) -> str:
    """Replace the first pronoun with the last named body (possessives become 'the X's')."""
    body = last_named_body(history)
    if not body:
        return question

    def swap(match: re.Match) -> str:
        word = match.group(0).lower()
        if word in ("its", "their", "his", "her"):
            return f"the {body}'s"
        return f"the {body}"

    return _PRONOUN.sub(swap, question, count=1)


def needs_condensing(question: str, history: list[Message]) -> bool:
    return bool(history) and bool(_PRONOUN.search(question))


def condense_question(question: str, history: list[Message], generator: Generator | None, settings: Settings) -> str:
    """A standalone form of the question (unchanged when it is not a follow-up)."""
    if not needs_condensing(question, history):
        return question
    ruled = rule_condense(question, history)
    body = last_named_body(history)
    if generator is None:
        return ruled
    transcript = "\n".join(f"{m.role}: {m.content[:600]}" for m in history[-4:])
    messages = [
        ChatMessage("system", CONDENSE_PROMPT),
        ChatMessage("user", f"Conversation:\n{transcript}\n\nLast question: {question}\nRewritten question:"),
    ]
    try:
        rewritten = "".join(generator.stream(messages, 60, time.monotonic() + 8)).strip().strip('"').splitlines()[0]
    except Exception:  # model failed or timed out: the rule's answer stands
        return ruled
    acceptable = 5 < len(rewritten) <= 300 and (body is None or body.lower() in rewritten.lower())
    return rewritten if acceptable else ruled
