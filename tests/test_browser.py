"""The real server (`askpfg serve`) driven by a real Chromium: ask, get a cited answer, open the source and
the full paper; stop an answer, ask while one runs, copy, export, rate and reload; draft a cited reply to a
pasted letter and download it as a Word document; each tab checked by axe-core and screenshotted."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import docx
import httpx
import pytest
from servers import running_server

from askpfg.index import IndexStore

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
AXE = ROOT / ".venv" / "axe" / "node_modules" / "axe-core" / "axe.min.js"
AXE_VERSION = "4.14.1"
LAPTOP, PHONE = {"width": 1366, "height": 768}, {"width": 390, "height": 844}
QUESTION = "Who is the independent chair of the Oversight Board?"
ANSWERED = 180_000  # ms: the first answer also loads the models

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian chromium at /usr/bin/chromium: apt-get install -y chromium"),
]


@pytest.fixture(scope="module")
def feedback_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the server under test writes the answers' ratings."""
    return tmp_path_factory.mktemp("feedback") / "feedback.jsonl"


@pytest.fixture(scope="module")
def server(store: IndexStore, tmp_path_factory: pytest.TempPathFactory, feedback_file: Path) -> Iterator[str]:
    """`python -m askpfg serve` on a free loopback port, on the session's test index."""
    env = {**os.environ, "ASKPFG_INDEX_DIR": str(store.settings.index_dir), "ASKPFG_FEEDBACK_PATH": str(feedback_file)}
    with running_server(env, tmp_path_factory.mktemp("server") / "serve.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One headless Debian Chromium for the module; each test opens its own context (its own storage)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
        )
        try:
            yield browser
        finally:
            browser.close()


def open_ui(browser: Browser, server: str, viewport: dict[str, int]) -> Page:
    """The UI in a fresh context (empty localStorage, clipboard allowed) at this window size."""
    context = browser.new_context(viewport=viewport)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server)
    page = context.new_page()
    page.goto(server + "/")
    page.locator("#question textarea").wait_for(timeout=30_000)
    return page


@pytest.fixture
def page(browser: Browser, server: str) -> Iterator[Page]:
    """The UI open at 1400×1000."""
    page = open_ui(browser, server, {"width": 1400, "height": 1000})
    yield page
    page.context.close()


@pytest.fixture
def laptop(browser: Browser, server: str) -> Iterator[Page]:
    """The UI open at 1366×768, a committee researcher's laptop."""
    page = open_ui(browser, server, LAPTOP)
    yield page
    page.context.close()


def ask(page: Page, question: str = QUESTION, answers: int = 1) -> Locator:
    """Ask by pressing Ask; the latest answer, once there are `answers` of them."""
    page.locator("#question textarea").fill(question)
    page.locator("#ask").click()
    page.wait_for_function(f"document.querySelectorAll('#answer .answer, #answer .refusal').length >= {answers}", timeout=ANSWERED)
    return page.locator("#answer .answer, #answer .refusal").last


def in_viewport(page: Page, element: Locator) -> bool:
    """Whether the element's first lines are on screen."""
    box, height = element.bounding_box(), page.viewport_size["height"]
    return box is not None and box["y"] >= 0 and box["y"] + min(box["height"], 40) <= height


def test_a_clicked_citation_shows_its_passage_highlighted_on_screen(server: str, laptop: Page) -> None:
    from playwright.sync_api import expect

    answer = ask(laptop)
    expect(answer).to_contain_text("Anthony Douglas")
    laptop.locator("#answer #cite-1").click()
    mark = laptop.locator("#source-panel mark")
    mark.wait_for(timeout=30_000)
    quote = mark.inner_text().strip()
    doc_id = laptop.locator("#source-panel .source-foot").inner_text().split(" · ")[0].strip()
    document = httpx.get(f"{server}/api/documents/{doc_id}", timeout=10).json()
    assert quote and " ".join(quote.split()) in " ".join(document["text"].split())
    expect(laptop.locator("#source-panel .source-title")).to_have_text(document["meta"]["title"])
    expect(mark).to_be_in_viewport(timeout=10_000)
    assert in_viewport(laptop, mark)
    expect(laptop.get_by_role("region", name="Source of the selected reference")).to_have_attribute("aria-live", "polite")  # announced


