"""The UI (Gradio 6 Blocks): a chat of streamed answers whose [n] references open the cited passage,
with its filters shown as chips, a Stop button, copy and Markdown export with references, ratings kept
in a local JSONL, and the conversation kept in the browser; a reader of the papers; and a tab that
drafts a cited reply to a letter."""

from __future__ import annotations

import asyncio
import datetime as dt
import html
import json
import re
import tempfile
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Literal

import gradio as gr
from fastapi import FastAPI
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from askpfg.answering import Pipeline
from askpfg.api import http_error
from askpfg.corpus import KINDS, SUPPORTED_SUFFIXES, Document, DocumentMeta
from askpfg.drafting import (
    DraftProgress,
    DraftReply,
    LetterError,
    NoPointsError,
    check_letter,
    draft_stream,
    heading_for,
    load_letter,
    split_letter,
    to_docx,
    to_markdown,
)
from askpfg.index import ingest_paths
from askpfg.retrieval import Filters
from askpfg.schemas import Answer, AskError, Citation, Message, TextError, clean_text
from askpfg.settings import PROJECT_ROOT
from askpfg.verify import KIND_NAMES, format_date, normalise_ws

UI_DIR = PROJECT_ROOT / "ui"
BEFORE, AFTER, CONTEXT = 450, 550, 150  # document characters shown around a cited passage (CONTEXT at least)
_MARKER = re.compile(r"\[(\d+)\]")
_HEADING = re.compile(r"^(#{1,6}) +(.+)$", re.MULTILINE)
UI_POINTS_HINT = "type the points to answer in the 'Points to answer' box, one per line, then press 'Draft reply'"
HINT = '<div class="source-empty"><p>Click a numbered reference such as <b>[1]</b> in an answer to read the passage in its document.</p></div>'
ALL_PAPERS = '<span class="chip chip-all">all papers</span>'
READER_HINT = '<div class="source-empty"><p>Choose a paper from the list to read it here.</p></div>'
CORPUS_WIDE = {"never_mentioned", "welsh_unavailable"}  # refusals that filters play no part in
# A click on a paper in the list opens it: the paper's id goes to the server with the HTML component's click event.
OPEN_PAPER_JS = """element.addEventListener('click', (event) => {
  const item = event.target instanceof Element ? event.target.closest('button[data-doc]') : null;
  if (!item) return;
  element.querySelectorAll('button[aria-current]').forEach((b) => b.removeAttribute('aria-current'));
  item.setAttribute('aria-current', 'true');
  trigger('click', { doc: item.dataset.doc });
  document.getElementById('reader-search')?.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
});"""
# A click on "Open the full paper" in the source panel opens it in the reader; the panel announces each new source
# and, once a source is shown, scrolls its highlighted passage into view.
SOURCE_PANEL_JS = """element.setAttribute('aria-live', 'polite');
element.setAttribute('role', 'region');
element.setAttribute('aria-label', 'Source of the selected reference');
element.addEventListener('click', (event) => {
  const button = event.target instanceof Element ? event.target.closest('button.open-paper') : null;
  if (!button) return;
  trigger('click', { doc: button.dataset.doc, start: Number(button.dataset.start), end: Number(button.dataset.end) });
});
watch('value', () => element.querySelector('#source-mark')?.scrollIntoView({ block: 'center' }));"""
SCROLL_TO_PASSAGE_JS = "() => setTimeout(() => document.getElementById('reader-passage')?.scrollIntoView({ block: 'center' }), 50)"
# A question sent while an answer is being written is not started (the ask event runs once at a time):
# it stays in the box, and this says why. The Stop button is enabled exactly while an answer runs.
BUSY_JS = """() => document.querySelector('#stop')?.disabled === false
  ? 'Still answering the last question: press Stop to end it, or send this one when the answer is done (it stays in the box).'
  : ''"""
BROWSER_KEY = "askpfg-conversation"
# Gradio sends the secret to the page in its config, so it only scrambles what localStorage holds;
# a fixed one lets a conversation outlive a server restart.
BROWSER_SECRET = "askpfg-conversation-v1"
_FEEDBACK_LOCK = threading.Lock()
_END = object()  # the pipeline's stream is over
THEME = gr.themes.Default(
    primary_hue="teal",
    secondary_hue="amber",
    neutral_hue="slate",
    radius_size="md",
    font=["Inter", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
).set(  # WCAG AA: every text at least 4.5:1 on its background (the defaults give 2.5:1 for grey text and white on teal)
    body_text_color_subdued="*neutral_600",
    color_accent="*primary_700",
    color_accent_soft="*primary_50",
    button_primary_background_fill="*primary_700",
    button_primary_background_fill_hover="*primary_800",
    button_primary_text_color="white",
    button_cancel_background_fill="#b91c1c",
    button_cancel_background_fill_hover="#991b1b",
    button_cancel_text_color="white",
    input_placeholder_color="*neutral_500",
)



class Turn(BaseModel):
    """One answered question as the browser keeps it: the answer without its trace (which can be large),
    the filters it was asked within ("" for none) and the rating given to it."""

    question: str
    answer: Answer
    scope: str = ""
    rating: Literal["Like", "Dislike"] | None = None


def load_turns(value: object) -> list[Turn]:
    """The conversation kept in the browser; empty when there is none or it is not one (an older shape)."""
    if not isinstance(value, list):
        return []
    try:
        return [Turn.model_validate(item) for item in value]
    except ValidationError:
        return []


def store_turns(turns: list[Turn]) -> list[dict]:
    """The conversation as JSON for the browser, the answers' traces left out."""
    return [t.model_dump(mode="json", exclude={"answer": {"trace"}}) for t in turns]


def _sources(answer: Answer) -> list[Citation]:
    return answer.nearest_sources if answer.refused else answer.citations


def _cite(turn: int, n: int, anchor: bool) -> str:
    """A reference link to source n of answer `turn` (the chat's sanitiser drops data-* attributes,
    so the href carries it); only the first link to each source of the latest answer gets id cite-n."""
    id_attr = f' id="cite-{n}"' if anchor else ""
    return f'<a class="cite" href="#source-{turn}-{n}"{id_attr} title="Show source {n}">[{n}]</a>'


def _unescape_markers(text: str) -> str:
    """A paper's own "[3]", escaped in the answer as "\\[3\\]" so it is no citation, shown as written."""
    return text.replace("\\[", "[").replace("\\]", "]")


def snippet(quote: str, limit: int = 160) -> str:
    """The start of a quote, cut at a word and marked "…" when longer than `limit` characters."""
    text = _unescape_markers(normalise_ws(quote))
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit) if " " in text[:limit] else limit].rstrip(" ,;:") + " …"


