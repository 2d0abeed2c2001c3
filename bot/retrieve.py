"""Hybrid retrieval: dense search in Chroma plus BM25 in the catalog, fused by reciprocal rank.

Measured on the article and the SQuAD sample (see README): fusion beats either retriever
alone at R@1 and R@5. A second-stage re-score with the packaged e5 model was measured too and
left out: at 9.5 passages/s on one core it costs seconds per query (see README).
Every hit carries its cosine similarity to the query, which the answerer uses as evidence.
For a question that asks for recent news (`bot.dates.asks_for_recent`, decided by the caller)
the passages whose fused score is within `RECENT_MARGIN` of the best are put newest first;
every other question is ranked by fused score alone. A question that asks two things is
searched part by part (`search_parts`), so each part's article comes up even when the two are
about different stories.
The keyword search runs on a worker thread beside the query embedding and the vector search.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from bot.dates import newest_first
from bot.index import Index
from bot.types import Hit

RRF_K = 60
#: For a "latest" question, passages whose fused score is within this share of the best one
#: count as equally relevant and are ordered newest first. 10 % is a rank or two apart in both
#: searches (1/61 + 1/61 against 1/63 + 1/64), never a passage only one search found.
RECENT_MARGIN = 0.10


@dataclass
class Retrieval:
    """Ranked hits for a query, with what later stages reuse."""

    query: str
    hits: list[Hit]
    query_vector: np.ndarray
    timings_ms: dict[str, float] = field(default_factory=dict)


class Retriever:
    """Dense + keyword search over one index."""

    def __init__(self, index: Index, candidates: int = 30) -> None:
        self.index = index
        self.candidates = candidates
        # The keyword search runs on a worker thread while the query is embedded and the
        # vectors searched: SQLite and torch both let go of the GIL, so on two cores the BM25
        # ranking (33 ms at 100k passages) hides behind the embedding.
        self._keyword_worker = ThreadPoolExecutor(4, thread_name_prefix="keyword-search")

    def _timed_keyword_search(self, query: str) -> tuple[list[tuple[str, float]], float]:
        started = time.perf_counter()
        keyword = self.index.catalog.keyword_search(query, self.candidates)
        return keyword, (time.perf_counter() - started) * 1000

    def search(self, query: str, k: int, recent: bool = False) -> Retrieval:
        """The k best passages for `query`, best first; with `recent`, equally relevant ones
        newest first (see RECENT_MARGIN)."""
        t0 = time.perf_counter()
        keyword_search = self._keyword_worker.submit(self._timed_keyword_search, query)
        vector = self.index.embedder.embed_query(query)
        t1 = time.perf_counter()
        dense = self.index.vectors.search(vector, self.candidates)
        t2 = time.perf_counter()
        keyword, keyword_ms = keyword_search.result()
        t3 = time.perf_counter()
        fused = reciprocal_rank_fusion([[pid for pid, _ in dense], [pid for pid, _ in keyword]])
        similarity = dict(dense)
        # Vector hits the catalog does not know belong to an unfinished write: skip them.
        ranked = [pid for pid, _ in fused]
        passages = self.index.catalog.get_passages(ranked[: k * 3])
        top = [(pid, score) for pid, score in fused if pid in passages]
        if recent and top:
            margin = RECENT_MARGIN * top[0][1]
            top = newest_first(top, lambda t: t[1], lambda t: passages[t[0]].date, margin)
        top = top[:k]
        missing = [pid for pid, _ in top if pid not in similarity]
        if missing:
            similarity.update(self._similarities(vector, missing))
        hits = [Hit(passages[pid], score, similarity.get(pid, 0.0)) for pid, score in top]
        t4 = time.perf_counter()
        timings = {
            "embed_query": (t1 - t0) * 1000,
            "dense": (t2 - t1) * 1000,
            "keyword": keyword_ms,  # alongside the two above; waited for: t3 - t2
            "fuse": (t4 - t3) * 1000,
        }
        return Retrieval(query, hits, vector, timings)

    def search_parts(self, queries: list[str], k: int, recent: bool = False) -> Retrieval:
        """The k best passages for the parts of a two-part question: each part searched on its
        own, their rankings taken in turn (the first part's best, the second's best, the
        first's second, ...), each passage once. One part is `search`."""
        if len(queries) == 1:
            return self.search(queries[0], k, recent)
        results = [self.search(q, k, recent) for q in queries]
        hits: list[Hit] = []
        seen: set[str] = set()
        for rank in range(k):
            for result in results:
                if rank < len(result.hits) and result.hits[rank].passage.passage_id not in seen:
                    seen.add(result.hits[rank].passage.passage_id)
                    hits.append(result.hits[rank])
        timings: dict[str, float] = {}
        for result in results:
            for key, ms in result.timings_ms.items():
                timings[key] = timings.get(key, 0.0) + ms
        return Retrieval(" | ".join(queries), hits[:k], results[0].query_vector, timings)

    def _similarities(self, vector: np.ndarray, ids: list[str]) -> dict[str, float]:
        stored = self.index.vectors.get_vectors(ids)
        return {pid: float(np.dot(stored_vector, vector)) for pid, stored_vector in stored.items()}


def reciprocal_rank_fusion(rankings: list[list[str]], k: int = RRF_K) -> list[tuple[str, float]]:
    """Fuse ranked id lists: score = sum of 1 / (k + rank); ties keep first-seen order."""
    scores: dict[str, float] = {}
    for ranking in rankings:
        for rank, pid in enumerate(ranking, start=1):
            scores[pid] = scores.get(pid, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda item: -item[1])
