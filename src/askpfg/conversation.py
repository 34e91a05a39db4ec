"""Conversation stage: turn a follow-up ("When did it first meet?") into a standalone question.

The model rewrites the question; a rule resolves pronouns to the last named body in the history
and is used when the model is off, fails, or drops the body the rule found.
"""

from __future__ import annotations

import re
import time

from pydantic import TypeAdapter, ValidationError

from askpfg.models import ChatMessage, Generator, bounded_stream
from askpfg.question import (
    CALENDAR,
    CAPITALISED_RUN,
    NAME_JOINERS,
    STOPWORDS,
    content_stems,
    profile,
)
from askpfg.schemas import AskError, Message, clean_text
from askpfg.settings import Settings

_PRONOUN = re.compile(r"\b(it|its|it's|they|them|their|this|that|these|those|he|she|his|her)\b", re.I)
_UNRESOLVED = re.compile(r"\b(it|its|it's|they|them|their)\b", re.I)
_GENERIC = set(profile()["generic_names"])
_ROLE = re.compile(rf"\b({'|'.join(map(re.escape, profile()['roles']))})\b")
_HISTORY = TypeAdapter(list[Message])
CONDENSE_PROMPT = (
    "Rewrite the user's last question so it can be understood without the conversation: replace "
    "pronouns such as 'it' or 'they' with the thing they refer to. Reply with the rewritten question only."
)


def parse_history(history: object) -> list[Message]:
    """Validate history as a list of {role, content}, each content cleaned as at every boundary
    (`clean_text`); errors name the offending field."""
    if not (isinstance(history, list) and all(isinstance(m, Message) for m in history)):
        try:
            history = _HISTORY.validate_python(history)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"])
            raise AskError(f"history[{where}]: {error['msg']} (expected a list of {{role: user|assistant, content: text}})") from exc
    return [m.model_copy(update={"content": clean_text(m.content, f"history[{i}].content")}) for i, m in enumerate(history)]


_MEETS = re.compile(r"\b(chair\w*|meet|met|members?|represented|sits?|convened?)\b", re.I)


def named_bodies(history: list[Message]) -> list[str]:
    """Names of several capitalised words (programmes, boards, schemes), most recent message first."""
    found: list[str] = []
    for message in reversed(history):
        for run in CAPITALISED_RUN.findall(message.content):
            words = run.split()
            while words and (words[0].lower() in STOPWORDS or CALENDAR.fullmatch(words[0])):
                words.pop(0)  # a sentence's first word ("Since", "The"), a month
            while words and (words[-1] in NAME_JOINERS or CALENDAR.fullmatch(words[-1])):
                words.pop()  # a date after the name ("... Bill in May")
            name = " ".join(words)
            if len(words) > 1 and not set(words) <= _GENERIC and name not in found:
                found.append(name)
    return found


def last_named_body(history: list[Message], question: str = "") -> str | None:
    """The body a follow-up most likely means: a board or group when it asks who chairs or meets;
    for "it", a name that is not a person's role ("Dawn Bowden MS, the Minister for ...")."""
    found = named_bodies(history)
    if _MEETS.search(question):
        bodies = [n for n in found if n.split()[-1] in profile()["bodies"]]
        found = bodies or found
    pronoun = _PRONOUN.search(question)
    if pronoun and pronoun.group(0).lower() in ("it", "its", "it's"):  # a thing, not a person holding a role
        things = [n for n in found if not _ROLE.search(n)]
        found = things or found
    return found[0] if found else None


def rule_condense(question: str, history: list[Message]) -> str:
    """Replace the first pronoun with the last named body (possessives become 'the X's')."""
    body = last_named_body(history, question)
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
    if generator is None:
        return ruled
    transcript = "\n".join(f"{m.role}: {m.content[:600]}" for m in history[-4:])
    messages = [
        ChatMessage("system", CONDENSE_PROMPT),
        ChatMessage("user", f"Conversation:\n{transcript}\n\nLast question: {question}\nRewritten question:"),
    ]
    try:

        rewritten = "".join(bounded_stream(generator, messages, 60, time.monotonic() + 6)).strip().strip('"').splitlines()[0]
    except Exception:  # model failed or timed out: the rule's answer stands
        return ruled
    return rewritten if acceptable_rewrite(rewritten, question, history) else ruled


def acceptable_rewrite(rewritten: str, question: str, history: list[Message]) -> bool:
    """A model's rewrite stands only if it is still the same question, now naming a body from the history.

    Small models often answer the question, or repeat an earlier one, instead of rewriting it.
    """
    named = {n.lower() for n in named_bodies(history)}
    asked = content_stems(_PRONOUN.sub(" ", question))
    kept = content_stems(rewritten)
    return (
        5 < len(rewritten) <= 300
        and rewritten.rstrip().endswith("?")
        and not _UNRESOLVED.search(rewritten)
        and all(rewritten.strip().lower() != m.content.strip().lower() for m in history)
        and len(asked - kept) <= len(asked) // 3
        and (not named or any(n in rewritten.lower() for n in named))
    )