def scope_note(answer: Answer, scope: str) -> str:
    """For a refusal under filters, that the search was only within them (named) and how to search
    everything; "" when no filter was set or the refusal does not depend on them."""
    if not (answer.refused and scope) or answer.refusal_reason in CORPUS_WIDE:
        return ""
    return f"Searched only within your filters ({scope}): clear them to search everything."


def answer_html(answer: Answer, turn: int, latest: bool, scope: str = "") -> str:
    """An answer as HTML: [n] markers become links that show their source; sources listed below;
    a refusal under filters says so."""
    anchored: set[int] = set()

    def link(n: int) -> str:
        anchor = latest and n not in anchored
        anchored.add(n)
        return _cite(turn, n, anchor)

    body = "".join(
        f"<p>{_unescape_markers(_MARKER.sub(lambda m: link(int(m.group(1))), html.escape(part)))}</p>"
        for part in answer.text.split("\n\n")
        if part.strip()
    )
    refs = "".join(
        f'<li>{link(c.n)} <span class="ref-title">{html.escape(c.title)}</span> '
        f'<span class="ref-date">{format_date(c.date)}</span>{" (the earlier position)" if c.earlier else ""}'
        f'<span class="ref-quote">“{html.escape(snippet(c.quote))}”</span></li>'
        for c in _sources(answer)
    )
    # The copy link copies the hidden plain text (cite.js); the chat's own copy button would copy this HTML.
    tools = (
        f'<p class="answer-tools"><a class="copy-answer" href="#copy-{turn}" role="button">Copy with references</a></p>'
        f'<div class="plain">{html.escape(copy_text(answer, scope))}</div>'  # display: none, so never read out
    )
    if answer.refused:
        label = '<p class="refs-label">Nearest passages, for reference only (not asserted):</p>' if refs else ""
        note = f'<p class="refusal-scope">{html.escape(note)}</p>' if (note := scope_note(answer, scope)) else ""
        return f'<div class="refusal"><p class="refusal-title">Not covered</p>{body}{note}{label}<ol class="refs">{refs}</ol>{tools}</div>'
    mode = "Quoted from the papers" if answer.mode == "extractive" else "Summarised; each sentence checked against its source"
    return f'<div class="answer">{body}<ol class="refs">{refs}</ol><p class="answer-mode">{mode}</p>{tools}</div>'


def _produce(stream: Iterator, stopped: threading.Event, loop: asyncio.AbstractEventLoop, items: asyncio.Queue) -> None:
    """Run the pipeline's stream in its own thread, handing each item to the event loop, until it ends or
    Stop is pressed. The UI's handler only awaits the queue, so Gradio can cancel it at once."""
    try:
        for item in stream:
            if stopped.is_set():
                break
            loop.call_soon_threadsafe(items.put_nowait, item)
    except Exception as exc:  # raised again in the handler
        loop.call_soon_threadsafe(items.put_nowait, exc)
    finally:
        stream.close()
        loop.call_soon_threadsafe(items.put_nowait, _END)


async def stream_answer(pipeline: Pipeline, question: str, history: list[Message], filters: Filters | None) -> AsyncIterator[str | Answer]:
    """The pipeline's deltas, then its Answer, computed in a worker thread; when the consumer stops (Stop
    cancels it), the worker stops at its next item."""
    items: asyncio.Queue = asyncio.Queue()
    stopped = threading.Event()
    stream = pipeline.stream(question, history, filters)
    threading.Thread(target=_produce, args=(stream, stopped, asyncio.get_running_loop(), items), daemon=True).start()
    try:
        while (item := await items.get()) is not _END:
            if isinstance(item, Exception):
                raise item
            yield item
    finally:
        stopped.set()


def chat_messages(turns: list[Turn]) -> list[dict[str, str]]:
    """The whole chat, rendered from the answered turns."""
    messages = []
    for i, turn in enumerate(turns):
        messages.append({"role": "user", "content": html.escape(turn.question)})
        messages.append({"role": "assistant", "content": answer_html(turn.answer, i, latest=i == len(turns) - 1, scope=turn.scope)})
    return messages


def chat_value(turns: list[Turn]) -> gr.Chatbot:
    """The chat as an update: its messages and each answer's thumbs as rated."""
    return gr.Chatbot(value=chat_messages(turns), feedback_value=[t.rating for t in turns])


def _pending(text: str, searching: bool) -> dict[str, str]:
    label = "Searching the papers…" if searching else "Drafting… (only sentences verified against the sources are kept)"
    draft = f'<p class="draft-text">{html.escape(text)}</p>' if text else ""
    return {"role": "assistant", "content": f'<div class="pending">{draft}<p class="pending-label">{label}</p></div>'}


def _doc_html(text: str) -> str:
    """Document text as HTML; its Markdown headings shown as headings."""
    return _HEADING.sub(r'<span class="doc-heading">\2</span>', html.escape(text))


def _people(meta: DocumentMeta) -> str:
    """'Author → recipient', escaped."""
    return " → ".join(html.escape(p) for p in (meta.author, meta.recipient) if p)


