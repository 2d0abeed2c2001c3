"""The trained reader: for a question and candidate sentences, the answering span in each and how
sure it is that the sentence answers at all.

One small model does three jobs: it picks the answering sentence (the one whose span outscores
its "no answer" score the most), gives the short answer (that span), and gives the evidence score
that decides refusal (span score minus no-answer score). It is the packaged all-MiniLM-L6-v2
encoder with a SQuAD-style start/end head, fine-tuned by `bot train-reader` (see
`bot/train_reader.py` and the model card beside the weights). Input is `[CLS] question [SEP]
sentence [SEP]`; "no answer" is the span at [CLS], as in SQuAD 2.0 readers.

The shipped weights leave out the word-embedding table, which training keeps frozen: it is read
from the packaged MiniLM, so the repository holds about half the model. At load time the linear
layers are quantised to int8 (torch dynamic quantisation), which scores about 2.7 times faster
on one core at almost the same accuracy.

This module owns loading and scoring; what to do with the scores (which sentences to quote,
when to refuse) belongs to the answerer.
"""

from __future__ import annotations

import hashlib
import json
import threading
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from bot.errors import ConfigError

#: The weights shipped with the package (rebuilt by `bot train-reader`).
DEFAULT_READER_DIR = Path(__file__).resolve().parent / "models" / "reader"
WEIGHTS_FILE = "reader.safetensors"
CARD_FILE = "README.md"
META_FILE = "reader.json"
#: Tokens a question keeps; the sentence gets the rest of `max_length`.
MAX_QUESTION_TOKENS = 40
#: Longest short answer, in tokens (SQuAD 1.1 train's answers: median 3, 95 % within 11, 99 %
#: within 20).
MAX_ANSWER_TOKENS = 20
#: Tokens two windows of a long sentence share (see `encode_pairs`).
WINDOW_STRIDE = 32
#: Parameters that training keeps frozen and that are read from the base model instead.
FROZEN_PREFIXES = ("bert.embeddings.word_embeddings.",)


@dataclass(frozen=True)
class SpanScore:
    """The reader's verdict on one sentence.

    `start`/`end` are character offsets of the best span in the sentence; `evidence` is the best
    span's score minus the "no answer" score: above 0 the model thinks the sentence answers.
    """

    start: int
    end: int
    span_score: float
    null_score: float

    @property
    def evidence(self) -> float:
        return self.span_score - self.null_score


def build_model(base_path: Path) -> Any:
    """A `BertForQuestionAnswering` over the base encoder's weights (head freshly initialised)."""
    from transformers import BertConfig, BertForQuestionAnswering

    config = BertConfig.from_pretrained(str(base_path))
    config.num_labels = 2
    model = BertForQuestionAnswering.from_pretrained(str(base_path), config=config)
    return model


def load_tokenizer(base_path: Path) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(base_path))


def encode_pairs(
    tokenizer: Any, question: str, sentences: list[str], max_length: int, windows: bool = False
) -> dict[str, Any]:
    """Tokenise (question, sentence) pairs the same way in training and at run time. With
    `windows`, a sentence too long for `max_length` is read in overlapping windows
    (`WINDOW_STRIDE` tokens shared), and `overflow_to_sample_mapping` says whose each row is;
    without, it is cut at `max_length`."""
    q_ids = tokenizer(question, add_special_tokens=False)["input_ids"][:MAX_QUESTION_TOKENS]
    short_question = tokenizer.decode(q_ids)
    return tokenizer(
        [short_question] * len(sentences),
        sentences,
        truncation="only_second",
        max_length=max_length,
        padding=True,
        return_offsets_mapping=True,
        return_tensors="pt",
        **({"return_overflowing_tokens": True, "stride": WINDOW_STRIDE} if windows else {}),
    )


def best_spans(
    start_logits: np.ndarray,
    end_logits: np.ndarray,
    context_mask: np.ndarray,
    max_answer_tokens: int = MAX_ANSWER_TOKENS,
) -> list[tuple[int, int, float, float]]:
    """For each row, the best (start token, end token, span score, null score).

    A span lies inside the sentence (`context_mask`), ends at or after its start and is at most
    `max_answer_tokens` long; the null score is the [CLS] start plus [CLS] end logit.
    """
    results = []
    for s_logits, e_logits, mask in zip(start_logits, end_logits, context_mask, strict=True):
        null = float(s_logits[0] + e_logits[0])
        s = np.where(mask, s_logits, -np.inf)
        e = np.where(mask, e_logits, -np.inf)
        # scores[i, j] = s[i] + e[j] for i <= j < i + max_answer_tokens
        scores = s[:, None] + e[None, :]
        n = len(s)
        i, j = np.indices((n, n))
        scores[(j < i) | (j >= i + max_answer_tokens)] = -np.inf
        flat = int(np.argmax(scores))
        bi, bj = divmod(flat, n)
        best = float(scores[bi, bj])
        results.append((bi, bj, best if np.isfinite(best) else -1e9, null))
    return results


