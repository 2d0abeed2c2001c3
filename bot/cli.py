"""The `bot` command: ingest | remove | docs | ask | chat | config | eval | serve | doctor |
backup | restore | bench | train-reader | watch.

Each command parses its arguments and calls one typed function; the functions are what the
tests call. A `BotError` is printed as `error: ...` (what happened, what to do) with exit
status 2; nothing prints a stack trace for bad input. Each command closes the index it
opened, so the catalog's write-ahead log is folded into its file when the command ends.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.config import Settings
from bot.errors import BotError
from bot.types import Answer, Turn

if TYPE_CHECKING:
    from bot.chain import ChatBot

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bot", description="Chat with a collection of news articles, with cited answers."
    )
    parser.add_argument("--data-dir", type=Path, help="Folder for the store (BOT_DATA_DIR).")
    parser.add_argument("--collection", help="Collection name (BOT_COLLECTION).")
    parser.add_argument("--chroma-host", help="Chroma server host (BOT_CHROMA_HOST).")
    parser.add_argument("--chroma-port", type=int, help="Chroma server port (BOT_CHROMA_PORT).")
    parser.add_argument("--embedding-model", help="Embedding model (BOT_EMBEDDING_MODEL).")
    parser.add_argument("--llm-base-url", help="OpenAI-compatible LLM endpoint (BOT_LLM_BASE_URL).")
    parser.add_argument("--llm-model", help="LLM model name (BOT_LLM_MODEL).")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("ingest", help="Add or update articles from files and folders.")
    p.add_argument(
        "paths",
        nargs="+",
        type=str,
        help=".txt .md .html .pdf .jsonl files or folders, article URLs or RSS/Atom feed URLs",
    )
    p.add_argument(
        "--reindex", action="store_true", help="Drop the index first (e.g. after changing model)."
    )
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("remove", help="Delete one document from the index.")
    p.add_argument("doc_id", help="Document id, as listed by `bot docs`.")
    p.set_defaults(func=cmd_remove)

    p = sub.add_parser("docs", help="List the indexed documents.")
    p.add_argument("--json", action="store_true", help="Print JSON lines.")
    p.set_defaults(func=cmd_docs)

    p = sub.add_parser("ask", help="Answer one question.")
    p.add_argument("question", help="The question, in quotes.")
    p.add_argument("--json", action="store_true", help="Print the whole Answer as JSON.")
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("chat", help="A conversation in the terminal (empty line or Ctrl-D ends).")
    p.set_defaults(func=cmd_chat)

    p = sub.add_parser("config", help="Print the effective settings (secrets masked).")
    p.set_defaults(func=cmd_config)

    add_eval_command(sub)
    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[Any], None]]:
    """Commands that live beside their feature: serve, doctor, backup and restore, bench,
    train-reader."""
    from bot import backup, bench, integrity, server, train_reader, web

    return [
        server.add_command,
        integrity.add_command,
        backup.add_command,
        bench.add_command,
        train_reader.add_command,
        web.add_command,
    ]


def add_eval_command(sub: Any) -> None:
    """Register `bot eval` (run: `bot.evaluate.run_eval`; compare: `bot.compare.compare_runs`)."""
    from bot.evaluate import DEFAULT_K

    p = sub.add_parser(
        "eval",
        help="Evaluate answers against a question set, or compare two evaluation runs.",
        description="Answer every question with the same pipeline as the chat, score it "
        "without an LLM judge, and write results.jsonl, metrics.json, report.md and "
        "report.html. `bot eval --compare OLD NEW` lists what got better or worse.",
    )
    p.add_argument(
        "questions",
        nargs="*",
        type=Path,
        help="Question-set JSONL files: id, question, history, answers, unanswerable, "
        "gold_passage_ids, gold_quotes, kind (RAGAS and DeepEval field names work too).",
    )
    p.add_argument(
        "--unanswerable",
        action="append",
        type=Path,
        default=[],
        metavar="FILE",
        help="A question file whose cases are all unanswerable even without the flag (e.g. "
        "SQuAD 2.0 'impossible' questions, which carry empty answers), of kind 'unanswerable' "
        "unless they name one. Repeatable.",
    )
    p.add_argument(
        "--corpus",
        action="extend",
        nargs="+",
        type=Path,
        metavar="PATH",
        help="Documents to evaluate against, ingested into a fresh index in OUT/index used only "
        "by this run (the main index is not touched). Default: the configured index.",
    )
    p.add_argument(
        "--out",
        type=Path,
        help="Output folder (default: eval-out/run-YYYYMMDD-HHMMSS). With --compare: where to "
        "write compare.md.",
    )
    p.add_argument(
        "--k",
        type=int,
        default=DEFAULT_K,
        help=f"Retrieval depth for recall@k and MRR (default {DEFAULT_K}).",
    )
    p.add_argument(
        "--compare",
        nargs=2,
        type=Path,
        metavar=("OLD_DIR", "NEW_DIR"),
        help="Compare two earlier runs' output folders instead of running an evaluation.",
    )
    p.add_argument("--quiet", action="store_true", help="No progress bar.")
    p.set_defaults(func=cmd_eval)


def settings_from_args(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        data_dir=args.data_dir,
        collection=args.collection,
        chroma_host=args.chroma_host,
        chroma_port=args.chroma_port,
        embedding_model=args.embedding_model,
        llm_base_url=args.llm_base_url,
        llm_model=args.llm_model,
    )


# --- commands --------------------------------------------------------------------------------
def cmd_ingest(args: argparse.Namespace, settings: Settings) -> int:
    from bot.index import Index, reset_index
    from bot.ingest import ingest_paths
    from bot.web import ingest_urls, is_url

    urls = [str(p) for p in args.paths if is_url(str(p))]
    paths = [Path(p) for p in args.paths if not is_url(str(p))]
    if args.reindex:
        reset_index(settings)
    index = Index(settings)
    try:
        report = ingest_paths(index, paths, progress=not args.quiet) if paths else None
        report = ingest_urls(index, urls, report, progress=not args.quiet) if urls else report
        assert report is not None  # argparse requires at least one path or URL
        print(report.summary())
        print(
            f"The index now holds {index.catalog.count_documents()} documents, "
            f"{index.count_passages()} passages."
        )
    finally:
        index.close()
    return 1 if report.errors else 0


def cmd_remove(args: argparse.Namespace, settings: Settings) -> int:
    from bot.index import Index

    index = Index(settings)
    try:
        info = index.remove(args.doc_id)
    finally:
        index.close()
    print(f"Removed {info.doc_id} ({info.title}, {info.passages} passages).")
    return 0


def cmd_docs(args: argparse.Namespace, settings: Settings) -> int:
    from dataclasses import asdict

    from bot.index import Index

    index = Index(settings)
    try:
        docs = index.documents()
    finally:
        index.close()
    if args.json:
        for doc in docs:
            print(json.dumps(asdict(doc), ensure_ascii=False))
        return 0
    if not docs:
        print("No documents yet. Add some with `bot ingest PATH...`.")
    for doc in docs:
        date = f" {doc.date}" if doc.date else ""
        print(f"{doc.doc_id}\t{doc.passages} passages\t{doc.title}{date}\t({doc.source})")
    return 0


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chain import ChatBot, validate_question

    validate_question(args.question, settings.max_question_chars)  # before loading models
    bot = ChatBot(settings)
    try:
        answer = bot.answer(args.question, [])
    finally:
        bot.index.close()
    print(
        json.dumps(answer.to_dict(), ensure_ascii=False, indent=2) if args.json else render(answer)
    )
    return 0


def cmd_chat(args: argparse.Namespace, settings: Settings) -> int:
    from bot.chain import ChatBot

    bot = ChatBot(settings)
    try:
        return _chat(bot)
    finally:
        bot.index.close()


def _chat(bot: ChatBot) -> int:
    from bot.chain import Delta

    history: list[Turn] = []
    print("Ask about the articles. An empty line ends the conversation.")
    while True:
        try:
            question = input("\nyou> ").strip()
        except EOFError:
            break
        if not question:
            break
        try:
            answer = None
            print("bot> ", end="", flush=True)
            for event in bot.stream(question, history):
                if isinstance(event, Delta):
                    print(event.text, end="", flush=True)
                else:
                    answer = event
        except BotError as exc:
            print(f"\nerror: {exc}")
            continue
        assert answer is not None
        print("\n" + render_sources(answer))
        history += [Turn("user", question), Turn("assistant", answer.text)]
    return 0


def cmd_config(args: argparse.Namespace, settings: Settings) -> int:
    for name, value in settings.describe().items():
        print(f"BOT_{name.upper()}={value}")
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    """`bot eval`: run an evaluation, or compare two runs' folders."""
    from datetime import datetime

    from bot.compare import compare_runs
    from bot.eval_report import render_comparison, summary_lines
    from bot.evaluate import run_eval

    if args.compare:
        if args.questions or args.corpus or args.unanswerable:
            raise BotError("--compare takes two output folders and no question files or corpus.")
        text = render_comparison(compare_runs(*args.compare))
        print(text)
        if args.out:
            args.out.mkdir(parents=True, exist_ok=True)
            (args.out / "compare.md").write_text(text + "\n", encoding="utf-8")
            print(f"Wrote {args.out / 'compare.md'}")
        return 0
    if not args.questions and not args.unanswerable:
        raise BotError("Name at least one question file: `bot eval QUESTIONS.jsonl`.")
    out = args.out or Path("eval-out") / datetime.now().strftime("run-%Y%m%d-%H%M%S")
    report = run_eval(
        settings,
        args.questions,
        out,
        corpus=args.corpus,
        k=args.k,
        unanswerable_files=args.unanswerable,
        progress=not args.quiet,
    )
    print("\n".join(summary_lines(report.metrics)))
    print(f"Wrote {', '.join(str(p) for p in report.files.values())}")
    return 0


# --- output -----------------------------------------------------------------------------------
def render(answer: Answer) -> str:
    """An answer and its sources as plain text."""
    lines = [answer.text]
    if answer.standalone_question != answer.question:
        lines.append(f"(searched for: {answer.standalone_question})")
    sources = render_sources(answer)
    return "\n".join(lines + ([sources] if sources else []))


def render_sources(answer: Answer) -> str:
    return "\n".join(
        f"[{c.n}] {c.title}{', ' + c.date if c.date else ''} ({c.source}, {c.passage_id}): {c.quote}"
        for c in answer.citations
    )


def main(argv: list[str] | None = None) -> int:
    from bot.embeddings import quiet_libraries

    quiet_libraries()
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = settings_from_args(args)
        return int(args.func(args, settings) or 0)
    except BotError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except BrokenPipeError:  # output piped into `head` and the like
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
