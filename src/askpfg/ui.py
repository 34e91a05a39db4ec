"""The UI (Gradio 6 Blocks): a chat of streamed answers whose [n] references open the cited passage,
and a tab that drafts a cited reply to a letter."""

from __future__ import annotations

import html
import json
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import gradio as gr
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.routing import Mount

from askpfg.answering import Pipeline
from askpfg.api import http_error
from askpfg.corpus import KINDS
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
from askpfg.retrieval import Filters
from askpfg.schemas import Answer, AskError, Citation, Message, TextError, clean_text
from askpfg.settings import PROJECT_ROOT
from askpfg.verify import KIND_NAMES, format_date, normalise_ws

UI_DIR = PROJECT_ROOT / "ui"
BEFORE, AFTER, CONTEXT = 450, 550, 150  # document characters shown around a cited passage (CONTEXT at least)
_MARKER = re.compile(r"\[(\d+)\]")
_HEADING = re.compile(r"^#{1,6} +(.+)$", re.MULTILINE)
UI_POINTS_HINT = "type the points to answer in the 'Points to answer' box, one per line, then press 'Draft reply'"
HINT = '<div class="source-empty"><p>Click a numbered reference such as <b>[1]</b> in an answer to read the passage in its document.</p></div>'
THEME = gr.themes.Default(
    primary_hue="teal",
    secondary_hue="amber",
    neutral_hue="slate",
    radius_size="md",
    font=["Inter", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"],
    font_mono=["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace"],
)

Turn = tuple[str, Answer]


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


def answer_html(answer: Answer, turn: int, latest: bool) -> str:
    """An answer as HTML: [n] markers become links that show their source; sources listed below."""
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
        f'<span class="ref-date">{format_date(c.date)}</span>{" (the earlier position)" if c.earlier else ""}</li>'
        for c in _sources(answer)
    )
    if answer.refused:
        label = '<p class="refs-label">Nearest passages, for reference only (not asserted):</p>' if refs else ""
        return f'<div class="refusal"><p class="refusal-title">Not covered</p>{body}{label}<ol class="refs">{refs}</ol></div>'
    mode = "Quoted from the papers" if answer.mode == "extractive" else "Summarised; each sentence checked against its source"
    return f'<div class="answer">{body}<ol class="refs">{refs}</ol><p class="answer-mode">{mode}</p></div>'


def chat_messages(turns: list[Turn]) -> list[dict[str, str]]:
    """The whole chat, rendered from the answered turns."""
    messages = []
    for i, (question, answer) in enumerate(turns):
        messages.append({"role": "user", "content": html.escape(question)})
        messages.append({"role": "assistant", "content": answer_html(answer, i, latest=i == len(turns) - 1)})
    return messages


def _pending(text: str, searching: bool) -> dict[str, str]:
    label = "Searching the papers…" if searching else "Drafting… (only sentences verified against the sources are kept)"
    draft = f'<p class="draft-text">{html.escape(text)}</p>' if text else ""
    return {"role": "assistant", "content": f'<div class="pending">{draft}<p class="pending-label">{label}</p></div>'}


def _doc_html(text: str) -> str:
    """Document text as HTML; its Markdown headings shown as headings."""
    return _HEADING.sub(r'<span class="doc-heading">\1</span>', html.escape(text))


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
    people = " → ".join(html.escape(p) for p in (meta.author, meta.recipient) if p)
    flag = '<span class="badge badge-warn">nearest passage, not asserted</span>' if nearest else ""
    heading = f'<p class="source-heading">§ {html.escape(citation.heading)}</p>' if citation.heading else ""
    return (
        f'<div class="source-card"><div class="source-top"><span class="badge">[{citation.n}]</span>'
        f'<span class="badge badge-kind">{KIND_NAMES.get(meta.kind, meta.kind)}</span>{flag}</div>'
        f'<h3 class="source-title">{html.escape(meta.title)}</h3>'
        f'<p class="source-meta">{format_date(meta.date.isoformat())}</p>'
        f'<p class="source-people">{people}</p>{heading}'
        f'<div class="source-text">{passage}</div>'
        f'<p class="source-foot">{html.escape(meta.id)} · characters {start}–{end}</p></div>'
    )