class Reader:
    """Scores (question, sentence) pairs with the trained reader. Thread-safe.

    Only tokenising holds a lock: a fast tokenizer keeps its truncation and padding settings in
    shared state, and two threads encoding at once garble each other's batch. The model's
    forward pass needs none, so concurrent questions score on both cores at once (one lock
    around it cost a third of the throughput of 4 answering threads on 2 cores)."""

    def __init__(self, model: Any, tokenizer: Any, meta: dict[str, Any], name: str) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.meta = meta
        self.name = name
        self.max_length = int(meta.get("max_length", 96))
        self._tokenizing = threading.Lock()

    @classmethod
    def load(cls, folder: Path, base_path: Path, quantize: bool = True) -> Reader:
        """The reader in `folder` on top of the base encoder at `base_path`."""
        folder = Path(folder)
        weights = folder / WEIGHTS_FILE
        if not weights.is_file():
            raise ConfigError(
                f"No reader weights at {weights}. Rebuild them with `bot train-reader` "
                "(see bot/models/reader/README.md), or point BOT_READER_DIR at a folder it wrote."
            )
        import torch
        from safetensors import safe_open
        from safetensors.torch import load_file
        from transformers import BertConfig, BertForQuestionAnswering

        meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
        config = BertConfig.from_pretrained(str(base_path))
        config.num_labels = 2
        model = BertForQuestionAnswering(config)
        state = {k: v.float() for k, v in load_file(str(weights)).items()}
        # The frozen word embeddings come from the base model itself.
        with safe_open(str(Path(base_path) / "model.safetensors"), "pt") as base:
            for name in FROZEN_PREFIXES:
                key = name.removeprefix("bert.") + "weight"
                state[name + "weight"] = base.get_tensor(key).float()
        missing, unexpected = model.load_state_dict(state, strict=False)
        if missing or unexpected:
            raise ConfigError(
                f"The reader weights at {weights} do not fit the base model "
                f"(missing {missing[:3]}, unexpected {unexpected[:3]}). Rebuild them with "
                "`bot train-reader`."
            )
        model.eval()
        if quantize:
            # torch marks eager-mode quantisation deprecated in favour of torchao, whose CPU
            # int8 kernels are no faster here; this one scores 10 sentences in ~25 ms.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(
                    model, {torch.nn.Linear}, dtype=torch.qint8
                )
        name = f"{meta.get('name', 'reader')}@{file_digest(weights)[:12]}"
        return cls(model, load_tokenizer(base_path), meta, name)

    def score(
        self, question: str, sentences: list[str], skip: list[tuple[int, int]] | None = None
    ) -> list[SpanScore]:
        """The best span and its evidence in each sentence (same order as `sentences`). With
        `skip`, no span starts or ends on a token that starts in that character range of its
        sentence."""
        if not sentences:
            return []
        import torch

        with self._tokenizing:
            batch = encode_pairs(self.tokenizer, question, sentences, self.max_length, windows=True)
        offsets = batch.pop("offset_mapping").numpy()
        owner = batch.pop("overflow_to_sample_mapping").tolist()  # row -> sentence
        skip = skip or [(0, 0)] * len(sentences)
        skipped = [skip[i] for i in owner]
        # A span starts and ends on the sentence's tokens, outside its `skip` range.
        context = np.array(
            [
                [
                    sid == 1 and not skipped[row][0] <= offsets[row][t][0] < skipped[row][1]
                    for t, sid in enumerate(ids)
                ]
                for row, ids in enumerate(map(batch.sequence_ids, range(len(owner))))
            ]
        )
        with torch.inference_mode():
            out = self.model(**batch)
        spans = best_spans(
            out.start_logits.float().numpy(), out.end_logits.float().numpy(), context
        )
        # A sentence read in several windows takes the window with the most evidence.
        results: list[SpanScore | None] = [None] * len(sentences)
        for row, (si, ei, span, null) in enumerate(spans):
            start, end = int(offsets[row][si][0]), int(offsets[row][ei][1])
            score = SpanScore(start, end, span, null)
            best = results[owner[row]]
            if best is None or score.evidence > best.evidence:
                results[owner[row]] = score
        return [r for r in results if r is not None]


def file_digest(path: Path) -> str:
    """SHA-256 of a file, hex."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@cache
def load_reader(folder: str, threads: int) -> Reader:
    """The reader in `folder`, on the base model its metadata names; loaded once per process."""
    from bot.embeddings import resolve_model_path, set_torch_threads

    set_torch_threads(threads)
    meta_path = Path(folder) / META_FILE
    try:
        base = json.loads(meta_path.read_text(encoding="utf-8"))["base_model"]
    except (OSError, ValueError, KeyError) as exc:
        raise ConfigError(
            f"Cannot read the reader's metadata at {meta_path} ({exc}). Rebuild the reader with "
            "`bot train-reader`, or point BOT_READER_DIR at a folder it wrote."
        ) from None
    return Reader.load(Path(folder), resolve_model_path(base))
