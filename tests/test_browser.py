"""The real server (`askpfg serve`) driven by a real Chromium: ask, get a cited answer, open the source;
draft a cited reply to a pasted letter and download it as a Word document."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docx
import httpx
import pytest
from servers import running_server

from askpfg.index import IndexStore

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium: apt-get install -y chromium"),
]


@pytest.fixture(scope="module")
def server(store: IndexStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python -m askpfg serve` on a free loopback port, on the session's test index."""
    env = {**os.environ, "ASKPFG_INDEX_DIR": str(store.settings.index_dir)}
    with running_server(env, tmp_path_factory.mktemp("server") / "serve.log") as url:
        yield url


@pytest.fixture
def page(server: str) -> Iterator[Page]:
    """The UI open in a fresh headless Debian Chromium."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(server + "/")
            yield page
        finally:
            browser.close()


def test_chat_answer_with_clickable_citation_shows_highlighted_source(server: str, page: Page) -> None:
    from playwright.sync_api import expect

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


INLINE_LIST = (
    "Ffion Hughes MS\nChair, Children's Committee\n\n4 March 2024\n\nDear Julie,\n\nThank you for your bulletin. "
    "I would be grateful if you could set out: 1. the Welsh Government's vision for children's services; and "
    "2. whether the changes needed to deliver that vision can be achieved quickly.\n\nYours sincerely,\n\nFfion Hughes MS\nChair, Children's Committee"
)
EMAIL = (
    "From: Rhodri Bowen <rhodri.bowen@example.org>\nSent: 6 March 2024 11:02\nSubject: Care leavers\n\nHello,\n\n"
    "We need to know how long the Welsh Government wants young people to stay in care. Could you tell us how many parents each region's "
    "advocacy service has helped?\n\nMany thanks,\nRhodri Bowen\nClerk, Equality Committee"
)


@pytest.mark.parametrize(("letter", "recipient"), [(INLINE_LIST, "Ffion Hughes\nChair, Children's Committee"), (EMAIL, "Rhodri Bowen\nClerk, Equality Committee")],
                         ids=["inline-list", "email"])
def test_draft_tab_turns_a_pasted_letter_into_an_editable_cited_reply_and_an_a4_word_document(
    page: Page, tmp_path: Path, letter: str, recipient: str
) -> None:
    from playwright.sync_api import expect

    page.locator("#draft-tab-button").click()
    page.locator("#draft-letter textarea").fill(letter)
    page.locator("#draft-find").click()
    points = page.locator("#draft-points textarea")
    expect(points).not_to_have_value("", timeout=30_000)
    assert len(points.input_value().splitlines()) == 2

    page.locator("#draft-reply").click()
    reply = page.locator("#draft-output textarea")
    expect(reply).to_have_value(re.compile("Yours sincerely"), timeout=240_000)  # every point is searched and verified
    text = reply.input_value()
    assert recipient.split("\n")[0] in text and "[1]" in text and "According to" not in text
    expect(page.locator("#draft-sources blockquote").first).not_to_be_empty()

    reply.fill(text.replace("Yours sincerely,", "With best wishes,"))  # the official edits the draft, then saves it
    page.locator("#draft-save").click()
    expect(page.locator("#draft-status")).to_contain_text("your edits", timeout=30_000)
    with page.expect_download() as download:
        page.locator("#draft-docx a[download]").click()
    path = tmp_path / "reply.docx"
    download.value.save_as(path)
    document = docx.Document(str(path))
    assert (round(document.sections[0].page_width.mm), round(document.sections[0].page_height.mm)) == (210, 297)
    paragraphs = [p.text for p in document.paragraphs]
    assert recipient in paragraphs and "With best wishes," in paragraphs and "References" in paragraphs

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"browser-draft-{'email' if letter is EMAIL else 'inline'}.png"), full_page=True)


def test_documents_tab_opens_a_paper_in_the_reader_and_marks_a_search_within_it(server: str, page: Page) -> None:
    from playwright.sync_api import expect

    page.locator("#documents-tab-button").click()
    papers = httpx.get(f"{server}/api/documents", timeout=10).json()
    newest = max(papers, key=lambda m: m["date"])
    expect(page.locator("#papers button.paper").first).to_have_attribute("data-doc", newest["id"], timeout=30_000)

    page.locator(f'#papers button[data-doc="{newest["id"]}"]').click()
    expect(page.locator("#reader .source-title")).to_have_text(newest["title"], timeout=30_000)
    page.locator("#reader-search textarea").fill("children")
    expect(page.locator("#reader .reader-count")).to_contain_text("for “children”", timeout=30_000)
    assert page.locator("#reader mark").count() > 0 and page.locator("#reader mark").first.inner_text().lower() == "children"

    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "browser-reader.png"), full_page=True)


def test_filters_show_as_chips_and_an_inverted_date_range_is_refused_before_searching(page: Page) -> None:
    from playwright.sync_api import expect

    chips = page.locator("#scope-chips")
    expect(chips).to_contain_text("all papers", timeout=30_000)
    page.locator("#filters").get_by_text("Filters").click()
    page.locator("#since input, #since textarea").fill("2024-03-01")
    page.locator("#until input, #until textarea").fill("2023-01-01")
    page.locator("#until input, #until textarea").press("Tab")
    expect(chips).to_contain_text("is after 'Until'", timeout=30_000)

    page.locator("#question textarea").fill("Who chairs the Oversight Board?")
    page.locator("#ask").click()
    expect(page.get_by_test_id("toast-body")).to_contain_text("so no paper can match: swap the two dates", timeout=30_000)
    expect(page.locator("#answer")).not_to_contain_text("Who chairs")  # no search was started

    page.locator("#until input, #until textarea").fill("")
    page.locator("#until input, #until textarea").press("Tab")
    expect(chips).to_contain_text("since 1 March 2024", timeout=30_000)
    page.locator("#clear-filters").click()
    expect(chips).to_contain_text("all papers", timeout=30_000)
