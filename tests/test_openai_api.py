"""The OpenAI chat API (/v1) driven by the official `openai` client against a running `askpfg serve`:
grounded, cited answers, streamed or not; refusals are answers; bad conversations are 400s."""

from __future__ import annotations

import os
from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient
from servers import running_server

from askpfg.answering import Pipeline
from askpfg.api import create_app
from askpfg.index import IndexStore
from askpfg.settings import Settings
from askpfg.verify import quote_is_verbatim

QUESTION = [{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Who chairs the Oversight Board?"}]


@pytest.fixture(scope="module")
def client(store: IndexStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[openai.OpenAI]:
    """The `openai` client pointed at `askpfg serve` on a free loopback port, on the session's test index."""
    env = {**os.environ, "ASKPFG_INDEX_DIR": str(store.settings.index_dir)}
    with running_server(env, tmp_path_factory.mktemp("server") / "serve.log") as url:
        yield openai.OpenAI(base_url=f"{url}/v1", api_key="unused", timeout=120, max_retries=0)


def test_the_model_list_names_askpfg(client: openai.OpenAI) -> None:
    assert [m.id for m in client.models.list()] == ["askpfg"]


def test_a_completion_is_the_cited_answer_with_its_references(client: openai.OpenAI, pipeline: Pipeline) -> None:
    completion = client.chat.completions.create(model="askpfg", messages=QUESTION)
    content = completion.choices[0].message.content or ""
    assert "Anthony Douglas" in content and "[1]" in content and "\nReferences:\n1. " in content
    citations = completion.model_extra["citations"]
    assert citations and not completion.model_extra["refused"]
    for citation in citations:
        assert quote_is_verbatim(citation["quote"], pipeline.retriever.document(citation["doc_id"]).text)


def test_a_streamed_completion_sends_only_the_verified_answer_then_stops(client: openai.OpenAI) -> None:
    chunks = list(client.chat.completions.create(model="askpfg", messages=QUESTION, stream=True))
    text = "".join(c.choices[0].delta.content or "" for c in chunks)
    assert "Anthony Douglas" in text and "References:" in text
    assert chunks[-1].choices[0].finish_reason == "stop" and chunks[-1].model_extra["citations"]


def test_a_question_the_papers_do_not_answer_is_a_refusal_not_an_error(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(
        model="askpfg", messages=[{"role": "user", "content": "What will the school meals budget be in 2031?"}]
    )
    assert completion.model_extra["refused"] and "do not cover" in (completion.choices[0].message.content or "")


def test_a_conversation_not_ending_in_a_question_is_a_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError, match="last message must be the user's question"):
        client.chat.completions.create(model="askpfg", messages=[*QUESTION, {"role": "assistant", "content": "Hello"}])


def test_the_openai_api_needs_the_key_when_one_is_set(pipeline: Pipeline, settings: Settings) -> None:
    app = TestClient(create_app(pipeline, settings=settings.model_copy(update={"api_key": "s3cret"})))
    refused = app.get("/v1/models")
    assert refused.status_code == 401 and "Authorization: Bearer" in refused.json()["error"]["message"]  # OpenAI's error shape
    assert app.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
