"""The `askpfg` command: corpus build, ingest, search, ask, eval, draft, welsh, serve."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

from askpfg.corpus import KINDS

EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"askpfg: error: {message}", file=sys.stderr)
    return code


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"'{text}' is not a date: use YYYY-MM-DD") from exc


def _kind(text: str) -> str:
    if text not in KINDS:
        raise argparse.ArgumentTypeError(f"unknown kind '{text}'; valid kinds: {', '.join(KINDS)}")
    return text


def _store():
    from askpfg.index import IndexStore
    from askpfg.settings import get_settings

    store = IndexStore(get_settings())
    if store.is_empty():
        print("askpfg: the index is empty; building it from corpus/ (first run only) ...", file=sys.stderr)
        _build(store)
    return store


def _build(store) -> None:
    from tqdm import tqdm

    from askpfg.corpus import load_corpus
    from askpfg.index import build_index

    total = len(load_corpus(store.settings.corpus_dir))
    with tqdm(total=total, desc="Indexing corpus", unit="doc", file=sys.stderr) as bar:
        report = build_index(store, progress=lambda _id: bar.update(1))
    print(f"askpfg: {len(report.added) + len(report.updated)} indexed, {len(report.unchanged)} unchanged, {report.chunks} chunks", file=sys.stderr)


def _filters(args: argparse.Namespace):
    """The filter options as Filters; an AskError when they contradict each other (--since after --until)."""
    from pydantic import ValidationError

    from askpfg.retrieval import Filters
    from askpfg.schemas import AskError

    try:
        return Filters(since=args.since, until=args.until, kinds=args.kind or None, doc_ids=args.doc or None)
    except ValidationError as exc:
        raise AskError(exc.errors()[0]["msg"]) from exc


def _question(text: str) -> str:
    """The question as the API takes it: cleaned (an argument that is not UTF-8 holds lone surrogates)
    and checked by the pipeline's own rule; an AskError saying what is wrong."""
    from askpfg.answering import validate_question
    from askpfg.schemas import clean_text
    from askpfg.settings import get_settings

    return validate_question(clean_text(text, "the question"), get_settings())


# --- commands ------------------------------------------------------------------------------------


def cmd_corpus_build(args: argparse.Namespace) -> int:
    from askpfg.corpus import build_corpus
    from askpfg.settings import get_settings

    settings = get_settings()
    seeds = args.seeds or settings.seeds_dir
    if not seeds.is_dir():
        return _fail(f"seeds folder {seeds} not found: pass --seeds DIR")
    for path in build_corpus(seeds, settings.corpus_dir):
        print(path)
    return 0