def copy_text(answer: Answer) -> str:
    """The answer as plain text with numbered references, for pasting into a reply or briefing."""
    sources = _sources(answer)
    if not sources:
        return answer.text
    label = "Nearest passages (not asserted)" if answer.refused else "References"
    refs = "\n".join(
        f"[{c.n}] {c.title} ({KIND_NAMES.get(c.kind, c.kind)}, {format_date(c.date)}{', the earlier position' if c.earlier else ''}): “{c.quote}”"
        for c in sources
    )
    return f"{answer.text}\n\n{label}\n{refs}"


def filters_from(since: str | None, until: str | None, kinds: list[str] | None, doc_ids: list[str] | None) -> Filters | None:
    """The filter controls as Filters (None when nothing narrows the search)."""
    values: dict[str, object] = {}
    for name, text in (("since", since), ("until", until)):
        if text and text.strip():
            try:
                values[name] = Filters.model_validate({name: text.strip()}).model_dump()[name]
            except ValidationError as exc:
                raise AskError(f"'{name.capitalize()}' must be a date written YYYY-MM-DD, e.g. 2022-07-22") from exc
    if kinds and set(kinds) != set(KINDS):
        values["kinds"] = kinds
    if doc_ids:
        values["doc_ids"] = doc_ids
    try:
        return Filters(**values) if values else None
    except ValidationError as exc:  # 'Since' after 'Until'
        raise AskError(exc.errors()[0]["msg"]) from exc


def document_rows(pipeline: Pipeline) -> list[list[str]]:
    return [[m.date.isoformat(), KIND_NAMES.get(m.kind, m.kind), m.title, m.author, m.recipient, m.id] for m in pipeline.store.documents()]


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
        yield to_markdown(reply, references=False), sources_html(reply), str(path), done, reply

    def save(edited: str, reply: DraftReply | None) -> tuple[str | None, str]:
        """The .docx of the reply as edited (its references stay as drafted)."""
        if reply is None:
            raise gr.Error("Draft a reply first: paste a letter, find its points, then press 'Draft reply'")
        path = to_docx(reply, Path(tempfile.mkdtemp(prefix="askpfg-reply-")) / "reply.docx", clean_text(edited, "The reply"))
        return str(path), "The .docx now holds your edits."

    gr.Markdown(
        "Paste a letter or upload it, check the points found in it, then draft a reply. Every factual "
        "sentence cites the papers; a point they do not answer is marked **NOT COVERED** for you to fill in."
    )
    drafted = gr.State(None)
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=360):
            letter = gr.Textbox(label="Letter", lines=14, max_lines=30, placeholder="Paste the incoming letter here", elem_id="draft-letter")
            upload = gr.File(label="…or upload it (.txt, .docx, .pdf)", file_types=[".txt", ".md", ".docx", ".pdf"], type="filepath", elem_id="draft-upload")
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
            download = gr.File(label="Download .docx", interactive=False, elem_id="draft-docx")
    upload.upload(load, upload, letter)
    find_button.click(find, letter, [points, status])
    draft_button.click(draft, [letter, points], [reply_view, sources, download, status, drafted], concurrency_limit=2)
    save_button.click(save, [reply_view, drafted], [download, status])


