"""`bot bench`: speed and memory on this machine, against a plain LangChain pipeline.

This module owns the benchmark: the synthetic corpus it builds, the measurements and their
report. It measures, for a corpus of N passages:

1. ingest: passages per second through the real path (`ingest_paths` -> `ingest_documents` ->
   `Index`) in a separate process, with that process's peak RSS, against the raw
   `SentenceTransformer.encode` throughput of the same model on the same texts (the limit);
2. query: p50/p95 latency of `ChatBot.answer()` (offline extractive mode) and recall@5, and
   in the same run a plain LangChain pipeline (langchain-chroma `Chroma` +
   langchain-huggingface `HuggingFaceEmbeddings` + `similarity_search(k=5)`) on the same texts;
3. cold start: a fresh `bot ask` process, from spawn to its printed answer;
4. the real server (`bot serve`) under concurrent `POST /api/ask` clients;
5. the query benchmark again with the vectors in a Chroma server (`chroma run`).

The corpus is real text, varied so that every passage is distinct: the SQuAD 2.0 dev sample
in `eval/squad2-dev-sample/` and the project's article (both in the repository; `--squad` and
`--article` point elsewhere). Paragraphs of the SQuAD articles alternate between two
roles: "gold" paragraphs are ingested verbatim, one document each, and their questions are
the query set (gold = the passages of that document); the other paragraphs, with the
article's sentences, are a pool of sentences that are recombined, 1 to 4 from the same
source article in a seeded order, into distinct filler paragraphs of 10-paragraph filler
articles. Fillers never contain a gold paragraph's sentence, so a question's gold passages
are the only ones written to answer it, while the fillers are on the same topics.

What it leaves out: answer quality (that is `bot eval`), LLM mode, and GPU. Timings are wall
clock on a shared machine: the report records the load average so runs can be compared.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.errors import ConfigError
from bot.jsonl import json_objects
from bot.metrics import percentile
from bot.procs import PROJECT_ROOT, child_env, free_port, running_server
from bot.types import Document

#: The default inputs ship with the repository; `--squad` and `--article` override them.
SQUAD_DIR = PROJECT_ROOT / "eval" / "squad2-dev-sample"
ARTICLE = PROJECT_ROOT / "corpus" / "caucasus-peace-talks.txt"
DEFAULT_OUT = PROJECT_ROOT / "bench-out"

FILLER_PARAGRAPHS_PER_ARTICLE = 10
#: Fillers stay between the splitter's minimum and maximum, so each is exactly one passage.
FILLER_MIN_CHARS = 80
FILLER_MAX_CHARS = 900
WARM_UP_QUESTIONS = 3


@dataclass(frozen=True)
class BenchOptions:
    """What to measure, and where to put the corpus and the index."""

    passages: int = 1000
    out_dir: Path = DEFAULT_OUT
    questions: int = 0  # 0 = every question whose gold paragraph is in the corpus
    raw_sample: int = 2000
    cold_start: bool = True
    cold_start_runs: int = 3
    server: bool = True
    server_clients: int = 20
    server_requests: int = 200
    chroma_server: bool = True
    reuse_index: bool = False
    squad_dir: Path = SQUAD_DIR
    article: Path = ARTICLE


@dataclass
class Question:
    question: str
    gold_doc_ids: set[str]


@dataclass
class Corpus:
    """The benchmark corpus: documents whose passages number exactly `passages`."""

    documents: list[Document]
    questions: list[Question]
    passages: int
    gold_passages: int
    description: str
    texts: list[str] = field(default_factory=list)  # what ingest embeds, in order


# --- the corpus ----------------------------------------------------------------------------------
def build_corpus(passages: int, squad_dir: Path = SQUAD_DIR, article: Path = ARTICLE) -> Corpus:
    """A corpus of exactly `passages` passages (see the module docstring for how)."""
    from bot.index import embedding_text
    from bot.ingest import split_passages
    from bot.loaders import doc_id_for, normalise_text
    from bot.text import sentence_spans

    squad_passages = squad_dir / "squad2_passages.jsonl"
    if not squad_passages.exists() or not article.exists():
        raise ConfigError(
            f"The benchmark corpus needs {squad_passages} and {article}. Both ship with the "
            "repository (eval/squad2-dev-sample/, corpus/); run from a full checkout, or point "
            "--squad and --article at copies."
        )
    paragraphs = _read_jsonl(squad_passages)
    by_title: dict[str, list[dict[str, Any]]] = {}
    for record in paragraphs:
        by_title.setdefault(record["title"], []).append(record)
    gold_records = [r for group in by_title.values() for r in group[0::2]]
    pools: dict[str, list[str]] = {
        title: [r["text"][s:e] for r in group[1::2] for s, e in sentence_spans(r["text"])]
        for title, group in by_title.items()
    }
    article_text = normalise_text(article.read_text(encoding="utf-8"))
    article_doc = Document(
        doc_id_for(article.name), "Caucasus peace talks", article_text, article.name
    )
    pools["Caucasus peace talks"] = [
        article_text[s:e] for s, e in sentence_spans(article_text) if e - s >= 30
    ]

    documents = [article_doc]
    count = len(split_passages(article_doc))
    gold_ids: set[str] = set()
    budget = max(passages // 2, 1)
    for record in gold_records:
        doc = Document(record["id"], record["title"], normalise_text(record["text"]), "squad2-dev")
        n = len(split_passages(doc))
        if count + n > budget:
            break
        documents.append(doc)
        gold_ids.add(doc.doc_id)
        count += n
    gold_passages = count - len(split_passages(article_doc))

    seen = {p.text for d in documents for p in split_passages(d)}
    titles = sorted(pools)
    filler_number = 0
    while count < passages:
        title = titles[filler_number % len(titles)]
        size = min(FILLER_PARAGRAPHS_PER_ARTICLE, passages - count)
        paragraphs_text = []
        for j in range(size):
            paragraphs_text.append(_filler_paragraph(pools[title], filler_number, j, seen))
        doc_id = f"filler-{filler_number:06d}"
        documents.append(
            Document(
                doc_id, title, "\n\n".join(paragraphs_text), "bench-filler", _date(filler_number)
            )
        )
        count += size
        filler_number += 1

    questions = [
        Question(r["question"], set(r["gold_passage_ids"]))
        for r in _read_jsonl(squad_dir / "squad2_questions.jsonl")
        if r["gold_passage_ids"] and r["gold_passage_ids"][0] in gold_ids
    ]
    split = [p for d in documents for p in split_passages(d)]
    if len(split) != passages:  # the builder's promise; a splitter change would break it
        raise RuntimeError(f"built {len(split)} passages instead of {passages}")
    description = (
        f"{passages} passages: the article ({len(split_passages(article_doc))} passages), "
        f"{len(gold_ids)} SQuAD 2.0 dev paragraphs verbatim ({gold_passages} passages, the gold "
        f"for {len(questions)} questions) and {filler_number} filler articles of up to "
        f"{FILLER_PARAGRAPHS_PER_ARTICLE} paragraphs, each paragraph 1-4 sentences recombined "
        "from the other SQuAD paragraphs of the same Wikipedia article (or from the article)"
    )
    return Corpus(
        documents,
        questions,
        passages,
        gold_passages,
        description,
        [embedding_text(p) for p in split],
    )


def _filler_paragraph(pool: list[str], article: int, paragraph: int, seen: set[str]) -> str:
    """1-4 sentences of `pool` in a seeded order, distinct from every paragraph so far."""
    for attempt in range(1000):
        rng = random.Random(f"{article}:{paragraph}:{attempt}")
        wanted = rng.randint(1, 4)
        chosen: list[str] = []
        for sentence in rng.sample(pool, min(len(pool), 8)):
            if len(chosen) >= wanted and len(" ".join(chosen)) >= FILLER_MIN_CHARS:
                break
            if len(" ".join([*chosen, sentence])) <= FILLER_MAX_CHARS:
                chosen.append(sentence)
        text = " ".join(chosen)
        if len(text) >= FILLER_MIN_CHARS and text not in seen:
            seen.add(text)
            return text
    raise RuntimeError("could not make a distinct filler paragraph; the sentence pool is too small")


def _date(n: int) -> str:
    day = time.gmtime(1_577_836_800 + (n % 1800) * 86_400)  # from 2020-01-01, about five years
    return time.strftime("%Y-%m-%d", day)


def _read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of one of the SQuAD sample's files (a broken line is named)."""
    example = "those described in eval/squad2-dev-sample/README.md"
    return [record for _, _, record in json_objects(path, str(path), ConfigError, example)]