def source_html(pipeline: Pipeline, citation: Citation, nearest: bool) -> str:
    """The cited passage highlighted in a window of its document, with the document's details."""
    doc = pipeline.store.document(citation.doc_id)
    if doc is None:
        return '<div class="source-empty"><p>That document is no longer in the index.</p></div>'
    text, start, end = doc.text, citation.start, citation.end
    lo, hi = max(0, start - BEFORE), min(len(text), end + AFTER)
    if lo > 0:  # cut at a paragraph, else a sentence, else a word boundary, keeping some context
        lo = next((c + len(sep) for sep in ("\n", ". ", " ") if (c := text.find(sep, lo, start - CONTEXT)) != -1), lo)
    if hi < len(text):
        hi = next((c + len(sep.rstrip()) for sep in ("\n", ". ", " ") if (c := text.rfind(sep, end + CONTEXT, hi)) != -1), hi)
    passage = (
        ("… " if lo > 0 else "")
        + _doc_html(text[lo:start].lstrip())
        + f'<mark id="source-mark">{html.escape(text[start:end])}</mark>'
        + _doc_html(text[end:hi].rstrip())
        + (" …" if hi < len(text) else "")
    )
    meta = doc.meta
    flag = '<span class="badge badge-warn">nearest passage, not asserted</span>' if nearest else ""
    heading = f'<p class="source-heading">§ {html.escape(citation.heading)}</p>' if citation.heading else ""
    return (
        f'<div class="source-card"><div class="source-top"><span class="badge">[{citation.n}]</span>'
        f'<span class="badge badge-kind">{KIND_NAMES.get(meta.kind, meta.kind)}</span>{flag}</div>'
        f'<h2 class="source-title">{html.escape(meta.title)}</h2>'
        f'<p class="source-meta">{format_date(meta.date.isoformat())}</p>'
        f'<p class="source-people">{_people(meta)}</p>{heading}'
        f'<div class="source-text">{passage}</div>'
        f'<p class="source-actions"><button type="button" class="open-paper" data-doc="{html.escape(meta.id)}" data-start="{start}" '
        f'data-end="{end}">Open the full paper</button></p>'
        f'<p class="source-foot">{html.escape(meta.id)} · characters {start}–{end}</p></div>'
    )


def _references(answer: Answer) -> tuple[str, list[str]]:
    """The label of an answer's reference list and its lines, "[n] title (kind, date): “quote”"."""
    label = "Nearest passages (not asserted)" if answer.refused else "References"
    return label, [
        f"[{c.n}] {c.title} ({KIND_NAMES.get(c.kind, c.kind)}, {format_date(c.date)}{', the earlier position' if c.earlier else ''}): "
        f"“{normalise_ws(c.quote)}”"
        for c in _sources(answer)
    ]


def _body(answer: Answer, scope: str) -> str:
    """The answer's text, with the note of a refusal under filters."""
    return f"{answer.text}\n\n{note}" if (note := scope_note(answer, scope)) else answer.text


def copy_text(answer: Answer, scope: str = "") -> str:
    """The answer as plain text with numbered references, for pasting into a reply or briefing."""
    label, refs = _references(answer)
    return f"{_body(answer, scope)}\n\n{label}\n" + "\n".join(refs) if refs else _body(answer, scope)


def conversation_markdown(turns: list[Turn], exported: dt.date | None = None) -> str:
    """The conversation as Markdown: each question a heading, its answer, then its numbered references."""
    parts = [f"# Questions to the Programme for Government papers\n\nExported from askpfg on {format_date((exported or dt.date.today()).isoformat())}."]
    for i, turn in enumerate(turns, start=1):
        scope = f"\n\n*Searched within: {turn.scope}*" if turn.scope else ""
        label, refs = _references(turn.answer)
        listed = f"\n\n**{label}**\n\n" + "\n".join(f"- {line}" for line in refs) if refs else ""
        parts.append(f"## {i}. {normalise_ws(turn.question)}{scope}\n\n{_body(turn.answer, turn.scope)}{listed}")
    return "\n\n".join(parts) + "\n"


def export_file(turns: list[Turn]) -> gr.DownloadButton:
    """The export button, holding a fresh Markdown file of the conversation (disabled while there is none)."""
    if not turns:
        return gr.DownloadButton(value=None, interactive=False)
    path = Path(tempfile.mkdtemp(prefix="askpfg-chat-")) / "askpfg-conversation.md"
    path.write_text(conversation_markdown(turns), encoding="utf-8")
    return gr.DownloadButton(value=str(path), interactive=True)


def feedback_record(turns: list[Turn], index: int, liked: bool | None, at: dt.datetime | None = None) -> dict:
    """One rating as the feedback file keeps it: the question, the conversation before it, the answer and its
    citations; `liked` None is a rating taken back (its thumb clicked again)."""
    turn = turns[index]
    history = [{"role": r, "content": c} for t in turns[:index] for r, c in (("user", t.question), ("assistant", t.answer.text))]
    return {
        "at": (at or dt.datetime.now(dt.timezone.utc)).isoformat(timespec="seconds"),
        "rating": "withdrawn" if liked is None else "up" if liked else "down",
        "question": turn.question,
        "history": history,
        "filters": turn.scope,
        "answer": turn.answer.text,
        "refused": turn.answer.refused,
        "refusal_reason": turn.answer.refusal_reason,
        "citations": [c.model_dump() for c in turn.answer.citations],
        "nearest_sources": [c.model_dump() for c in turn.answer.nearest_sources],
    }


def write_feedback(path: Path, record: dict) -> None:
    """Append one rating to the feedback JSONL (one writer at a time)."""
    with _FEEDBACK_LOCK:
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def filters_from(since: str | None, until: str | None, kinds: list[str] | None, doc_ids: list[str] | None) -> Filters | None:
    """The filter controls as Filters (None when nothing narrows the search); an AskError for filters
    that no paper could match (an inverted date range, no kind ticked), before any search."""
    values: dict[str, object] = {}
    for name, text in (("since", since), ("until", until)):
        if text and text.strip():
            try:
                values[name] = Filters.model_validate({name: text.strip()}).model_dump()[name]
            except ValidationError as exc:
                raise AskError(f"'{name.capitalize()}' must be a date written YYYY-MM-DD, e.g. 2022-07-22") from exc
    since_day, until_day = values.get("since"), values.get("until")
    if since_day and until_day and since_day > until_day:
        raise AskError(
            f"'Since' ({format_date(since_day.isoformat())}) is after 'Until' ({format_date(until_day.isoformat())}), "
            "so no paper can match: swap the two dates"
        )
    if not kinds:
        raise AskError("No kind of paper is ticked under Filters, so no paper can match: tick at least one kind (all of them to search everything)")
    if set(kinds) != set(KINDS):
        values["kinds"] = kinds
    if doc_ids:
        values["doc_ids"] = doc_ids
    return Filters(**values) if values else None


