"""Security findings of issue #13, as regression tests on the API with the UI mounted as `askpfg serve`
mounts it: the UI reads only files uploaded to it (1), one access rule covers the UI and the API (2),
text that is not text is a 400 naming its field (3), a reply's points are capped before any work (5),
nothing from a document is markup in the UI (8), and the HTTP edges are clean (9): JSON bodies only,
contradictory or unknown filters refused, 405 with Allow and every error in the `{error, detail}` shape.
The command line cleans its arguments and refuses what the API refuses, with exit code 2."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from gradio.utils import get_upload_folder

from askpfg import ui
from askpfg.answering import Pipeline
from askpfg.api import create_app
from askpfg.drafting import DraftReply, DraftSection, LetterPoints
from askpfg.schemas import Answer, AskError, Citation
from askpfg.settings import Settings
from askpfg.ui import mount_ui

ROOT = Path(__file__).resolve().parents[1]
KEY = "s3cret-key"
QUESTION = "Who chairs the Oversight Board?"
LETTER = "Dear Minister,\n\nCould you tell me who chairs the Oversight Board?\n\nYours sincerely,\n\nAnn Jones\n"


@pytest.fixture(scope="module")
def open_ui(pipeline: Pipeline) -> Iterator[TestClient]:
    """The API with the UI mounted, no key set."""
    with TestClient(mount_ui(create_app(pipeline), pipeline)) as client:
        yield client


@pytest.fixture(scope="module")
def keyed_app(pipeline: Pipeline, settings: Settings) -> Iterator[TestClient]:
    """The API with the UI mounted and ASKPFG_API_KEY set, reached from this machine (loopback)."""
    app = mount_ui(create_app(pipeline, settings=settings.model_copy(update={"api_key": KEY})), pipeline)
    with TestClient(app, client=("127.0.0.1", 50000)) as client:
        yield client


@pytest.fixture
def keyed_ui(keyed_app: TestClient) -> Iterator[TestClient]:
    """The keyed app's client, holding no cookie from an earlier test."""
    keyed_app.cookies.clear()
    yield keyed_app
    keyed_app.cookies.clear()


def post_json(client: TestClient, path: str, body: object, **kwargs: Any) -> Any:
    """POST `body` as JSON with non-ASCII written as escapes, so a lone surrogate can be sent as a client can."""
    return client.post(path, content=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, **kwargs)


def call_ui(client: TestClient, fn: str, data: list) -> list[tuple[str, object]]:
    """A UI function run through Gradio's HTTP API, as any client can run it: its (event, data) messages."""
    started = post_json(client, f"/gradio_api/call/{fn}", {"data": data})
    assert started.status_code == 200, started.text
    with client.stream("GET", f"/gradio_api/call/{fn}/{started.json()['event_id']}") as stream:
        text = stream.read().decode()
    return [(event, json.loads(payload)) for event, payload in re.findall(r"^event: (\w+)\ndata: (.*)$", text, re.MULTILINE)]


def file_data(path: str) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}}


def assert_error(response, status: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "detail"} and body["error"]
    return body["detail"]


# --- 1. the UI reads only files uploaded to it -----------------------------------------------------


def test_the_ui_reads_a_letter_only_if_it_was_uploaded_to_it(open_ui: TestClient, tmp_path: Path) -> None:
    uploaded = open_ui.post("/gradio_api/upload", files={"files": ("letter.txt", LETTER.encode(), "text/plain")})
    assert uploaded.status_code == 200, uploaded.text
    assert call_ui(open_ui, "load", [file_data(uploaded.json()[0])])[-1] == ("complete", [LETTER])

    marker = f"marker {uuid.uuid4().hex}"
    planted = tmp_path / "letter.txt"  # in the system's temporary folder, beside Gradio's own
    planted.write_text(LETTER.replace("Ann Jones", marker), encoding="utf-8")
    for outside, content in ((planted, marker), (ROOT / "README.md", "Welsh Government")):
        events = call_ui(open_ui, "load", [file_data(str(outside))])
        assert events[-1][0] == "error" and content not in json.dumps(events)
    copies = [p for p in Path(get_upload_folder()).rglob("*") if p.is_file() and marker in p.read_text(errors="ignore")]
    assert not copies, "a file the UI refused was still copied into Gradio's cache"