def write_corpus(corpus: Corpus, path: Path) -> None:
    """The corpus as a JSONL feed (one article per line), as `bot ingest` reads it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as handle:
        for doc in corpus.documents:
            record = {"id": doc.doc_id, "title": doc.title, "text": doc.text, "source": doc.source}
            if doc.date:
                record["date"] = doc.date
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


# --- measuring -------------------------------------------------------------------------------------
def _log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def measured_env(settings: Settings) -> dict[str, str]:
    """The environment for a child `bot` process: the measured settings and nothing else of ours."""
    return child_env(
        BOT_DATA_DIR=str(settings.data_dir),
        BOT_COLLECTION=settings.collection,
        BOT_EMBEDDING_MODEL=settings.embedding_model,
        BOT_EMBEDDING_BACKEND=settings.embedding_backend,
        BOT_CACHE_DIR=str(settings.cache_dir),
        BOT_TORCH_THREADS=str(settings.torch_threads),
        BOT_BATCH_SIZE=str(settings.batch_size),
        BOT_TOP_K=str(settings.top_k),
        BOT_CANDIDATES=str(settings.candidates),
        BOT_CORPUS_DIR=str(settings.data_dir / "no-corpus"),
    )


def measure_ingest(settings: Settings, corpus_path: Path) -> dict[str, Any]:
    """Ingest the corpus in a fresh process; its rate, timings and peak RSS."""
    cmd = [sys.executable, "-m", "bot.bench", "--ingest-worker", str(corpus_path)]
    done = subprocess.run(cmd, env=measured_env(settings), capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"the ingest process failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def ingest_worker(corpus_path: Path) -> dict[str, Any]:
    """The ingest process: load the model, then time `ingest_paths` alone; sample RSS."""
    import psutil

    from bot.index import Index
    from bot.ingest import ingest_paths

    settings = Settings.from_env(chroma_host="")
    started = time.perf_counter()
    index = Index(settings)
    index.embedder.embed_query("warm up")
    loaded = time.perf_counter()
    process = psutil.Process()
    samples: list[tuple[float, float]] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.5):
            samples.append((time.perf_counter() - loaded, process.memory_info().rss / 2**20))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    report = ingest_paths(index, [corpus_path])
    finished = time.perf_counter()
    stop.set()
    sampler.join()
    seconds = finished - loaded
    rss = [mb for _, mb in samples] or [process.memory_info().rss / 2**20]
    tenth = [mb for t, mb in samples if t >= 0.1 * seconds][:1] or rss[:1]
    return {
        "passages": report.passages,
        "errors": report.errors,
        "load_s": round(loaded - started, 2),
        "ingest_s": round(seconds, 2),
        "ingest_passages_per_s": round(report.passages / seconds, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "rss_at_10pct_mb": round(tenth[0], 1),
        "rss_at_end_mb": round(rss[-1], 1),
        "torch_threads": settings.torch_threads,
        "index_passages": index.count_passages(),
    }


def measure_raw_encode(settings: Settings, texts: list[str], sample: int) -> dict[str, Any]:
    """The model alone on the same texts ingest embeds (or an even sample), on the backend
    ingest used. For torch that is plain `SentenceTransformer.encode` with its default
    batching (sorted by length, 32 a batch: faster than 64 or 16 here); for onnx-int8, the
    same batching through our ONNX embedder, which has no other encode to compare with."""
    from bot.embeddings import load_embedder, resolve_model_path, set_torch_threads

    set_torch_threads(settings.torch_threads)
    if sample and len(texts) > sample:
        step = len(texts) / sample
        texts = [texts[int(i * step)] for i in range(sample)]
    encode: Any
    if settings.embedding_backend == "torch":
        from sentence_transformers import SentenceTransformer  # only torch's encode needs it

        path = resolve_model_path(settings.embedding_model)
        encode = SentenceTransformer(str(path), device="cpu").encode
    else:
        embedder = load_embedder(
            settings.embedding_model,
            settings.torch_threads,
            settings.embedding_backend,
            settings.onnx_cache_dir,  # exported there by the ingest process
        )

        def encode(batch: list[str], show_progress_bar: bool = False) -> Any:
            return embedder.embed(batch, batch_size=32)

    encode(texts[:8])
    started = time.perf_counter()
    encode(texts, show_progress_bar=False)
    seconds = time.perf_counter() - started
    return {"raw_encode_passages_per_s": round(len(texts) / seconds, 2), "raw_texts": len(texts)}


def _answer_timings(bot: Any, questions: list[Question], baseline: Any | None) -> dict[str, Any]:
    """Ask every question (and the baseline, interleaved, so both see the same machine load)."""
    for q in questions[:WARM_UP_QUESTIONS]:
        bot.answer(q.question)
        if baseline is not None:
            baseline.similarity_search(q.question, k=5)
    latencies, retrieval, base_latencies = [], [], []
    stages: dict[str, list[float]] = {}
    hits = base_hits = 0
    for q in questions:
        t0 = time.perf_counter()
        answer = bot.answer(q.question)
        latencies.append((time.perf_counter() - t0) * 1000)
        for name, ms in answer.timings_ms.items():
            stages.setdefault(name, []).append(ms)
        retrieval.append(
            sum(answer.timings_ms.get(k, 0.0) for k in ("embed_query", "dense", "keyword", "fuse"))
        )
        hits += any(r.doc_id in q.gold_doc_ids for r in answer.retrieved[:5])
        if baseline is not None:
            t0 = time.perf_counter()
            docs = baseline.similarity_search(q.question, k=5)
            base_latencies.append((time.perf_counter() - t0) * 1000)
            base_hits += any(d.metadata.get("doc_id") in q.gold_doc_ids for d in docs)
    n = len(questions)
    result: dict[str, Any] = {
        "query_p50_ms": round(percentile(latencies, 50), 1),
        "query_p95_ms": round(percentile(latencies, 95), 1),
        "retrieval_p50_ms": round(percentile(retrieval, 50), 1),
        "recall_at_5": round(hits / n, 4),
        "stage_p50_ms": {k: round(percentile(v, 50), 2) for k, v in stages.items()},
    }
    if baseline is not None:
        result |= {
            "baseline_query_p50_ms": round(percentile(base_latencies, 50), 1),
            "baseline_query_p95_ms": round(percentile(base_latencies, 95), 1),
            "baseline_recall_at_5": round(base_hits / n, 4),
        }
    return result


def plain_langchain_pipeline(settings: Settings, index: Any, directory: Path) -> tuple[Any, float]:
    """The baseline: LangChain's Chroma over HuggingFaceEmbeddings of the same model.

    The collection is filled with the vectors our index already holds for the same texts
    (same model, same input, so the same vectors; checked on a sample, whose largest
    difference is returned), to avoid embedding the corpus twice. Its query path is the
    plain one: `similarity_search` embeds the question with HuggingFaceEmbeddings and asks
    Chroma for the 5 nearest.
    """
    import chromadb
    import numpy as np
    from chromadb.config import Settings as ChromaSettings
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from bot.embeddings import resolve_model_path
    from bot.index import embedding_text

    shutil.rmtree(directory, ignore_errors=True)
    embeddings = HuggingFaceEmbeddings(
        model_name=str(resolve_model_path(settings.embedding_model)),
        model_kwargs={"device": "cpu"},
    )
    client = chromadb.PersistentClient(
        path=str(directory), settings=ChromaSettings(anonymized_telemetry=False)
    )
    store = Chroma(collection_name="baseline", embedding_function=embeddings, client=client)
    target = client.get_collection("baseline")
    sample_texts: list[str] = []
    sample_vectors: list[Any] = []
    for page_ids, page_vectors in index.vectors.pages(5000):
        passages = index.catalog.get_passages(page_ids)
        keep = [i for i, pid in enumerate(page_ids) if pid in passages]
        ids = [page_ids[i] for i in keep]
        texts = [embedding_text(passages[pid]) for pid in ids]
        vectors = [page_vectors[i] for i in keep]
        for start in range(0, len(ids), 1000):
            target.upsert(
                ids=ids[start : start + 1000],
                embeddings=vectors[start : start + 1000],
                documents=texts[start : start + 1000],
                metadatas=[
                    {"passage_id": pid, "doc_id": passages[pid].doc_id}
                    for pid in ids[start : start + 1000]
                ],
            )
        if not sample_texts:
            sample_texts, sample_vectors = texts[:16], vectors[:16]
    fresh = np.asarray(embeddings.embed_documents(sample_texts), dtype=np.float32)
    diff = float(np.abs(fresh - np.asarray(sample_vectors, dtype=np.float32)).max())
    return store, diff


def measure_queries(
    settings: Settings, questions: list[Question], baseline_dir: Path | None
) -> dict[str, Any]:
    """`ChatBot.answer()` latency and recall@5, with the plain pipeline beside it if asked."""
    import torch

    from bot.chain import ChatBot

    bot = ChatBot(settings)
    result: dict[str, Any] = {}
    baseline = None
    if baseline_dir is not None:
        _log("filling the plain LangChain pipeline's collection with the same vectors")
        baseline, diff = plain_langchain_pipeline(settings, bot.index, baseline_dir)
        result["baseline_vector_max_abs_diff"] = round(diff, 7)
    result |= _answer_timings(bot, questions, baseline)
    result["torch_threads"] = torch.get_num_threads()
    bot.index.close()
    return result


def measure_cold_start(settings: Settings, question: str, runs: int) -> dict[str, Any]:
    """Spawn `bot ask` against the existing index: seconds from spawn to the printed answer
    (its first line of output), and to the end of the process (Python's teardown of torch and
    friends takes a second or two more)."""
    answered, exited, cpu = [], [], []
    for _ in range(runs):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        with tempfile.TemporaryFile("w+") as errors:  # a file: a full pipe would block the child
            started = time.perf_counter()
            process = subprocess.Popen(
                [sys.executable, "-m", "bot.cli", "ask", question],
                env=measured_env(settings),
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
            assert process.stdout is not None
            first_line = process.stdout.readline()
            answered.append(time.perf_counter() - started)
            process.communicate()
            exited.append(time.perf_counter() - started)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime)
            if process.returncode != 0 or not first_line.strip():
                errors.seek(0)
                raise RuntimeError(f"`bot ask` failed:\n{errors.read()[-3000:]}")
    return {
        "cold_start_s": round(percentile(answered, 50), 2),
        "cold_start_runs_s": [round(w, 2) for w in answered],
        "cold_start_exit_s": round(percentile(exited, 50), 2),
        "cold_start_cpu_s": round(percentile(cpu, 50), 2),
    }


#: How long a server started by the benchmark may take to answer (a large index loads slowly).
SERVER_START_S = 600


def _post_json(url: str, body: dict[str, Any]) -> int:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            response.read()
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except (urllib.error.URLError, OSError):
        return 0


def measure_server(
    settings: Settings, questions: list[Question], clients: int, requests: int, log: Path
) -> dict[str, Any]:
    """`bot serve` on the benchmark index, hit by `clients` concurrent POST /api/ask callers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "bot.cli", "serve", "--port", str(port), "--no-ingest"]
    with running_server(cmd, f"{base}/api/health", log, measured_env(settings), SERVER_START_S):
        for q in questions[:WARM_UP_QUESTIONS]:
            _post_json(f"{base}/api/ask", {"question": q.question})

        def one(i: int) -> tuple[int, float]:
            t0 = time.perf_counter()
            status = _post_json(
                f"{base}/api/ask", {"question": questions[i % len(questions)].question}
            )
            return status, (time.perf_counter() - t0) * 1000

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=clients) as pool:
            results = list(pool.map(one, range(requests)))
        seconds = time.perf_counter() - started
    ok = [ms for status, ms in results if status == 200]
    return {
        "server_clients": clients,
        "server_requests": requests,
        "server_rps": round(len(ok) / seconds, 2),
        "server_p50_ms": round(percentile(ok, 50), 1),
        "server_p95_ms": round(percentile(ok, 95), 1),
        "server_errors": len(results) - len(ok),
        "server_max_concurrency": settings.max_concurrency,
    }