def scope_labels(filters: Filters | None, titles: dict[str, str]) -> list[str]:
    """The filters in words, one label each: the chips by the question box, and what a refusal under them names."""
    if filters is None:
        return []
    labels = [f"{name} {format_date(day.isoformat())}" for name, day in (("since", filters.since), ("until", filters.until)) if day]
    if filters.kinds:
        labels.append("kinds: " + ", ".join(KIND_NAMES.get(k, k) for k in filters.kinds))
    return labels + [f"paper: {titles.get(d, d)}" for d in filters.doc_ids or []]


def scope_html(labels: list[str], problem: str = "") -> str:
    """Chips naming the active filters ('all papers' when none), or what is wrong with them."""
    if problem:
        return f'<p class="scope"><span class="chip chip-error" role="alert">{html.escape(problem)}</span></p>'
    chips = "".join(f'<span class="chip" title="{html.escape(label)}">{html.escape(label)}</span>' for label in labels)
    return f'<p class="scope"><span class="scope-label">Searching</span>{chips or ALL_PAPERS}</p>'


def paper_list_html(metas: list[DocumentMeta]) -> str:
    """The papers newest first, each a button that opens it in the reader (every field escaped)."""
    if not metas:
        return '<div class="source-empty"><p>No papers are indexed yet.</p></div>'
    items = "".join(
        f'<li><button type="button" class="paper" data-doc="{html.escape(m.id)}"><span class="paper-title">{html.escape(m.title)}</span>'
        f'<span class="paper-meta">{format_date(m.date.isoformat())} · {KIND_NAMES.get(m.kind, m.kind)}</span>'
        f'<span class="paper-people">{_people(m)}</span></button></li>'
        for m in sorted(metas, key=lambda m: m.date, reverse=True)
    )
    return f'<ol class="papers" aria-label="Papers, newest first">{items}</ol>'


def _marked(text: str, pattern: re.Pattern[str] | None) -> tuple[str, int]:
    """Text escaped, each match of the pattern inside a <mark>; and how many matches."""
    if pattern is None:
        return html.escape(text), 0
    parts, pos, count = [], 0, 0
    for match in pattern.finditer(text):
        parts += [html.escape(text[pos : match.start()]), f"<mark>{html.escape(match.group())}</mark>"]
        pos, count = match.end(), count + 1
    return "".join(parts) + html.escape(text[pos:]), count


def _blocks(text: str) -> Iterator[tuple[str, int, int]]:
    """The paper's headings and paragraphs in order: (tag, start, end), the span trimmed of white space; its
    highest headings are h3, under the reader's h2 title, and the others follow without skipping a level."""
    headings = list(_HEADING.finditer(text))
    levels = sorted({len(h.group(1)) for h in headings})
    pos = 0
    for heading in [*headings, None]:
        stop = heading.start() if heading else len(text)
        for piece in re.finditer(r"(?:(?!\n[ \t]*\n).)+", text[pos:stop], re.DOTALL):
            lead, body = len(piece.group()) - len(piece.group().lstrip()), piece.group().strip()
            if body:
                yield "p", pos + piece.start() + lead, pos + piece.start() + lead + len(body)
        if heading:
            title = heading.group(2)
            start = heading.start(2) + len(title) - len(title.lstrip())
            yield f"h{min(levels.index(len(heading.group(1))) + 3, 6)}", start, start + len(title.strip())
            pos = heading.end()


def reader_html(doc: Document, query: str = "", passage: tuple[int, int] | None = None) -> str:
    """A paper's full text for the reader: its Markdown headings as headings, paragraphs as paragraphs,
    every text escaped (papers are data, never markup); matches of `query` marked, in any case and with
    any spacing or line break between its words; a cited passage (its character span) highlighted in place."""
    words = query.split()
    pattern = re.compile(r"\s+".join(map(re.escape, words)), re.IGNORECASE) if words else None
    blocks, found, first = [], 0, True
    p_start, p_end = passage or (0, 0)

    def marked(start: int, end: int) -> str:
        nonlocal found
        text, count = _marked(doc.text[start:end], pattern)
        found += count
        return text

    for tag, start, end in _blocks(doc.text):
        lo, hi = max(start, p_start), min(end, p_end)
        if lo < hi:  # the block holds part of the cited passage
            anchor = ' id="reader-passage"' if first else ""
            first = False
            inner = f'{marked(start, lo)}<mark class="passage"{anchor}>{marked(lo, hi)}</mark>{marked(hi, end)}'
        else:
            inner = marked(start, end)
        blocks.append(f"<{tag}>{inner}</{tag}>")
    shown = html.escape(" ".join(words))
    count = (f"{found} match{'es' if found != 1 else ''} for “{shown}”" if found else f"No match for “{shown}” in this paper") if words else ""
    if not words and not first:
        count = "The cited passage is highlighted."
    meta = doc.meta
    return (
        f'<article class="source-card reader-card"><div class="source-top"><span class="badge badge-kind">{KIND_NAMES.get(meta.kind, meta.kind)}</span></div>'
        f'<h2 class="source-title">{html.escape(meta.title)}</h2>'
        f'<p class="source-meta">{format_date(meta.date.isoformat())}</p><p class="source-people">{_people(meta)}</p>'
        f'<p class="reader-count" role="status">{count}</p>'
        f'<div class="reader-text" tabindex="0" role="region" aria-label="Text of the paper">{"".join(blocks)}</div>'
        f'<p class="source-foot">{html.escape(meta.id)}</p></article>'
    )