def test_the_ui_refuses_an_upload_over_the_size_limit(open_ui: TestClient, settings: Settings) -> None:
    big = b"Dear Minister,\n" + b"x" * settings.max_upload_bytes
    response = open_ui.post("/gradio_api/upload", files={"files": ("letter.txt", big, "text/plain")})
    assert response.status_code == 413


# --- 2. one access rule for the UI and the API ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", "/", None),
        ("GET", "/config", None),
        ("POST", "/gradio_api/call/ask", {"data": [QUESTION, "", "", [], []]}),
        ("POST", "/gradio_api/call/draft", {"data": [LETTER, ""]}),
        ("POST", "/gradio_api/call/load", {"data": [file_data(str(ROOT / "README.md"))]}),
    ],
)
def test_with_a_key_set_no_ui_route_answers_a_local_client_without_it(keyed_ui: TestClient, method: str, path: str, body: dict | None) -> None:
    response = keyed_ui.request(method, path, json=body)
    assert "ASKPFG_API_KEY" in assert_error(response, 401)


def test_with_a_key_set_the_ui_takes_no_upload_without_it(keyed_ui: TestClient) -> None:
    response = keyed_ui.post("/gradio_api/upload", files={"files": ("letter.txt", LETTER.encode(), "text/plain")})
    assert_error(response, 401)


def test_a_browser_without_the_key_gets_the_sign_in_page(keyed_ui: TestClient) -> None:
    response = keyed_ui.get("/", headers={"Accept": "text/html"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("text/html")
    assert re.search(r'<form method="post" action="/login">.*<input id="key" name="key" type="password"', response.text)


def test_signing_in_with_the_key_opens_the_ui_and_the_api(keyed_ui: TestClient) -> None:
    signed_in = keyed_ui.post("/login", data={"key": KEY}, follow_redirects=False)
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/"
    cookie = signed_in.headers["set-cookie"]
    assert "askpfg_session=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie and KEY not in cookie

    assert keyed_ui.get("/", headers={"Accept": "text/html"}).status_code == 200
    found = call_ui(keyed_ui, "find", [LETTER])
    assert found[-1][0] == "complete" and "Oversight Board" in found[-1][1][0]
    assert keyed_ui.get("/api/health").json()["ready"] is True


def test_a_wrong_key_on_the_sign_in_page_opens_nothing(keyed_ui: TestClient) -> None:
    response = keyed_ui.post("/login", data={"key": "guess"}, follow_redirects=False)
    assert response.status_code == 401 and "not the key" in response.text
    assert "set-cookie" not in response.headers
    assert_error(keyed_ui.get("/config"), 401)


# --- 3. text that is not text: a 400 naming the field -----------------------------------------------

SURROGATE = "\ud800"
ESCAPED = os.fsdecode(b"\xff")  # a byte that is not UTF-8, as Python shows it in a command-line argument


@pytest.fixture(scope="module")
def api(pipeline: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(pipeline)) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/ask", {"question": f"Who chairs {SURROGATE} the Oversight Board?"}, "question"),
        ("/api/ask/stream", {"question": f"Who chairs {SURROGATE} the Oversight Board?"}, "question"),
        ("/api/ask", {"question": QUESTION, "history": [{"role": "user", "content": f"The board {SURROGATE}"}]}, "history[0].content"),
        ("/api/ask", {"question": QUESTION, "filters": {"doc_ids": [SURROGATE]}}, "filters.doc_ids[0]"),
        ("/api/ask", {"question": QUESTION, "filters": {"kinds": [SURROGATE]}}, "filters.kinds[0]"),
        ("/api/draft", {"letter": LETTER.replace("who chairs", f"who {SURROGATE} chairs")}, "letter"),
        ("/api/draft", {"letter": LETTER, "points": [QUESTION, f"When {SURROGATE} did it meet?"]}, "points[1]"),
    ],
)
def test_a_lone_surrogate_is_a_400_naming_its_field(api: TestClient, path: str, body: dict, field: str) -> None:
    detail = assert_error(post_json(api, path, body), 400)
    assert detail.startswith(f"{field} holds a lone surrogate (U+D800)")


