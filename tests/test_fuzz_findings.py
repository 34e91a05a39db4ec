"""What schemathesis found against `askpfg serve` (bench/fuzz.sh), as regression tests on the app as it
serves: the UI mounted at /. A method the API does not take is a 405 there too, TRACE included; a
field the request does not have is ignored whatever it holds; the schema says which text is taken
(no control character or lone surrogate; a question or letter with something visible in it, within
its length) and documents every error /v1 answers with, in OpenAI's shape."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from hypothesis import given, settings
from hypothesis import strategies as st

from askpfg.answering import Pipeline
from askpfg.api import create_app
from askpfg.schemas import NON_EMPTY, TEXT, TextError, clean_text
from askpfg.ui import mount_ui

QUESTION = "Who chairs the Oversight Board?"


@pytest.fixture(scope="module")
def served(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(mount_ui(create_app(pipeline), pipeline)) as client:
        yield client


@pytest.mark.parametrize("method", ["TRACE", "QUERY"])
@pytest.mark.parametrize(("path", "allowed"), [("/api/ask", "POST"), ("/api/health", "GET"), ("/v1/models", "GET"), ("/v1/chat/completions", "POST")])
def test_any_other_method_is_a_405_naming_the_allowed_one_not_the_uis_404(served: TestClient, method: str, path: str, allowed: str) -> None:
    response = served.request(method, path)
    assert response.status_code == 405, response.text
    assert allowed in response.headers["allow"].split(", ")


def test_a_field_the_request_does_not_have_is_ignored_whatever_it_holds(served: TestClient) -> None:
    body = {"question": QUESTION, "extra\u0007": "\u0007", "history": [{"role": "user", "content": "Hello", "": "\u0000"}], "|": [None]}
    response = served.post("/api/ask", content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert "Anthony Douglas" in response.json()["text"]


def test_a_field_the_request_has_still_refuses_a_control_character(served: TestClient) -> None:
    body = {"question": QUESTION, "history": [{"role": "user", "content": "Hello\u0007"}]}
    response = served.post("/api/ask", content=json.dumps(body).encode(), headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and response.json()["detail"].startswith("history[0].content holds a control character")


def test_the_schema_bounds_the_text_each_request_takes(served: TestClient) -> None:
    schemas = served.get("/openapi.json").json()["components"]["schemas"]
    question, letter = schemas["AskRequest"]["properties"]["question"], schemas["DraftRequest"]["properties"]["letter"]
    assert question["maxLength"] == 4000 and letter["maxLength"] == 20000 and question["pattern"] == letter["pattern"]
    assert schemas["DraftRequest"]["properties"]["points"]["maxItems"] == 15
    assert schemas["Message"]["properties"]["content"]["pattern"] == TEXT["pattern"]
    for text, taken in (("Who?", True), (" \u200b\ufeff", False), ("Who\u0007?", False), ("Who\n\tchairs?", True)):
        assert bool(re.match(question["pattern"], text)) is taken, repr(text)


@settings(max_examples=300, deadline=None, database=None)
@given(st.text(st.one_of(st.characters(), st.characters(categories=["Cc", "Cf", "Zs"]))))
def test_the_schemas_text_patterns_take_exactly_what_the_boundary_takes(text: str) -> None:
    """(Lone surrogates aside: they are not Unicode text, which no pattern can say; the 400 names them.)"""
    try:
        clean_text(text, "text")
        taken = True
    except TextError:
        taken = False
    assert bool(re.match(TEXT["pattern"], text)) is taken
    visible = taken and bool(clean_text(text, "text").strip())
    assert bool(re.match(NON_EMPTY["pattern"], text)) is visible, [hex(ord(c)) for c in text]


def test_every_error_of_the_chat_completions_endpoint_is_documented_in_openais_shape(served: TestClient) -> None:
    spec = served.get("/openapi.json").json()
    responses = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"400", "401", "413", "415", "422", "503"} <= set(responses)
    shape = spec["components"]["schemas"]["OpenAIError"]
    assert shape["properties"]["error"]["$ref"].endswith("/OpenAIErrorDetail")
    assert served.post("/v1/chat/completions").json()["error"]["code"] == 415