def paper_overrides(title: str | None, date: str | None, kind: str | None) -> dict[str, str | None]:
    """The 'Add a paper' fields as `ingest_paths` takes them (the same as `askpfg ingest --title --date --kind`);
    an AskError for a missing or malformed date or an unknown kind, before the file is read."""
    if not (date and date.strip()):
        raise AskError("Give the paper's date, written YYYY-MM-DD (e.g. 2024-02-01): answers name their sources' dates")
    try:
        day = dt.date.fromisoformat(date.strip())
    except ValueError as exc:
        raise AskError(f"'Date' must be a date written YYYY-MM-DD, e.g. 2024-02-01 (not '{date.strip()}')") from exc
    if kind not in KINDS:
        raise AskError(f"Choose the kind of paper: {', '.join(KINDS)}")
    return {"title": normalise_ws(title or "") or None, "date": day.isoformat(), "kind": kind}


def sources_html(reply: DraftReply) -> str:
    """The reference list for the UI's sources panel, every title and quote escaped."""
    if not reply.citations:
        return "<p><em>No sources: nothing in the reply is drawn from the papers.</em></p>"
    return "".join(
        f"<p><strong>[{c.n}]</strong> {html.escape(c.title)}, {format_date(c.date)}</p><blockquote>{html.escape(normalise_ws(c.quote))}</blockquote>"
        for c in reply.citations
    )


def build_draft_tab(pipeline: Pipeline) -> None:
    """The 'Draft a reply' tab's components, built inside an open `gr.Tab` context."""

    def load(path: str | None) -> str:
        if not path:
            return gr.skip()
        try:
            return load_letter(Path(path), pipeline.settings)
        except LetterError as exc:
            raise gr.Error(str(exc).replace(str(Path(path).parent) + "/", "")) from exc

    def find(letter: str) -> tuple[str, str]:
        try:
            found = split_letter(check_letter(clean_text(letter, "The letter"), pipeline.settings))
        except NoPointsError:
            raise gr.Error(str(NoPointsError(UI_POINTS_HINT))) from None
        except (LetterError, TextError) as exc:
            raise gr.Error(str(exc)) from exc
        limit = pipeline.settings.max_points
        over = f" A reply answers at most {limit}: delete some." if len(found.points) > limit else ""
        return "\n".join(found.points), f"Found {len(found.points)} point(s).{over} Edit, add or delete lines, then draft the reply."

    def draft(letter: str, points: str) -> Iterator[tuple]:
        """Draft point by point, saying which point it is on; then the editable reply, its sources and the .docx."""
        try:
            given = [p for p in clean_text(points, "The points").splitlines() if p.strip()]
            for step in draft_stream(clean_text(letter, "The letter"), pipeline, given or None):
                if isinstance(step, DraftProgress):
                    label = f"Drafting point {step.index} of {step.total}: *{html.escape(heading_for(step.point))}* …"
                    yield gr.skip(), gr.skip(), gr.skip(), label, gr.skip()
                    continue
                reply = step
        except NoPointsError:
            raise gr.Error(str(NoPointsError(UI_POINTS_HINT))) from None
        except (LetterError, AskError) as exc:
            raise gr.Error(str(exc)) from exc
        path = to_docx(reply, Path(tempfile.mkdtemp(prefix="askpfg-reply-")) / "reply.docx")
        gaps = f" {len(reply.not_covered)} part(s) are not covered by the papers and need input." if reply.not_covered else ""
        done = f"Drafted {len(reply.points)} point(s).{gaps} Edit the reply if you wish, then download it."
        yield to_markdown(reply, references=False), sources_html(reply), gr.File(str(path), visible=True), done, reply

    def save(edited: str, reply: DraftReply | None) -> tuple[gr.File, str]:
        """The .docx of the reply as edited (its references stay as drafted)."""
        if reply is None:
            raise gr.Error("Draft a reply first: paste a letter, find its points, then press 'Draft reply'")
        path = to_docx(reply, Path(tempfile.mkdtemp(prefix="askpfg-reply-")) / "reply.docx", clean_text(edited, "The reply"))
        return gr.File(str(path), visible=True), "The .docx now holds your edits."

    gr.Markdown(
        "Paste a letter or upload it, check the points found in it, then draft a reply. Every factual "
        "sentence cites the papers; a point they do not answer is marked **NOT COVERED** for you to fill in."
    )
    drafted = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=360):
            letter = gr.Textbox(label="Letter", lines=14, max_lines=30, placeholder="Paste the incoming letter here", elem_id="draft-letter")
            upload = gr.UploadButton(  # a button named by its text (Gradio's drop zone is not)
                "…or upload it (.txt, .md, .docx, .pdf)", file_types=[".txt", ".md", ".docx", ".pdf"], type="filepath", elem_id="draft-upload"
            )
            find_button = gr.Button("Find points", elem_id="draft-find")
            points = gr.Textbox(label="Points to answer (one per line)", lines=8, max_lines=20, elem_id="draft-points")
            draft_button = gr.Button("Draft reply", variant="primary", elem_id="draft-reply")
            status = gr.Markdown(elem_id="draft-status")
        with gr.Column(scale=1, min_width=420):
            reply_view = gr.Textbox(
                label="Draft reply (edit it here before downloading)", lines=24, max_lines=60, interactive=True, elem_id="draft-output"
            )
            with gr.Accordion("Sources", open=True, elem_id="draft-sources-panel"):
                sources = gr.HTML(elem_id="draft-sources")
            save_button = gr.Button("Put my edits in the .docx", elem_id="draft-save")
            download = gr.File(label="Download .docx", interactive=False, visible=False, elem_id="draft-docx")  # shown once there is one
    upload.upload(load, upload, letter)
    find_button.click(find, letter, [points, status])
    draft_button.click(draft, [letter, points], [reply_view, sources, download, status, drafted], concurrency_limit=2)
    save_button.click(save, [reply_view, drafted], [download, status])