def test_a_question_is_asked_and_its_reference_opened_from_the_keyboard_alone(laptop: Page) -> None:
    from playwright.sync_api import expect

    laptop.get_by_role("textbox", name="Your question").focus()  # the question box is named for screen readers
    laptop.keyboard.type(QUESTION)
    laptop.keyboard.press("Enter")
    citation = laptop.locator("#answer #cite-1")
    citation.wait_for(timeout=ANSWERED)
    citation.focus()
    laptop.keyboard.press("Enter")
    expect(laptop.locator("#source-panel mark")).to_be_visible(timeout=30_000)
    laptop.get_by_role("button", name="Open the full paper").focus()
    laptop.keyboard.press("Enter")
    expect(laptop.locator("#reader #reader-passage")).to_be_visible(timeout=30_000)


@pytest.fixture(scope="module")
def axe_source() -> str:
    """axe-core's script, installed from npm into .venv/axe the first time."""
    if not AXE.exists():
        npm = shutil.which("npm")
        if npm is None:
            pytest.skip("needs npm to install axe-core")
        command = [npm, "install", "--prefix", str(AXE.parents[2]), f"axe-core@{AXE_VERSION}", "--no-audit", "--no-fund", "--silent"]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300)
        if done.returncode != 0 or not AXE.exists():
            pytest.skip(f"could not install axe-core from npm: {done.stderr[-500:]}")
    return AXE.read_text(encoding="utf-8")


AXE_RUN = """async () => (await axe.run(document, { resultTypes: ['violations'] })).violations
  .filter((v) => v.impact === 'serious' || v.impact === 'critical')
  .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)"""


@pytest.mark.parametrize("viewport", [LAPTOP, PHONE], ids=["1366x768", "390x844"])
def test_each_tab_has_no_serious_accessibility_violation_and_is_screenshotted(
    browser: Browser, server: str, axe_source: str, viewport: dict[str, int]
) -> None:
    page = open_ui(browser, server, viewport)
    ask(page)
    page.locator("#answer #cite-1").click()
    page.locator("#source-panel mark").wait_for(timeout=30_000)
    ARTIFACTS.mkdir(exist_ok=True)
    found = {}
    for tab in ("ask", "documents", "draft"):
        page.locator(f"#{tab}-tab-button").click()
        if tab == "documents":
            page.locator("#papers button.paper").first.click()
            page.locator("#reader .source-title").wait_for(timeout=30_000)
        page.wait_for_timeout(500)  # the tab's transition
        page.screenshot(path=str(ARTIFACTS / f"{tab}-{viewport['width']}x{viewport['height']}.png"), full_page=True)
        if not page.evaluate("typeof axe !== 'undefined'"):
            page.add_script_tag(content=axe_source)
        found[tab] = page.evaluate(AXE_RUN)
    page.context.close()
    assert found == {"ask": [], "documents": [], "draft": []}


def test_open_the_full_paper_shows_the_cited_passage_highlighted_in_the_reader(laptop: Page) -> None:
    from playwright.sync_api import expect

    ask(laptop)
    laptop.locator("#answer #cite-1").click()
    quote = " ".join(laptop.locator("#source-panel mark").inner_text().split())
    laptop.locator("#source-panel button.open-paper").click()
    passage = laptop.locator("#reader #reader-passage")
    expect(passage).to_be_visible(timeout=30_000)
    assert " ".join(laptop.locator("#reader mark.passage").all_inner_texts()).split() == quote.split()
    expect(passage).to_be_in_viewport(timeout=10_000)
    expect(laptop.locator("#reader .reader-count")).to_have_text("The cited passage is highlighted.")