def measure_chroma_server(
    settings: Settings, questions: list[Question], work: Path
) -> dict[str, Any]:
    """The query benchmark with the vectors served by `chroma run` on loopback.

    The server gets a copy of the embedded store's folder (same collection, same vectors);
    the keyword index stays in the catalog file, as it does in server mode.
    """
    chroma = Path(sys.executable).with_name("chroma")
    if not chroma.exists():
        found = shutil.which("chroma")
        if not found:
            return {"chroma_server_note": "the `chroma` command is not installed; skipped"}
        chroma = Path(found)
    copy = work / "chroma-server"
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(settings.data_dir / "chroma", copy)
    port = free_port()
    cmd = [str(chroma), "run", "--path", str(copy), "--host", "127.0.0.1", "--port", str(port)]
    heartbeat = f"http://127.0.0.1:{port}/api/v2/heartbeat"
    with running_server(cmd, heartbeat, work / "chroma-server.log", timeout_s=SERVER_START_S):
        remote = settings.replace(chroma_host="127.0.0.1", chroma_port=port)
        timings = measure_queries(remote, questions, None)
    shutil.rmtree(copy, ignore_errors=True)
    return {
        "chroma_server_query_p50_ms": timings["query_p50_ms"],
        "chroma_server_query_p95_ms": timings["query_p95_ms"],
        "chroma_server_recall_at_5": timings["recall_at_5"],
        "chroma_server_stage_p50_ms": timings["stage_p50_ms"],
    }


