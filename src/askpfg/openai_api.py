"""The OpenAI chat API over the grounded pipeline, so any OpenAI-compatible chat client (Open WebUI,
an editor's chat panel, the `openai` package) can ask askpfg: `POST /v1/chat/completions` and
`GET /v1/models`.

The conversation's last user message is the question and the earlier user and assistant messages
its history; system messages are the client's, not instructions askpfg follows. The reply is the
verified answer with its references as a numbered list at the end, and the structured citations in
an extra `citations` field. A refusal is an answer too. Streaming sends only verified text: the
answer arrives whole once checked, since a client cannot take back a drafted sentence the verifier
drops.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from askpfg.answering import Pipeline
from askpfg.drafting import reference_line
from askpfg.retrieval import Filters
from askpfg.schemas import Answer, AskError, Citation, CleanRequest, Message

MODEL_ID = "askpfg"


class ContentPart(BaseModel):
    """One part of a message's content; only text parts carry anything askpfg reads."""

    model_config = ConfigDict(extra="ignore")
    type: str
    text: str = ""


class ChatMessageIn(BaseModel):
    """A message as OpenAI clients send it: its content a string or a list of parts."""

    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "\n".join(part.text for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(CleanRequest):
    """`POST /v1/chat/completions`: OpenAI's fields (those askpfg has no use for, such as temperature,
    are accepted and ignored), plus askpfg's optional `filters`."""

    model_config = ConfigDict(extra="ignore")
    model: str = MODEL_ID
    messages: list[ChatMessageIn] = Field(min_length=1)
    stream: bool = False
    filters: Filters | None = None


def conversation(messages: list[ChatMessageIn]) -> tuple[str, list[Message]]:
    """The question (the last message, which must be the user's) and the history before it."""
    if messages[-1].role != "user" or not messages[-1].text().strip():
        raise AskError("the last message must be the user's question (role 'user', with text)")
    history = [Message(role=m.role, content=m.text()) for m in messages[:-1] if m.role in ("user", "assistant") and m.text().strip()]
    return messages[-1].text(), history


def reference_list(citations: list[Citation]) -> str:
    """'References:' and one numbered line per citation, as a drafted reply lists them."""
    return "References:\n" + "\n".join(reference_line(c) for c in citations) if citations else ""


def message_text(answer: Answer) -> str:
    """The assistant message: the answer, then its references (for a refusal, the nearest passages)."""
    references = reference_list(answer.citations or answer.nearest_sources)
    return f"{answer.text}\n\n{references}" if references else answer.text


def _extras(answer: Answer) -> dict:
    return {
        "citations": [c.model_dump() for c in answer.citations],
        "refused": answer.refused,
        "refusal_reason": answer.refusal_reason,
    }


def _completion(model: str, answer: Answer) -> dict:
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": message_text(answer)}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
        **_extras(answer),
    }


def _chunk(completion_id: str, model: str, delta: dict, finish: str | None = None, extra: dict | None = None) -> str:
    body = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **(extra or {}),
    }
    return f"data: {json.dumps(body)}\n\n"


class OpenAIErrorDetail(BaseModel):
    message: str
    type: str
    code: int


class OpenAIError(BaseModel):
    """Every error under /v1, in OpenAI's shape, which OpenAI clients show their users."""

    error: OpenAIErrorDetail


ERRORS = {code: {"model": OpenAIError} for code in (401, 413, 503)}
BODY_ERRORS = {**ERRORS, **{code: {"model": OpenAIError} for code in (400, 415, 422)}}


def openai_router(pipeline: Callable[[], Pipeline], dependencies: list) -> APIRouter:
    """The /v1 routes on the pipeline that `pipeline()` returns once it is loaded."""
    router = APIRouter(prefix="/v1", tags=["openai-compatible"])

    @router.get("/models", responses=ERRORS)
    async def models() -> dict:
        """The one model askpfg offers: the grounded pipeline."""
        return {"object": "list", "data": [{"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "askpfg"}]}

    @router.post("/chat/completions", dependencies=dependencies, response_model=None, responses=BODY_ERRORS)
    async def chat_completions(request: ChatCompletionRequest) -> dict | StreamingResponse:
        """An OpenAI chat completion whose content is askpfg's verified, cited answer."""
        pipe = pipeline()
        question, history = conversation(request.messages)
        pipe.validate_question(question)  # a 400 now, not an error in the stream later
        if not request.stream:
            answer = await run_in_threadpool(pipe.answer, question, history, request.filters)
            return _completion(request.model, answer)
        items = pipe.stream(question, history, request.filters)
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"

        async def events() -> AsyncIterator[str]:
            yield _chunk(completion_id, request.model, {"role": "assistant", "content": ""})
            try:
                async for item in iterate_in_threadpool(items):
                    if isinstance(item, Answer):
                        yield _chunk(completion_id, request.model, {"content": message_text(item)})
                        yield _chunk(completion_id, request.model, {}, "stop", _extras(item))
            finally:
                items.close()  # releases the generator's lock if the client went away mid-answer
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    return router