def test_on_a_phone_the_source_opens_right_under_the_answer(browser: Browser, server: str) -> None:
    from playwright.sync_api import expect

    phone = open_ui(browser, server, PHONE)
    ask(phone)
    phone.locator("#answer #cite-1").click()
    mark = phone.locator("#source-panel mark")
    expect(mark).to_be_in_viewport(timeout=30_000)
    chat, panel, box = (phone.locator(s).bounding_box() for s in ("#answer", "#source-panel", "#question"))
    assert chat["y"] + chat["height"] <= panel["y"] < box["y"]  # answer, then its source, then the question box
    phone.context.close()


def test_stop_ends_an_answer_and_the_next_question_is_answered(laptop: Page) -> None:
    from playwright.sync_api import expect

    laptop.locator("#question textarea").fill("Which board oversees the work to remove profit from children's care?")  # asked nowhere else, so not answered at once
    laptop.locator("#ask").click()
    expect(laptop.locator("#answer .pending")).to_be_visible(timeout=30_000)
    laptop.locator("#stop").click()
    expect(laptop.locator("#answer .pending")).to_have_count(0, timeout=30_000)
    expect(laptop.locator("#ask-note")).to_contain_text("Stopped", timeout=10_000)
    expect(laptop.locator("#stop")).to_be_disabled()
    expect(laptop.locator("#question textarea")).to_have_value(re.compile("remove profit"))  # the stopped question, back in the box

    answer = ask(laptop)
    expect(answer).to_contain_text("Anthony Douglas")
    expect(laptop.locator("#answer .answer, #answer .refusal")).to_have_count(1)


def test_a_question_sent_while_one_runs_stays_in_the_box_with_a_message_and_is_answered_next(laptop: Page) -> None:
    from playwright.sync_api import expect

    laptop.locator("#question textarea").fill("What is the Oversight Board expected to deliver for children's services?")  # asked nowhere else:
    laptop.locator("#ask").click()  # not an answer the server has already given, which would come at once
    expect(laptop.locator("#stop")).to_be_enabled(timeout=30_000)
    second = "What does the Corporate Parenting Charter ask of public bodies?"
    laptop.locator("#question textarea").fill(second)
    laptop.locator("#question textarea").press("Enter")
    expect(laptop.locator("#ask-note")).to_contain_text("Still answering the last question")
    expect(laptop.locator("#question textarea")).to_have_value(second)

    expect(laptop.locator("#stop")).to_be_disabled(timeout=ANSWERED)
    expect(laptop.locator("#question textarea")).to_have_value(second)  # the first answer's end leaves it there
    laptop.locator("#ask").click()
    laptop.wait_for_function("document.querySelectorAll('#answer .answer, #answer .refusal').length == 2", timeout=ANSWERED)
    expect(laptop.locator("#answer [data-testid='user']").last).to_have_text(second)


def test_copy_and_export_give_plain_text_and_markdown_with_numbered_references(laptop: Page, tmp_path: Path) -> None:
    ask(laptop).locator("a.copy-answer").click()
    copied = laptop.evaluate("navigator.clipboard.readText()")
    assert "Anthony Douglas" in copied and "\n\nReferences\n[1] " in copied and "“" in copied
    assert "<" not in copied and "class=" not in copied

    with laptop.expect_download() as download:
        laptop.locator("#export").click()
    path = tmp_path / "conversation.md"
    download.value.save_as(path)
    exported = path.read_text(encoding="utf-8")
    assert f"## 1. {QUESTION}\n\n" in exported and "Anthony Douglas" in exported
    assert "**References**\n\n- [1] " in exported and "<" not in exported


def test_a_reload_keeps_the_conversation(laptop: Page) -> None:
    from playwright.sync_api import expect

    first = ask(laptop).inner_text()
    laptop.reload()
    expect(laptop.locator("#answer .answer")).to_have_count(1, timeout=30_000)
    assert laptop.locator("#answer .answer").inner_text() == first
    laptop.locator("#answer #cite-1").click()  # its references still open their sources
    expect(laptop.locator("#source-panel mark")).to_be_visible(timeout=30_000)