@pytest.mark.parametrize("char", ["\x00", "\x07", "\x1b", "\x7f", "\x85"])
def test_nul_and_control_characters_are_a_400_naming_the_field(api: TestClient, char: str) -> None:
    detail = assert_error(post_json(api, "/api/ask", {"question": f"Who chairs{char} the Oversight Board?"}), 400)
    assert re.match(r"question holds a (NUL|control) character", detail)


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_a_question_of_only_invisible_characters_is_an_empty_question(api: TestClient, path: str) -> None:
    detail = assert_error(post_json(api, path, {"question": "\u200b\u200c \ufeff\u2060"}), 400)
    assert "empty" in detail


def test_the_ui_warns_about_a_lone_surrogate_instead_of_failing(open_ui: TestClient) -> None:
    events = call_ui(open_ui, "ask", [f"Who chairs {SURROGATE} the Oversight Board?", "", "", [], []])
    assert [event for event, _ in events if event == "error"] == [] and events[-1][0] == "complete"


# --- 8. nothing from a document is markup in the UI -------------------------------------------------

PLANTED = 'The board met <img src="http://evil.example/pixel.png"> in May; see [the minutes](http://evil.example/m) or http://evil.example/raw.'


def planted_reply() -> DraftReply:
    """A drafted reply whose papers (title, heading, quote) and letter carry HTML and Markdown links."""
    citation = Citation(
        n=1, doc_id="planted", title='Bulletin <a href="http://evil.example" target="_blank">read</a>', date="2023-05-01",
        kind="bulletin", source="planted.md", quote=PLANTED, start=0, end=len(PLANTED),
    )
    section = DraftSection(
        point=QUESTION, heading="The board <img src=x onerror=alert(1)>", text=f"According to the bulletin of 1 May 2023: “{PLANTED}” [1]", covered=True
    )
    letter = LetterPoints(sender="Ann Jones", sender_first_name="Ann<script>alert(2)</script>", subject="the <b>board</b>", points=[QUESTION])
    return DraftReply(
        points=[QUESTION], reply_markdown="", citations=[citation], not_covered=[], letter=letter, sections=[section],
        reply_date=dt.date(2023, 6, 1), signatory_name="A Minister", signatory_role="Minister",
    )


def test_the_draft_tab_shows_document_html_and_links_as_text(open_ui: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ui, "draft_stream", lambda letter, pipeline, points: iter([planted_reply()]))
    event, (reply, sources, *_rest) = call_ui(open_ui, "draft", [LETTER, QUESTION])[-1]
    assert event == "complete"
    config = open_ui.get("/config").json()
    (output,) = [c for c in config["components"] if c["props"].get("elem_id") == "draft-output"]
    assert output["type"] == "textbox" and "<img src=x onerror=alert(1)>" in reply  # shown as typed text, never rendered
    assert not re.search(r"<(img|a|script|b)\b", sources) and 'href="' not in sources
    assert "&lt;img" in sources and "[the minutes](http://evil.example/m)" in sources
    assert "&lt;a href=&quot;http://evil.example&quot;" in sources


def test_the_chat_renders_no_markdown_or_latex_so_document_text_cannot_become_links(open_ui: TestClient) -> None:
    config = open_ui.get("/config").json()
    (chat,) = [c["props"] for c in config["components"] if c["type"] == "chatbot"]
    assert chat["render_markdown"] is False and chat["latex_delimiters"] == []


