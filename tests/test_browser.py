"""The real server (`askpfg serve`) driven by a real Chromium: ask, get a cited answer, open the source."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from askpfg.index import IndexStore

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium: apt-get install -y chromium"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(store: IndexStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m askpfg serve` on a free loopback port, on the session's test index; stopped by its PID."""
    port = free_port()
    log_path = tmp_path_factory.mktemp("server") / "serve.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "askpfg", "serve", "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "ASKPFG_INDEX_DIR": str(store.settings.index_dir)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            assert process.poll() is None, f"server exited:\n{log_path.read_text()[-3000:]}"
            assert time.monotonic() < deadline, f"server not ready in 180 s:\n{log_path.read_text()[-3000:]}"
            try:
                if httpx.get(f"{url}/api/health", timeout=2).json().get("ready"):
                    break
            except httpx.HTTPError:
                pass
            time.sleep(1)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def test_chat_answer_with_clickable_citation_shows_highlighted_source(server: str) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server + "/")
            page.locator("#question textarea").fill("Who chairs the Oversight Board?")
            page.locator("#ask").click()
            citation = page.locator("#answer #cite-1")
            citation.wait_for(timeout=180_000)
            expect(page.locator("#answer")).to_contain_text("Anthony Douglas")

            citation.click()
            mark = page.locator("#source-panel mark")
            mark.wait_for(timeout=30_000)
            quote = mark.inner_text().strip()
            doc_id = page.locator("#source-panel .source-foot").inner_text().split(" · ")[0].strip()
            document = httpx.get(f"{server}/api/documents/{doc_id}", timeout=10).json()
            assert quote and " ".join(quote.split()) in " ".join(document["text"].split())
            expect(page.locator("#source-panel .source-title")).to_have_text(document["meta"]["title"])

            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "browser-chat.png"), full_page=True)
        finally:
            browser.close()
