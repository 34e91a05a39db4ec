"""The HTTP API on the real pipeline: answers, streaming, every error path, auth, readiness, concurrency."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from askpfg import api
from askpfg.answering import Pipeline
from askpfg.api import create_app
from askpfg.models import EMBEDDING_NAME
from askpfg.schemas import Answer
from askpfg.settings import Settings

QUESTION = "Who chairs the Oversight Board?"


@pytest.fixture(scope="module")
def client(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline)) as test_client:
        yield test_client


def assert_error(response, status: int) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"] and body["detail"]
    return body


def sse_events(text: str) -> list[tuple[str, dict]]:
    events = []
    for block in text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines())
        events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_ask_answers_with_citations_quoted_verbatim_from_documents(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": QUESTION, "history": [], "filters": None})
    assert response.status_code == 200, response.text
    answer = Answer.model_validate(response.json())
    assert "Anthony Douglas" in answer.text and not answer.refused
    assert answer.citations
    for citation in answer.citations:
        assert f"[{citation.n}]" in answer.text
        doc = client.get(f"/api/documents/{citation.doc_id}")
        assert doc.status_code == 200
        text = doc.json()["text"]
        assert citation.quote in text
        assert text[citation.start : citation.end] == citation.quote


def test_stream_sends_deltas_then_one_final_answer(client: TestClient) -> None:
    body = {"question": "What is the programme budget for the Transformation Programme for children's services?"}
    with client.stream("POST", "/api/ask/stream", json=body) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        events = sse_events(response.read().decode())
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer" and kinds.count("answer") == 1
    assert "delta" in kinds and set(kinds) == {"delta", "answer"}
    assert "".join(data["text"] for kind, data in events if kind == "delta").strip()
    answer = Answer.model_validate(events[-1][1])
    assert "70" in answer.text and answer.citations


@pytest.mark.parametrize("question", ["", "   \n "])
def test_empty_question_is_400(client: TestClient, question: str) -> None:
    assert "empty" in assert_error(client.post("/api/ask", json={"question": question}), 400)["detail"]
    assert_error(client.post("/api/ask/stream", json={"question": question}), 400)


def test_too_long_question_is_400(client: TestClient, settings: Settings) -> None:
    question = "Who chairs the board? " * (settings.max_question_chars // 20)
    assert "limit" in assert_error(client.post("/api/ask", json={"question": question}), 400)["detail"]


@pytest.mark.parametrize(
    "body",
    [
        {"question": 5},
        {},
        {"question": "Who?", "history": [{"role": "system", "content": "x"}]},
        {"question": "Who?", "history": "not a list"},
        {"question": "Who?", "filters": {"kinds": ["memo"]}},
        {"question": "Who?", "filters": {"since": "last year"}},
    ],
)
def test_schema_errors_are_422_with_the_field_named(client: TestClient, body: dict) -> None:
    detail = assert_error(client.post("/api/ask", json=body), 422)["detail"]
    assert any(field in detail for field in ("question", "history", "filters"))


@pytest.mark.parametrize(
    ("content", "content_type", "status"),
    [(b"{not json", "application/json", 422), (b"question=Who", "text/plain", 415), (b"\xff\xfe\x00", "application/json", 400)],
)
def test_malformed_bodies_are_client_errors(client: TestClient, content: bytes, content_type: str, status: int) -> None:
    assert_error(client.post("/api/ask", content=content, headers={"Content-Type": content_type}), status)


def test_documents_list_and_unknown_document(client: TestClient, store) -> None:
    listed = client.get("/api/documents").json()
    assert [d["id"] for d in listed] == [m.id for m in store.documents()]
    assert all({"title", "date", "kind", "author", "recipient"} <= set(d) for d in listed)
    assert "GET /api/documents" in assert_error(client.get("/api/documents/no-such-document"), 404)["detail"]
    assert_error(client.get("/api/no-such-endpoint"), 404)
    assert "POST" in assert_error(client.get("/api/ask"), 405)["detail"]


def test_body_over_the_limit_is_413_by_header_and_by_actual_size(client: TestClient, settings: Settings) -> None:
    huge = {"question": "x" * (settings.max_body_bytes + 100)}
    assert_error(client.post("/api/ask", json=huge), 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the real size must be counted
        yield b'{"question": "'
        for _ in range(settings.max_body_bytes // 1000 + 2):
            yield b"x" * 1000
        yield b'"}'

    assert_error(client.post("/api/ask", content=chunks(), headers={"Content-Type": "application/json"}), 413)


def test_health_reports_what_is_loaded(client: TestClient, store, pipeline: Pipeline) -> None:
    health = client.get("/api/health").json()
    assert health["ready"] is True
    assert health["documents"] == len(store.documents()) and health["chunks"] == store.chunk_count() > 0
    assert health["embedding_model"] == EMBEDDING_NAME
    assert health["generator"] == (pipeline.generator.name if pipeline.generator else None)


def test_openapi_documents_typed_endpoints(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert {"/api/ask", "/api/ask/stream", "/api/documents", "/api/documents/{doc_id}", "/api/health"} <= set(schema["paths"])
    assert {"AskRequest", "Answer", "Citation", "ErrorBody", "Health"} <= set(schema["components"]["schemas"])
    assert client.get("/docs").status_code == 200


def test_api_key_guards_the_api_from_remote_and_local_clients(pipeline: Pipeline, settings: Settings) -> None:
    app = create_app(pipeline, settings=settings.model_copy(update={"api_key": "s3cret"}))
    with TestClient(app) as remote:
        assert_error(remote.get("/api/health"), 401)
        assert_error(remote.get("/api/health", headers={"Authorization": "Bearer wrong"}), 401)
        assert_error(remote.post("/api/ask", json={"question": QUESTION}), 401)
        assert remote.get("/api/health", headers={"Authorization": "Bearer s3cret"}).json()["ready"]
        assert remote.get("/openapi.json").status_code == 200
    with TestClient(app, client=("127.0.0.1", 50000)) as local:
        assert_error(local.get("/api/documents"), 401)


def test_503_until_the_pipeline_is_loaded(monkeypatch: pytest.MonkeyPatch, pipeline: Pipeline, settings: Settings) -> None:
    release = threading.Event()

    def slow_pipeline() -> Pipeline:
        release.wait(30)
        return pipeline

    monkeypatch.setattr(api, "get_pipeline", slow_pipeline)
    with TestClient(create_app(settings=settings)) as client:
        health = client.get("/api/health").json()
        assert health["ready"] is False and health["detail"]
        assert "retry" in assert_error(client.post("/api/ask", json={"question": QUESTION}), 503)["detail"]
        assert_error(client.get("/api/documents"), 503)
        release.set()
        for _ in range(100):
            if client.get("/api/health").json()["ready"]:
                break
            threading.Event().wait(0.1)
        assert client.get("/api/documents").status_code == 200


def test_eight_concurrent_clients_share_the_pipeline(client: TestClient, pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight requests at once through the one shared pipeline: retrieval runs in parallel and the
    generator's lock serialises model calls. Drafts are cut to a few tokens (so the answers are the
    verified extractive ones) to keep eight serialised model calls affordable on two cores."""
    monkeypatch.setattr(pipeline.settings, "llm_max_tokens", 4)
    cases = [
        (QUESTION, "Anthony Douglas"),
        ("When was the first meeting of the Oversight Board due to take place?", "19 January"),
        ("Since when have care leavers in Wales been exempt from paying Council Tax?", "April 2019"),
        ("What is the programme budget for the Transformation Programme for children's services?", "70"),
    ] * 2

    def ask(case: tuple[str, str]) -> tuple[int, dict, str]:
        response = client.post("/api/ask", json={"question": case[0]})
        return response.status_code, response.json(), case[1]

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(ask, cases))
    for status, body, expected in results:
        assert status == 200, body
        assert expected in body["text"] and body["citations"], body["text"]


def test_draft_endpoint_returns_a_cited_reply_and_flags_what_the_papers_do_not_cover(client: TestClient):
    letter = (
        "Dear Julie,\n\nThank you for your recent update.\n\n1. Who chairs the Oversight Board?\n"
        "2. How many foster carers were approved in Wales in March 2023?\n\nYours sincerely,\n\nGareth Llewellyn MS\n"
    )
    response = client.post("/api/draft", json={"letter": letter})
    assert response.status_code == 200, response.text
    body = response.json()
    assert len(body["points"]) == 2
    assert "Dear Gareth" in body["reply_markdown"] and "Anthony Douglas" in body["reply_markdown"]
    assert body["citations"] and body["not_covered"]


def test_draft_endpoint_rejects_an_empty_letter_with_a_json_400(client: TestClient):
    response = client.post("/api/draft", json={"letter": "   "})
    assert response.status_code == 400
    assert set(response.json()) == {"error", "detail"}