# --- 5. bounded work: a reply answers at most ASKPFG_MAX_POINTS points --------------------------------


def letter_with_points(n: int) -> str:
    """A letter asking `n` numbered questions."""
    questions = "\n".join(f"{i}. Who chairs working group {i}?" for i in range(1, n + 1))
    return f"Dear Minister,\n\nI would be grateful for answers to the following.\n\n{questions}\n\nYours sincerely,\n\nAnn Jones\n"


def askpfg(*args: str, **env: str) -> subprocess.CompletedProcess:
    """The `askpfg` command as a user runs it (extractive answers: no generator to load)."""
    environment = {**os.environ, "ASKPFG_USE_GENERATOR": "false", **env}
    return subprocess.run([sys.executable, "-m", "askpfg", *args], check=False, capture_output=True, text=True, env=environment, timeout=300)


@pytest.fixture
def answered(pipeline: Pipeline, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The questions the pipeline is asked during a test (each is refused at once, so a draft is quick)."""
    asked: list[str] = []

    def record(question: str, *args: object, **kwargs: object) -> Answer:
        asked.append(question)
        raise AskError("recorded, not answered")

    monkeypatch.setattr(pipeline, "answer", record)
    return asked


def test_a_letter_with_more_points_than_the_cap_is_a_400_before_any_point_is_answered(
    api: TestClient, settings: Settings, answered: list[str]
) -> None:
    too_many = settings.max_points + 1
    detail = assert_error(post_json(api, "/api/draft", {"letter": letter_with_points(too_many)}), 400)
    assert f"the letter makes {too_many} points" in detail and f"at most {settings.max_points} (ASKPFG_MAX_POINTS)" in detail
    assert answered == []


def test_more_points_given_than_the_cap_is_a_400_before_any_point_is_answered(
    api: TestClient, settings: Settings, answered: list[str]
) -> None:
    points = [f"Who chairs working group {i}?" for i in range(settings.max_points + 1)]
    detail = assert_error(post_json(api, "/api/draft", {"letter": LETTER, "points": points}), 400)
    assert f"{len(points)} points were given" in detail and f"at most {settings.max_points}" in detail
    assert answered == []


def test_the_draft_command_refuses_more_points_than_the_cap_with_exit_2(tmp_path: Path) -> None:
    letter = tmp_path / "letter.txt"
    letter.write_text(letter_with_points(3), encoding="utf-8")
    for args in ((str(letter),), (str(letter), "--point", "Who?", "--point", "When?", "--point", "Where?")):
        run = askpfg("draft", *args, ASKPFG_MAX_POINTS="2")
        assert run.returncode == 2, run.stderr
        assert "one reply answers at most 2 (ASKPFG_MAX_POINTS)" in run.stderr and "Traceback" not in run.stderr


# --- 9. clean HTTP edges -----------------------------------------------------------------------------

BODIES = {"/api/ask": {"question": QUESTION}, "/api/ask/stream": {"question": QUESTION}, "/api/draft": {"letter": LETTER}}


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None])
@pytest.mark.parametrize("path", sorted(BODIES))
def test_a_body_that_is_not_json_is_a_415(api: TestClient, path: str, content_type: str | None) -> None:
    """A cross-site form can send these without the browser asking first; only JSON is read."""
    headers = {"Content-Type": content_type} if content_type else {}
    response = api.post(path, content=json.dumps(BODIES[path]).encode(), headers=headers)
    assert "Content-Type: application/json" in assert_error(response, 415)


def test_json_with_a_charset_is_read_as_json(api: TestClient) -> None:
    response = api.post("/api/ask", content=b'{"question": " "}', headers={"Content-Type": "application/json; charset=utf-8"})
    assert "empty" in assert_error(response, 400)


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_since_after_until_is_a_400_saying_so(api: TestClient, path: str) -> None:
    body = {"question": QUESTION, "filters": {"since": "2023-05-01", "until": "2022-01-01"}}
    detail = assert_error(post_json(api, path, body), 400)
    assert detail.startswith("since (2023-05-01) is after until (2022-01-01)")


@pytest.mark.parametrize("value", [0, 1714521600, 20240501.0])
def test_a_date_given_as_a_number_is_a_4xx_asking_for_yyyy_mm_dd(api: TestClient, value: float) -> None:
    response = post_json(api, "/api/ask", {"question": QUESTION, "filters": {"since": value}})
    assert response.status_code in (400, 422), response.text
    assert "YYYY-MM-DD" in response.text


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_unknown_doc_ids_are_a_400_naming_them(api: TestClient, store, path: str) -> None:
    known = store.documents()[0].id
    detail = assert_error(post_json(api, path, {"question": QUESTION, "filters": {"doc_ids": [known, "no-such-paper"]}}), 400)
    assert "'no-such-paper'" in detail and known not in detail


def test_the_ui_answers_nothing_for_an_inverted_date_range_and_does_not_fail(open_ui: TestClient) -> None:
    events = call_ui(open_ui, "ask", [QUESTION, "2023-05-01", "2022-01-01", [], []])
    assert [event for event, _ in events if event == "error"] == [] and events[-1][0] == "complete"
    assert all(chat == {"__type__": "update"} for _, (chat, *_) in events), "the chat changed: the question was answered"


def test_the_schema_asks_for_a_question_and_a_letter_of_at_least_one_character(api: TestClient) -> None:
    schemas = api.get("/openapi.json").json()["components"]["schemas"]
    assert schemas["AskRequest"]["properties"]["question"]["minLength"] == 1
    assert schemas["DraftRequest"]["properties"]["letter"]["minLength"] == 1


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", "/api/ask", "POST"),
        ("PUT", "/api/draft", "POST"),
        ("OPTIONS", "/api/ask/stream", "POST"),
        ("DELETE", "/api/health", "GET"),
        ("POST", "/api/documents/some-paper", "GET"),
        ("POST", "/", "GET"),
        ("PUT", "/config", "GET"),
    ],
)
def test_a_wrong_method_is_a_405_with_allow(open_ui: TestClient, method: str, path: str, allowed: str) -> None:
    response = open_ui.request(method, path)
    detail = assert_error(response, 405)
    assert allowed in response.headers["allow"].split(", ") and allowed in detail


@pytest.mark.parametrize("path", ["/no-such-page", "/api/no-such-endpoint", "/api", "/gradio_api/no-such-route"])
def test_an_unknown_route_is_a_404_in_the_error_shape(open_ui: TestClient, path: str) -> None:
    assert "/docs" in assert_error(open_ui.get(path), 404)


@pytest.mark.parametrize(
    "args",
    [
        ("ask", f"Who chairs {ESCAPED} the Oversight Board?"),
        ("search", f"Who chairs {ESCAPED} the Oversight Board?"),
        ("draft", str(ROOT / "evals/letters/letter-01.txt"), "--point", f"Who chairs {ESCAPED} the Oversight Board?"),
    ],
)
def test_an_argument_that_is_not_utf8_is_a_clear_error_with_exit_2(args: tuple[str, ...]) -> None:
    run = askpfg(*args)
    assert run.returncode == 2, run.stderr
    assert "holds a lone surrogate (U+DCFF) at character 12" in run.stderr and "Traceback" not in run.stderr


def test_since_after_until_on_the_command_line_is_a_clear_error_with_exit_2() -> None:
    run = askpfg("search", QUESTION, "--since", "2023-05-01", "--until", "2022-01-01")
    assert run.returncode == 2, run.stderr
    assert "since (2023-05-01) is after until (2022-01-01)" in run.stderr
