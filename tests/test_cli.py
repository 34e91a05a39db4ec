"""The command line as a user meets it: search output, filters, help and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _askpfg(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "ASKPFG_USE_GENERATOR": "false"}
    return subprocess.run([sys.executable, "-m", "askpfg", *args], capture_output=True, text=True, env=env, timeout=300)


def test_search_ranks_the_passage_naming_anthony_douglas_first(store):
    run = _askpfg("search", "Who chairs the Oversight Board?", "--json")
    assert run.returncode == 0, run.stderr
    passages = json.loads(run.stdout)
    assert "Anthony Douglas" in passages[0]["text"]
    assert {"title", "date", "heading", "score"} <= passages[0].keys()


def test_search_filters_by_kind_and_date(store):
    run = _askpfg("search", "Programme Board", "--kind", "board-summary", "--since", "2023-01-01", "--json")
    passages = json.loads(run.stdout)
    assert passages and all(p["kind"] == "board-summary" and p["date"] >= "2023-01-01" for p in passages)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("search", ""), "empty"),
        (("search", "x" * 4001), "limit is 4000"),
        (("search", "x", "--kind", "memo"), "valid kinds: letter, bulletin, board-summary, document"),
        (("search", "x", "--since", "last week"), "use YYYY-MM-DD"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(args, message):
    run = _askpfg(*args)
    assert run.returncode == 2
    assert message in run.stderr


def test_every_command_has_help():
    for command in ("search", "ask", "ingest", "eval", "draft", "serve", "documents", "build"):
        run = _askpfg(command, "--help")
        assert run.returncode == 0 and "usage: askpfg" in run.stdout


def test_ask_json_prints_a_verified_answer(store):
    run = _askpfg("ask", "Who chairs the Oversight Board?", "--json")
    answer = json.loads(run.stdout)
    assert "Anthony Douglas" in answer["text"] and answer["citations"]


def test_ask_json_shows_the_trace_of_evidence_considered(store):
    run = _askpfg("ask", "Who leads the multi-agency Programme Board?", "--json")
    answer = json.loads(run.stdout)
    considered = answer["trace"]["considered"]
    assert considered and {"doc_id", "start", "end", "score", "used"} <= considered[0].keys()
    assert answer["refused"] or any(e["used"] for e in considered)


def test_ask_json_gives_the_reason_for_a_refusal(store):
    run = _askpfg("ask", "When did the Quokka Taskforce first report?", "--json")
    answer = json.loads(run.stdout)
    assert answer["refused"] and answer["refusal_reason"] == "never_mentioned"