def build_ui(pipeline: Pipeline) -> gr.Blocks:
    """The chat, source panel, filters and their chips, the reader and drafting tab, all on the shared pipeline."""
    examples = json.loads((UI_DIR / "examples.json").read_text(encoding="utf-8"))
    metas = pipeline.store.documents()
    titles = {m.id: m.title for m in metas}
    idle, running = gr.Button(interactive=False), gr.Button(interactive=True)  # the Stop button's two states

    answering: dict[str, asyncio.Event] = {}  # per page (Gradio session): set when its answer has ended

    async def ask(
        question: str, turns: list[Turn], since: str | None, until: str | None, kinds: list[str] | None, doc_ids: list[str] | None,
        request: gr.Request,
    ) -> AsyncIterator[tuple]:
        """Stream the answer into the chat (Stop enabled meanwhile); then keep the turn in the browser. Async, so
        that Stop cancels it at once (a sync handler is only cancelled when its current step returns)."""
        answering[request.session_hash] = ended = asyncio.Event()
        try:
            async for update in answer_updates(question, turns, since, until, kinds, doc_ids):
                yield update
        finally:
            ended.set()
            if answering.get(request.session_hash) is ended:
                del answering[request.session_hash]

    async def answer_updates(
        question: str, turns: list[Turn], since: str | None, until: str | None, kinds: list[str] | None, doc_ids: list[str] | None
    ) -> AsyncIterator[tuple]:
        """The chat's updates for one question: its pending state, the streamed draft, then the verified answer,
        kept on the server (for follow-ups and sources) and in the browser (for a reload)."""
        try:
            filters = filters_from(since, until, kinds, doc_ids)
            question = pipeline.validate_question(clean_text(question, "The question"))
        except AskError as exc:  # a toast; the chat keeps no error state
            gr.Warning(str(exc))
            yield (gr.skip(),) * 8
            return
        scope = "; ".join(scope_labels(filters, titles))
        history = [Message(role=r, content=c) for t in turns for r, c in (("user", t.question), ("assistant", t.answer.text))]
        shown = chat_messages(turns) + [{"role": "user", "content": html.escape(question)}]
        yield shown + [_pending("", searching=True)], gr.skip(), gr.skip(), HINT, "", running, "", question
        draft, final = "", None
        try:
            async for item in stream_answer(pipeline, question, history, filters):
                if isinstance(item, Answer):
                    final = item
                else:
                    draft += item
                    yield shown + [_pending(draft, searching=False)], *(gr.skip(),) * 7
        except AskError as exc:
            gr.Warning(str(exc))
            yield chat_value(turns), gr.skip(), gr.skip(), gr.skip(), question, idle, "", ""
            return
        except Exception:  # shown by Gradio as an error; the chat is left able to take the next question
            yield chat_value(turns), *(gr.skip(),) * 4, idle, "", ""
            raise
        assert final is not None
        turns = [*turns, Turn(question=question, answer=final, scope=scope)]
        yield chat_value(turns), turns, store_turns(turns), gr.skip(), gr.skip(), idle, gr.skip(), ""

    async def stop_answer(turns: list[Turn], box: str, asked: str, request: gr.Request) -> tuple:
        """After Stop, once the answer has been cancelled (so that none of its updates comes later): the chat as it
        was before the question, which goes back in the box unless something new is there."""
        if ended := answering.get(request.session_hash):
            try:
                await asyncio.wait_for(ended.wait(), timeout=30)
            except TimeoutError:
                pass
        if box.strip():
            return chat_value(turns), idle, "Stopped: that question was not answered.", gr.skip(), ""
        return chat_value(turns), idle, "Stopped: that question was not answered. It is back in the box.", asked, ""

    def restore(stored: object) -> tuple[list[Turn], gr.Chatbot, gr.DownloadButton]:
        """The conversation the browser keeps, its chat and its export (on load, and whenever it changes)."""
        turns = load_turns(stored)
        return turns, chat_value(turns), export_file(turns)

    def rate(turns: list[Turn], data: gr.LikeData) -> tuple:
        """A thumbs up or down on an answer, or one taken back (the same thumb clicked again): written to the
        feedback file with the question, answer and citations."""
        index = data.index if isinstance(data.index, int) else data.index[0]
        turn = index // 2
        if index % 2 == 0 or turn >= len(turns):  # a question's message
            return gr.skip(), gr.skip()
        given = "Like" if data.liked in (True, "Like") else "Dislike" if data.liked in (False, "Dislike") else None  # None: unselected
        rating = None if given == turns[turn].rating else given
        if rating == turns[turn].rating:
            return gr.skip(), gr.skip()
        write_feedback(pipeline.settings.feedback_path, feedback_record(turns, turn, None if rating is None else rating == "Like"))
        turns = [t.model_copy(update={"rating": rating}) if i == turn else t for i, t in enumerate(turns)]
        return turns, store_turns(turns)

    def show_scope(since: str | None, until: str | None, kinds: list[str] | None, doc_ids: list[str] | None) -> tuple[str, gr.Button]:
        """The chips for the filters as now set, and the 'Clear filters' button while any is set."""
        try:
            labels = scope_labels(filters_from(since, until, kinds, doc_ids), titles)
        except AskError as exc:
            return scope_html([], str(exc)), gr.Button(visible=True)
        return scope_html(labels), gr.Button(visible=bool(labels))

    def paper_html(doc_id: str, query: str, passage: tuple[int, int] | None = None) -> str:
        try:
            return reader_html(pipeline.retriever.document(doc_id), query, passage)
        except KeyError:
            return '<div class="source-empty"><p>That paper is no longer in the index.</p></div>'

    def open_paper(query: str, evt: gr.EventData) -> tuple[str, str, None]:
        """The paper clicked in the list, in the reader, with the search box's matches marked."""
        doc_id = getattr(evt, "doc", "")
        return paper_html(doc_id, query), doc_id, None

    def open_cited(evt: gr.EventData) -> tuple:
        """"Open the full paper" on a source: the Documents tab, the paper with the cited passage highlighted in place."""
        doc_id, span = getattr(evt, "doc", ""), (int(getattr(evt, "start", 0)), int(getattr(evt, "end", 0)))
        return gr.Tabs(selected="documents"), paper_html(doc_id, "", span), doc_id, span, ""

    def choose_paper(path: str | None) -> tuple[str | None, str]:
        return path, f"Chosen: “{html.escape(Path(path).name)}”. Give its date and kind, then add it." if path else ""

    def add_paper(path: str | None, title: str, date: str, kind: str) -> Iterator[tuple]:
        """Ingest an uploaded paper the way `askpfg ingest` does, saying what it is doing; then the paper list and
        the documents filter include it, and the next question can cite it."""
        try:
            if not path:
                raise AskError("Choose the paper's file first")
            overrides = paper_overrides(clean_text(title or "", "The title"), date, kind)
        except (AskError, TextError) as exc:
            raise gr.Error(str(exc)) from exc
        name = Path(path).name
        yield f"Reading and indexing “{html.escape(name)}” (its passages are embedded; a long paper takes a minute) …", gr.skip(), gr.skip()
        report = ingest_paths(pipeline.store, [Path(path)], overrides)
        if report.errors:  # named by the file's name: where Gradio keeps uploads is no business of the user's
            raise gr.Error("; ".join(e.replace(str(Path(path).parent) + "/", "") for e in report.errors))
        doc_id = (report.added or report.updated or report.unchanged)[0]
        metas = pipeline.store.documents()
        titles.update({m.id: m.title for m in metas})
        title = titles.get(doc_id, doc_id)
        done = "is already indexed, unchanged" if report.unchanged else "is added: the next question can cite it"
        yield (
            f"“{html.escape(title)}” ({doc_id}) {done}.",
            paper_list_html(metas),
            gr.Dropdown(choices=[(f"{m.title} ({m.date:%b %Y})", m.id) for m in metas]),
        )

    def search_paper(doc_id: str, passage: tuple[int, int] | None, query: str) -> str:
        return paper_html(doc_id, query, passage) if doc_id else READER_HINT

    def show_source(ref: str, turns: list[Turn]) -> str:
        try:
            turn, n = (int(part) for part in ref.split(":"))
            answer = turns[turn].answer
            citation = next(c for c in _sources(answer) if c.n == n)
        except (ValueError, IndexError, StopIteration):
            return HINT
        return source_html(pipeline, citation, nearest=answer.refused)

    with gr.Blocks(title="askpfg: the Programme for Government papers, cited") as blocks:
        gr.HTML(
            '<div id="masthead"><h1>Ask the Programme for Government papers</h1>'
            "<p>Answers about the Welsh Government's children's services commitments, every sentence "
            "cited to a passage you can check. If the papers do not say, it says so.</p></div>"
        )
        turns = gr.State([])  # the conversation as list[Turn], on the server: what follow-ups and sources read
        saved = gr.BrowserState([], storage_key=BROWSER_KEY, secret=BROWSER_SECRET)  # its copy in the browser, for a reload
        asked = gr.State("")  # the question being answered, given back to the box if it is stopped
        with gr.Tabs(elem_id="tabs") as tabs:
            with gr.Tab("Ask", id="ask", elem_id="ask-tab"):
                with gr.Row(equal_height=False, elem_id="ask-layout"):
                    with gr.Column(scale=3, min_width=320, elem_id="chat-column"):
                        chat = gr.Chatbot(
                            elem_id="answer",
                            label="Conversation",
                            show_label=False,
                            height=520,
                            feedback_options=("Like", "Dislike"),
                            render_markdown=False,  # its messages are HTML built here, every text in it escaped:
                            latex_delimiters=[],  # no Markdown or LaTeX can turn a paper's text into links or markup
                            placeholder="Ask about the Programme for Government papers on children's services.",
                            buttons=[],  # each answer has its own plain-text copy; the chat's would copy its HTML
                        )
                        with gr.Row(elem_id="ask-row"):
                            question = gr.Textbox(
                                elem_id="question",
                                label="Your question",
                                show_label=False,
                                placeholder="e.g. Who chairs the Oversight Board?",
                                lines=1,
                                max_lines=4,
                                scale=5,
                                autofocus=True,
                            )
                            ask_button = gr.Button("Ask", elem_id="ask", variant="primary", scale=1, min_width=80)
                            stop = gr.Button("Stop", elem_id="stop", variant="stop", scale=1, min_width=80, interactive=False)
                        note = gr.HTML("", elem_id="ask-note", js_on_load="element.setAttribute('role', 'status')")
                        with gr.Row(elem_id="scope-row"):
                            chips = gr.HTML(scope_html([]), elem_id="scope-chips")
                            clear = gr.Button("Clear filters", elem_id="clear-filters", size="sm", visible=False, scale=0, min_width=110)
                        with gr.Row(elem_id="chat-tools"):
                            export = gr.DownloadButton(
                                "Export conversation (.md)", elem_id="export", size="sm", interactive=False, scale=0, min_width=200
                            )
                            reset = gr.Button("New conversation", elem_id="reset", size="sm", variant="secondary", scale=0, min_width=160)
                        gr.Examples(examples=[[q] for q in examples], inputs=[question], label="Example questions")
                    with gr.Column(scale=2, min_width=300, elem_id="source-column"):
                        source = gr.HTML(HINT, elem_id="source-panel", label="Source", js_on_load=SOURCE_PANEL_JS)
                        with gr.Accordion("Filters", open=False, elem_id="filters"):
                            with gr.Row():
                                since = gr.Textbox(label="Since", placeholder="YYYY-MM-DD", elem_id="since")
                                until = gr.Textbox(label="Until", placeholder="YYYY-MM-DD", elem_id="until")
                            kinds = gr.CheckboxGroup(
                                [(KIND_NAMES[k].capitalize(), k) for k in KINDS], value=list(KINDS), label="Kinds", elem_id="kinds"
                            )
                            docs = gr.Dropdown(
                                [(f"{m.title} ({m.date:%b %Y})", m.id) for m in metas],
                                multiselect=True,
                                label="Only these documents",
                                elem_id="documents-filter",
                            )
                ref = gr.Textbox(visible="hidden", elem_id="cite-ref")
                trigger = gr.Button(visible="hidden", elem_id="cite-trigger")
            with gr.Tab("Documents", id="documents", elem_id="documents-tab"):
                opened, passage = gr.State(""), gr.State(None)
                with gr.Row(equal_height=False):
                    with gr.Column(scale=2, min_width=300):
                        papers = gr.HTML(lambda: paper_list_html(pipeline.store.documents()), elem_id="papers", js_on_load=OPEN_PAPER_JS)
                        with gr.Accordion("Add a paper", open=False, elem_id="add-paper"):
                            paper_file = gr.UploadButton(
                                f"Choose the paper's file ({', '.join(SUPPORTED_SUFFIXES)})", file_types=list(SUPPORTED_SUFFIXES),
                                type="filepath", elem_id="paper-file",
                            )
                            chosen = gr.State(None)  # the path Gradio gave the upload: never one a client names
                            paper_title = gr.Textbox(label="Title (else its first heading)", elem_id="paper-title")
                            with gr.Row():
                                paper_date = gr.Textbox(label="Date", placeholder="YYYY-MM-DD", elem_id="paper-date")
                                paper_kind = gr.Dropdown(
                                    [(KIND_NAMES[k].capitalize(), k) for k in KINDS], value="letter", label="Kind", elem_id="paper-kind"
                                )
                            add_button = gr.Button("Add to the papers", variant="primary", elem_id="paper-add")
                            added = gr.HTML("", elem_id="paper-status", js_on_load="element.setAttribute('role', 'status')")
                    with gr.Column(scale=3, min_width=300):
                        reader_search = gr.Textbox(label="Search in this paper", placeholder="a word or phrase", elem_id="reader-search")
                        reader = gr.HTML(READER_HINT, elem_id="reader")
            with gr.Tab("Draft a reply", id="draft", elem_id="draft-tab"):
                build_draft_tab(pipeline)

        asking = gr.on(
            [question.submit, ask_button.click],
            ask,
            inputs=[question, turns, since, until, kinds, docs],
            outputs=[chat, turns, saved, source, question, stop, note, asked],
            show_progress_on=chat,
            concurrency_limit=8,
            trigger_mode="once",  # one answer at a time per page: a question sent meanwhile stays in the box (BUSY_JS says so)
        )
        gr.on([question.submit, ask_button.click], None, outputs=note, js=BUSY_JS, trigger_mode="multiple", queue=False)
        # The cancel first: the browser sends a click's events in the order they were registered, each after the last.
        stop.click(None, cancels=[asking])
        stop.click(stop_answer, [turns, question, asked], [chat, stop, note, question, asked], queue=False, show_progress="hidden")
        gr.on([blocks.load, saved.change], restore, saved, [turns, chat, export], show_progress="hidden")
        chat.like(rate, turns, [turns, saved], show_progress="hidden")
        trigger.click(show_source, [ref, turns], source, js="(ref, turns) => [window.askpfgCite || ref, turns]", show_progress="hidden")
        gr.on(
            [since.blur, since.submit, until.blur, until.submit, kinds.change, docs.change],
            show_scope,
            inputs=[since, until, kinds, docs],
            outputs=[chips, clear],
            show_progress="hidden",
            trigger_mode="always_last",  # leaving one date box for the other fires two events: the last one counts
        )
        clear.click(lambda: ("", "", list(KINDS), [], scope_html([]), gr.Button(visible=False)), outputs=[since, until, kinds, docs, chips, clear])
        papers.click(open_paper, reader_search, [reader, opened, passage], show_progress="hidden")
        paper_file.upload(choose_paper, paper_file, [chosen, added], show_progress="hidden")
        add_button.click(add_paper, [chosen, paper_title, paper_date, paper_kind], [added, papers, docs], concurrency_limit=1)
        source.click(open_cited, None, [tabs, reader, opened, passage, reader_search], show_progress="hidden").then(
            None, js=SCROLL_TO_PASSAGE_JS
        )
        reader_search.change(
            search_paper, [opened, passage, reader_search], reader, show_progress="hidden", trigger_mode="always_last"
        ).then(None, js="() => document.querySelector('#reader mark')?.scrollIntoView({ block: 'nearest' })")
        reset.click(lambda: ([], [], [], HINT, ""), outputs=[chat, turns, saved, source, note])
        chat.clear(lambda: ([], [], HINT), outputs=[turns, saved, source])  # the chat's own bin icon
    return blocks