def build_ui(pipeline: Pipeline) -> gr.Blocks:
    """The chat, source panel, filters, corpus list and drafting tab, all on the shared pipeline."""
    examples = json.loads((UI_DIR / "examples.json").read_text(encoding="utf-8"))
    metas = pipeline.store.documents()

    def ask(
        question: str, turns: list[Turn], since: str | None, until: str | None, kinds: list[str] | None, doc_ids: list[str] | None
    ) -> Iterator[tuple]:
        try:
            filters = filters_from(since, until, kinds, doc_ids)
            question = pipeline.validate_question(clean_text(question, "The question"))
        except AskError as exc:  # a toast; the chat keeps no error state
            gr.Warning(str(exc))
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        history = [Message(role=r, content=c) for q, a in turns for r, c in (("user", q), ("assistant", a.text))]
        shown = chat_messages(turns) + [{"role": "user", "content": html.escape(question)}]
        yield shown + [_pending("", searching=True)], turns, HINT, "", ""
        draft, final = "", None
        for item in pipeline.stream(question, history, filters):
            if isinstance(item, Answer):
                final = item
            else:
                draft += item
                yield shown + [_pending(draft, searching=False)], gr.skip(), gr.skip(), gr.skip(), gr.skip()
        assert final is not None
        turns = [*turns, (question, final)]
        yield chat_messages(turns), turns, HINT, copy_text(final), gr.skip()

    def show_source(ref: str, turns: list[Turn]) -> str:
        try:
            turn, n = (int(part) for part in ref.split(":"))
            answer = turns[turn][1]
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
        turns = gr.State([])
        with gr.Tab("Ask", elem_id="ask-tab"):
            with gr.Row(equal_height=False):
                with gr.Column(scale=3, min_width=420):
                    chat = gr.Chatbot(
                        elem_id="answer",
                        show_label=False,
                        height=520,
                        feedback_options=None,
                        render_markdown=False,  # its messages are HTML built here, every text in it escaped:
                        latex_delimiters=[],  # no Markdown or LaTeX can turn a paper's text into links or markup
                        placeholder="Ask about the Programme for Government papers on children's services.",
                        buttons=["copy"],
                    )
                    with gr.Row(elem_id="ask-row"):
                        question = gr.Textbox(
                            elem_id="question",
                            show_label=False,
                            placeholder="e.g. Who chairs the Oversight Board?",
                            lines=1,
                            max_lines=4,
                            scale=5,
                            autofocus=True,
                        )
                        ask_button = gr.Button("Ask", elem_id="ask", variant="primary", scale=1, min_width=90)
                        reset = gr.Button("Reset", elem_id="reset", variant="secondary", scale=1, min_width=90)
                    gr.Examples(examples=[[q] for q in examples], inputs=[question], label="Example questions")
                with gr.Column(scale=2, min_width=320):
                    source = gr.HTML(HINT, elem_id="source-panel", label="Source")
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
                    with gr.Accordion("Copy answer with references", open=False, elem_id="copy"):
                        copy = gr.Textbox(show_label=False, lines=8, buttons=["copy"], interactive=False, elem_id="copy-text")
            ref = gr.Textbox(visible="hidden", elem_id="cite-ref")
            trigger = gr.Button(visible="hidden", elem_id="cite-trigger")
        with gr.Tab("Documents", elem_id="documents-tab"):
            gr.Dataframe(
                value=lambda: document_rows(pipeline),
                headers=["Date", "Kind", "Title", "Author", "Recipient", "Id"],
                interactive=False,
                wrap=True,
                max_height=900,
                column_widths=["8%", "9%", "28%", "20%", "18%", "17%"],
                elem_id="documents",
            )
        with gr.Tab("Draft a reply", elem_id="draft-tab"):
            build_draft_tab(pipeline)

        gr.on(
            [question.submit, ask_button.click],
            ask,
            inputs=[question, turns, since, until, kinds, docs],
            outputs=[chat, turns, source, copy, question],
            show_progress_on=chat,
            concurrency_limit=8,
        )
        trigger.click(show_source, [ref, turns], source, js="(ref, turns) => [window.askpfgCite || ref, turns]", show_progress="hidden")
        reset.click(lambda: ([], [], HINT, "", ""), outputs=[chat, turns, source, copy, question])
        chat.clear(lambda: ([], HINT, ""), outputs=[turns, source, copy])  # the chat's own bin icon
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
        head=f"<script>{(UI_DIR / 'cite.js').read_text(encoding='utf-8')}</script>",
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