def cmd_build(args: argparse.Namespace) -> int:
    from askpfg.index import IndexStore
    from askpfg.settings import get_settings

    _build(IndexStore(get_settings()))
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from askpfg.index import ingest_paths

    if not args.paths and not args.remove:
        return _fail("give one or more files to ingest, or --remove ID")
    store = _store()  # a new index gets the shipped papers first, as every other command gives it
    if args.remove:
        if not store.remove(args.remove):
            return _fail(f"no indexed document has id '{args.remove}' (see `askpfg documents`)", 1)
        print(f"removed {args.remove}")
        return 0
    overrides = {"title": args.title, "date": args.date.isoformat() if args.date else None, "kind": args.kind_one}
    with tqdm(total=len(args.paths), desc="Ingesting", unit="file", file=sys.stderr) as bar:
        report = ingest_paths(store, args.paths, overrides, progress=lambda _id: bar.update(1))
    for doc_id in report.added:
        print(f"added      {doc_id}")
    for doc_id in report.updated:
        print(f"updated    {doc_id}")
    for doc_id in report.unchanged:
        print(f"unchanged  {doc_id}")
    for error in report.errors:
        print(f"askpfg: error: {error}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_documents(args: argparse.Namespace) -> int:
    store = _store()
    metas = store.documents()
    if args.json:
        print(json.dumps([m.model_dump(mode="json") for m in metas], indent=2, ensure_ascii=False))
    else:
        for meta in metas:
            print(f"{meta.date}  {meta.kind:<13} {meta.id}\n            {meta.title}")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    from askpfg.retrieval import Retriever
    from askpfg.schemas import AskError

    try:
        question, filters = _question(args.question), _filters(args)
    except AskError as exc:
        return _fail(str(exc))
    retriever = Retriever(_store())
    passages = retriever.search(question, k=args.k, filters=filters)
    if args.json:
        print(json.dumps([p.__dict__ for p in passages], indent=2, ensure_ascii=False))
        return 0
    if not passages:
        print("No passages match (check the filters).")
    for rank, p in enumerate(passages, start=1):
        print(f"{rank}. [{p.score:.4f}] {p.title} ({p.date}, {p.kind})")
        if p.heading:
            print(f"   § {p.heading}")
        snippet = " ".join(p.text.split())
        print(f"   {snippet[:400]}{'…' if len(snippet) > 400 else ''}\n")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from askpfg.answering import Pipeline
    from askpfg.schemas import Answer, AskError

    try:
        question, filters = _question(args.question), _filters(args)
    except AskError as exc:
        return _fail(str(exc))
    pipeline = Pipeline(store=_store())
    final: Answer | None = None
    try:
        for item in pipeline.stream(question, [], filters):
            if isinstance(item, Answer):
                final = item
            elif not args.json:
                print(item, end="", flush=True)
    except AskError as exc:
        return _fail(str(exc))
    assert final is not None
    if args.json:
        print(final.model_dump_json(indent=2))
        return 0
    print("\n\n--- verified answer ---\n" + final.text)
    sources = final.citations or final.nearest_sources
    if sources:
        print("\nNearest sources (not asserted):" if final.refused else "\nReferences:")
    for c in sources:
        print(f"[{c.n}] {c.title} — {c.date}\n    “{c.quote}”")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from askpfg.evals import main as eval_main

    return eval_main(args)


def cmd_draft(args: argparse.Namespace) -> int:
    """`askpfg draft LETTER [--out reply.md|reply.docx] [--point P ...]`; 2 on a bad letter."""
    from askpfg.answering import get_pipeline
    from askpfg.drafting import (
        LetterError,
        NoPointsError,
        draft_reply,
        letter_points,
        load_letter,
        to_docx,
    )
    from askpfg.schemas import AskError, clean_text
    from askpfg.settings import get_settings

    out: Path | None = args.out
    if out is not None and out.suffix.lower() not in (".md", ".markdown", ".docx"):
        return _fail(f"--out {out}: use a .md or .docx file name")
    try:
        text = clean_text(load_letter(args.letter, get_settings()), f"the letter {args.letter}")
        points = [clean_text(point, f"--point {i}") for i, point in enumerate(args.point or [], 1)] or None
        letter_points(text, points, get_settings())  # no request, or too many, fails before the models load
        reply = draft_reply(text, get_pipeline(), points)
    except NoPointsError:
        return _fail(str(NoPointsError("give the points yourself with --point")))
    except (LetterError, AskError) as exc:
        return _fail(str(exc))
    if out is None:
        print(reply.reply_markdown, end="")
    elif out.suffix.lower() == ".docx":
        to_docx(reply, out)
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(reply.reply_markdown, encoding="utf-8")
    if out is not None:
        print(f"wrote {out}", file=sys.stderr)
    if reply.not_covered:
        print(f"askpfg: {len(reply.not_covered)} point(s) not covered by the papers need input", file=sys.stderr)
    return 0


def cmd_welsh(args: argparse.Namespace) -> int:
    from askpfg.settings import get_settings
    from askpfg.welsh import (
        DICTIONARY_FILE,
        DictionaryError,
        gloss,
        install_dictionary,
        load_dictionary,
    )

    path = get_settings().model_cache_dir / DICTIONARY_FILE
    if args.question is None or not path.is_file():
        try:
            path = install_dictionary(path.parent, args.dictd)
        except (DictionaryError, OSError) as exc:
            return _fail(str(exc), 1)
        print(f"askpfg: Welsh-English dictionary ready ({path})", file=sys.stderr)
    if args.question is not None:
        print(gloss(args.question, load_dictionary(path)))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from askpfg.api import serve

    return serve(args.host, args.port)


# --- parser --------------------------------------------------------------------------------------


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kind", type=_kind, action="append", help=f"only this kind of document ({', '.join(KINDS)}); repeatable")
    parser.add_argument("--since", type=_date, help="only documents dated on or after YYYY-MM-DD")
    parser.add_argument("--until", type=_date, help="only documents dated on or before YYYY-MM-DD")
    parser.add_argument("--doc", action="append", help="only this document id; repeatable")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="askpfg",
        description="Ask cited questions of the Welsh Government's Programme for Government papers on children's services.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    corpus = sub.add_parser("corpus", help="regenerate corpus/ from the seed extracts")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", required=True, metavar="ACTION")
    build_corpus = corpus_sub.add_parser("build", help="clean ../shared/seeds into corpus/*.md (deterministic)")
    build_corpus.add_argument("--seeds", type=Path, help="seed folder (default: ASKPFG_SEEDS_DIR or ../shared/seeds)")
    build_corpus.set_defaults(func=cmd_corpus_build)

    build = sub.add_parser("build", help="index corpus/ into Chroma (skips unchanged documents)")
    build.set_defaults(func=cmd_build)

    ingest = sub.add_parser("ingest", help="add or update documents (.md .txt .pdf .docx .html) in the index")
    ingest.add_argument("paths", nargs="*", type=Path, help="files to ingest")
    ingest.add_argument("--title", help="title for files without front matter")
    ingest.add_argument("--date", type=_date, help="date (YYYY-MM-DD) for files without front matter")
    ingest.add_argument("--kind", dest="kind_one", type=_kind, help=f"kind for files without front matter ({', '.join(KINDS)})")
    ingest.add_argument("--remove", metavar="ID", help="remove the document with this id instead")
    ingest.set_defaults(func=cmd_ingest)

    documents = sub.add_parser("documents", help="list the indexed documents")
    documents.add_argument("--json", action="store_true", help="machine-readable output")
    documents.set_defaults(func=cmd_documents)

    search = sub.add_parser("search", help="show the passages that best match a question (no answer)")
    search.add_argument("question")
    search.add_argument("--k", type=int, default=5, help="how many passages (default 5)")
    search.add_argument("--json", action="store_true", help="machine-readable output")
    _add_filters(search)
    search.set_defaults(func=cmd_search)

    ask = sub.add_parser("ask", help="answer a question with verified citations")
    ask.add_argument("question")
    ask.add_argument("--json", action="store_true", help="print the Answer as JSON")
    _add_filters(ask)
    ask.set_defaults(func=cmd_ask)

    evaluate = sub.add_parser("eval", help="run the evaluation set through the real pipeline")
    evaluate.add_argument("--cases", type=Path, default=Path("evals/cases.jsonl"), help="cases file (JSONL)")
    evaluate.add_argument("--out", type=Path, help="write one result per line here (JSONL)")
    evaluate.add_argument("--limit", type=int, help="only the first N cases")
    evaluate.add_argument("--category", help="only cases of this category")
    evaluate.add_argument(
        "--with-docs", type=Path, metavar="FOLDER",
        help="also ingest the papers in FOLDER into a temporary index beside corpus/ (your index is not touched)",
    )
    evaluate.add_argument(
        "--from-feedback", nargs="?", const=True, type=Path, metavar="FILE",
        help="print the UI's ratings (FILE, default ASKPFG_FEEDBACK_PATH) as cases (JSONL) instead of evaluating",
    )
    evaluate.add_argument("--letters", nargs="?", const=Path("evals/letters"), type=Path, help="evaluate reply drafting on the letters folder instead")
    for name in ("answer-accuracy", "citation-accuracy", "quotes-verified", "refused-unanswerable"):
        evaluate.add_argument(f"--min-{name}", type=float, help=f"exit 1 if {name.replace('-', ' ')} is below this fraction")
    evaluate.add_argument("--max-false-refusals", type=float, help="exit 1 if false refusals exceed this fraction")
    evaluate.set_defaults(func=cmd_eval)

    draft = sub.add_parser("draft", help="draft a cited reply to a letter (.txt .docx .pdf)")
    draft.add_argument("letter", type=Path, help="the incoming letter")
    draft.add_argument("--out", type=Path, help="write the reply here (.md or .docx)")
    draft.add_argument("--point", action="append", help="a point to answer (skips point detection); repeatable")
    draft.set_defaults(func=cmd_draft)

    welsh = sub.add_parser(
        "welsh", help="install the Welsh-English dictionary that reads Welsh questions (set-up runs this)",
        description="Read the FreeDict Welsh-English dictionary from Debian's dict-freedict-cym-eng package (installed "
        "with apt-get) so Welsh questions can be answered from the English papers; with a QUESTION, show how it is "
        "read into English.",
    )
    welsh.add_argument("question", nargs="?", help="a Welsh question to read into English")
    welsh.add_argument(
        "--dictd", type=Path, default=Path("/usr/share/dictd"), metavar="DIR",
        help="the folder holding freedict-cym-eng.index and .dict.dz (default /usr/share/dictd)",
    )
    welsh.set_defaults(func=cmd_welsh)

    serve = sub.add_parser("serve", help="serve the chat UI at / and the API at /api")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