def mount_ui(app: FastAPI, pipeline: Pipeline) -> FastAPI:
    """Mount the UI at / on the API app, with its theme, CSS and reference-click script. Its functions
    read only files uploaded to Gradio (at most `max_upload_bytes`), never the checkout or the index.
    Gradio's app answers every path the API does not, with errors in the API's `{error, detail}` shape."""
    settings = pipeline.settings
    blocks = build_ui(pipeline)
    mounted = gr.mount_gradio_app(
        app,
        blocks,
        path="/",
        theme=THEME,
        css=(UI_DIR / "style.css").read_text(encoding="utf-8"),
        head=f"<script>{(UI_DIR / 'cite.js').read_text(encoding='utf-8')}</script><style>{(UI_DIR / 'page.css').read_text(encoding='utf-8')}</style>",
        footer_links=[],
        ssr_mode=False,
        max_file_size=settings.max_upload_bytes,
        allowed_paths=[],
        blocked_paths=[str(PROJECT_ROOT), str(settings.index_dir), str(settings.corpus_dir)],
    )
    # Gradio refuses a file input that it did not receive by upload (a path such as /etc/passwd sent to
    # /gradio_api/call/load) only once the app has launched; launch() records that, mounting does not
    # (gradio 6.31), so without this any readable file on the machine could be sent in and read back.
    blocks.has_launched = True
    gradio_app = next(route.app for route in mounted.routes if isinstance(route, Mount) and getattr(route.app, "blocks", None) is blocks)
    gradio_app.add_exception_handler(HTTPException, http_error)
    return mounted