def test_a_thumbs_up_writes_the_question_answer_and_citations_to_the_feedback_file(laptop: Page, feedback_file: Path) -> None:
    def ratings() -> int:
        return feedback_file.read_text(encoding="utf-8").count("\n") if feedback_file.exists() else 0

    before = ratings()
    ask(laptop)
    laptop.locator("#answer button[aria-label='Like']").last.click()
    for _ in range(100):  # the rating is written by the server's event handler
        if ratings() > before:
            break
        laptop.wait_for_timeout(100)
    record = json.loads(feedback_file.read_text(encoding="utf-8").splitlines()[-1])
    assert (record["rating"], record["question"]) == ("up", QUESTION) and "Anthony Douglas" in record["answer"]
    assert record["citations"] and record["citations"][0]["quote"]


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


PAPER = (
    "# Kinship care mentoring\n\nDear Ffion,\n\nThe Kinship Care Mentoring Scheme is chaired by Dr Eleri Rhys, who took up the post "
    "in April 2024. The scheme pairs forty kinship carers in Powys with experienced mentors.\n\nYours sincerely,\n\nA Minister\n"
)


def choose_paper(page: Page, path: Path) -> None:
    """Open the Documents tab's 'Add a paper' and choose a file, as a user does."""
    from playwright.sync_api import expect

    page.locator("#documents-tab-button").click()
    page.locator("#add-paper").get_by_text("Add a paper").click()
    with page.expect_file_chooser() as chooser:
        page.locator("#paper-file").click()
    chooser.value.set_files(str(path))
    expect(page.locator("#paper-status")).to_contain_text(f"Chosen: “{path.name}”", timeout=30_000)


def test_a_paper_added_in_the_documents_tab_is_cited_by_the_next_question(laptop: Page, store: IndexStore, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = tmp_path / "kinship-mentoring.txt"
    path.write_text(PAPER, encoding="utf-8")
    choose_paper(laptop, path)
    laptop.locator("#paper-title textarea").fill("Letter on kinship care mentoring")
    laptop.locator("#paper-date textarea, #paper-date input").fill("2024-05-01")
    laptop.locator("#paper-add").click()
    doc_id = "2024-05-01-letter-on-kinship-care-mentoring"
    try:
        expect(laptop.locator("#paper-status")).to_contain_text("is added: the next question can cite it", timeout=120_000)
        expect(laptop.locator(f'#papers button[data-doc="{doc_id}"]')).to_be_visible()

        laptop.locator("#ask-tab-button").click()
        answer = ask(laptop, "Who chairs the Kinship Care Mentoring Scheme?")
        expect(answer).to_contain_text("Eleri Rhys")
        expect(answer.locator(".ref-title").first).to_have_text("Letter on kinship care mentoring")
    finally:
        store.remove(doc_id)  # the session's other tests see the corpus as it was


def test_a_paper_that_cannot_be_read_is_refused_naming_the_file_and_nothing_is_added(laptop: Page, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    path = tmp_path / "blank-letter.txt"
    path.write_text("  \n\n", encoding="utf-8")
    before = httpx.get(f"{server}/api/documents", timeout=10).json()
    choose_paper(laptop, path)
    laptop.locator("#paper-date textarea, #paper-date input").fill("2024-05-01")
    laptop.locator("#paper-add").click()
    toast = laptop.get_by_test_id("toast-body")
    expect(toast).to_contain_text("blank-letter.txt: the file is empty", timeout=30_000)
    assert "/tmp" not in toast.inner_text() and "gradio" not in toast.inner_text()
    after = httpx.get(f"{server}/api/documents", timeout=10).json()
    assert {d["id"] for d in after} <= {d["id"] for d in before} and not any(d["source"] == path.name for d in after)