# --- the run -------------------------------------------------------------------------------------
def run_benchmark(options: BenchOptions, settings: Settings) -> dict[str, Any]:
    """Build the corpus, ingest it, and measure; returns the figures as one flat-ish dict."""
    from bot.embeddings import quiet_libraries, resolve_backend

    quiet_libraries()
    if options.passages < 100:
        raise ConfigError("Use at least 100 passages (--passages): the gold set needs room.")
    work = options.out_dir / f"n{options.passages}"
    settings = settings.replace(
        data_dir=work / "data",
        collection="bench",
        chroma_host="",
        llm_base_url="",
        llm_model="",
        # "auto" is decided here, for a new index, so that every process measures the same one
        embedding_backend=resolve_backend(settings.embedding_backend, None),
    )
    _log(f"building a corpus of {options.passages} passages")
    corpus = build_corpus(options.passages, options.squad_dir, options.article)
    corpus_path = work / "corpus.jsonl"
    questions = corpus.questions[: options.questions or None]
    result: dict[str, Any] = {
        "passages": corpus.passages,
        "corpus": corpus.description,
        "questions": len(questions),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
            "python": sys.version.split()[0],
        },
        "settings": {
            "torch_threads": settings.torch_threads,
            "batch_size": settings.batch_size,
            "top_k": settings.top_k,
            "candidates": settings.candidates,
            "embedding_model": settings.embedding_model,
            "embedding_backend": settings.embedding_backend,
        },
        "embedding_backend": settings.embedding_backend,
    }

    if options.reuse_index and _index_size(settings) == corpus.passages:
        _log(f"reusing the index in {settings.data_dir}")
        result["ingest_note"] = "index reused; ingest not measured in this run"
    else:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
        write_corpus(corpus, corpus_path)
        _log("ingesting in a separate process")
        ingest = measure_ingest(settings, corpus_path)
        result |= {k: v for k, v in ingest.items() if k != "torch_threads"}
        if ingest["passages"] != corpus.passages:
            raise RuntimeError(f"ingest wrote {ingest['passages']} passages: {ingest['errors']}")
        _log(f"ingest: {ingest['ingest_passages_per_s']} passages/s; measuring raw encode")
        result |= measure_raw_encode(settings, corpus.texts, options.raw_sample)
        result["ingest_vs_raw"] = round(
            result["ingest_passages_per_s"] / result["raw_encode_passages_per_s"], 3
        )

    result |= index_disk_sizes(settings)
    if options.cold_start:
        _log("cold start: spawning `bot ask`")
        result |= measure_cold_start(settings, questions[0].question, options.cold_start_runs)
    if options.server:
        _log(f"server: {options.server_requests} requests from {options.server_clients} clients")
        result |= measure_server(
            settings,
            questions,
            options.server_clients,
            options.server_requests,
            work / "server.log",
        )
    if options.chroma_server:
        _log("query benchmark against `chroma run`")
        result |= measure_chroma_server(settings, questions, work)
    _log(f"query benchmark: {len(questions)} questions, with the plain LangChain pipeline")
    result |= measure_queries(settings, questions, work / "baseline-chroma")
    result["query_vs_baseline"] = round(result["query_p50_ms"] / result["baseline_query_p50_ms"], 2)
    result["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return result


def index_disk_sizes(settings: Settings) -> dict[str, float]:
    """The index's size on disk, in MB: the catalog (SQLite with its keyword index, write-ahead
    log included) and the embedded Chroma folder."""

    def megabytes(paths: list[Path]) -> float:
        return round(sum(p.stat().st_size for p in paths if p.is_file()) / 2**20, 1)

    catalog = megabytes(list(settings.data_dir.glob(f"{settings.collection}.sqlite*")))
    chroma = megabytes(list((settings.data_dir / "chroma").rglob("*")))
    return {
        "index_disk_mb": round(catalog + chroma, 1),
        "catalog_disk_mb": catalog,
        "chroma_disk_mb": chroma,
    }


def _index_size(settings: Settings) -> int:
    import sqlite3

    path = settings.data_dir / f"{settings.collection}.sqlite"
    if not path.exists():
        return -1
    with contextlib.closing(sqlite3.connect(str(path))) as db:
        try:
            return int(db.execute("SELECT count(*) FROM passages").fetchone()[0])
        except sqlite3.Error:
            return -1


def render(result: dict[str, Any]) -> str:
    """The figures as a short text report."""

    def get(key: str, unit: str = "") -> str:
        value = result.get(key)
        return "-" if value is None else f"{value}{unit}"

    lines = [
        f"corpus: {result['corpus']}",
        f"questions: {result['questions']}, backend: {result['embedding_backend']}, torch threads: "
        f"{result['settings']['torch_threads']}, "
        f"load average {result['machine']['load_average_at_start']} -> "
        f"{result.get('load_average_at_end')}",
        f"ingest: {get('ingest_passages_per_s')} passages/s vs raw encode "
        f"{get('raw_encode_passages_per_s')} ({get('ingest_vs_raw')} of raw); "
        f"peak RSS {get('peak_rss_mb', ' MB')}; index on disk {get('index_disk_mb', ' MB')} "
        f"(catalog {get('catalog_disk_mb', ' MB')}, Chroma {get('chroma_disk_mb', ' MB')})",
        f"answer(): p50 {get('query_p50_ms', ' ms')}, p95 {get('query_p95_ms', ' ms')} "
        f"(retrieval p50 {get('retrieval_p50_ms', ' ms')}); recall@5 {get('recall_at_5')}",
        f"plain LangChain: p50 {get('baseline_query_p50_ms', ' ms')}, p95 "
        f"{get('baseline_query_p95_ms', ' ms')}; recall@5 {get('baseline_recall_at_5')}",
        f"stages p50 (ms): {result.get('stage_p50_ms')}",
        f"cold start (`bot ask`): answer after {get('cold_start_s', ' s')} (runs "
        f"{result.get('cold_start_runs_s')}), process ends after {get('cold_start_exit_s', ' s')}",
        f"server: {get('server_rps')} requests/s, p50 {get('server_p50_ms', ' ms')}, p95 "
        f"{get('server_p95_ms', ' ms')}, errors {get('server_errors')}",
        f"chroma server: answer() p50 {get('chroma_server_query_p50_ms', ' ms')}, p95 "
        f"{get('chroma_server_query_p95_ms', ' ms')}",
    ]
    return "\n".join(lines)


# --- the command ---------------------------------------------------------------------------------
def add_command(subparsers: Any) -> None:
    """Register `bot bench`."""
    p = subparsers.add_parser(
        "bench",
        help="Measure ingest, query latency, cold start and the server on this machine, "
        "against a plain LangChain pipeline.",
    )
    p.add_argument("--passages", type=int, default=1000, help="Corpus size in passages.")
    p.add_argument("--json", action="store_true", help="Print one JSON object.")
    p.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help="Folder for the corpus and indexes."
    )
    p.add_argument("--questions", type=int, default=0, help="Ask only this many (0 = all).")
    p.add_argument(
        "--raw-sample",
        type=int,
        default=2000,
        help="Texts for the raw encode figure (an even sample of the corpus; 0 = all).",
    )
    p.add_argument("--server-requests", type=int, default=200, help="Requests in the load test.")
    p.add_argument("--server-clients", type=int, default=20, help="Concurrent clients.")
    p.add_argument("--skip-cold-start", action="store_true", help="Do not time `bot ask`.")
    p.add_argument("--skip-server", action="store_true", help="Do not load-test `bot serve`.")
    p.add_argument(
        "--skip-chroma-server", action="store_true", help="Do not query through `chroma run`."
    )
    p.add_argument(
        "--squad",
        type=Path,
        default=SQUAD_DIR,
        help="Folder with the SQuAD 2.0 sample's squad2_passages.jsonl and squad2_questions.jsonl.",
    )
    p.add_argument(
        "--article", type=Path, default=ARTICLE, help="The article mixed into the corpus."
    )
    p.add_argument(
        "--reuse-index",
        action="store_true",
        help="Keep an index of the right size from an earlier run (ingest is not measured).",
    )
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    options = BenchOptions(
        passages=args.passages,
        out_dir=args.out,
        questions=args.questions,
        raw_sample=args.raw_sample,
        cold_start=not args.skip_cold_start,
        server=not args.skip_server,
        server_clients=args.server_clients,
        server_requests=args.server_requests,
        chroma_server=not args.skip_chroma_server,
        reuse_index=args.reuse_index,
        squad_dir=args.squad,
        article=args.article,
    )
    result = run_benchmark(options, settings)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


def _worker_main(argv: list[str]) -> int:
    from bot.embeddings import quiet_libraries

    quiet_libraries()
    if len(argv) != 2 or argv[0] != "--ingest-worker":
        print("usage: python -m bot.bench --ingest-worker CORPUS.jsonl", file=sys.stderr)
        return 2
    print(json.dumps(ingest_worker(Path(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
