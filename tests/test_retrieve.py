"""Reciprocal rank fusion (`bot.retrieve.reciprocal_rank_fusion`), checked by hand against the
formula score(id) = sum over the lists holding it of 1 / (k + rank), with k = 60; and the
cosine similarity every hit carries, a keyword-only hit's included."""

from __future__ import annotations

import numpy as np
import pytest

from bot.index import Index
from bot.ingest import ingest_documents
from bot.retrieve import RRF_K, Retriever, reciprocal_rank_fusion
from bot.types import Document


def test_worked_example_with_k_60() -> None:
    dense = ["a", "b", "c"]
    keyword = ["b", "d", "a"]
    fused = reciprocal_rank_fusion([dense, keyword])
    # b: 1/62 + 1/61 = 0.0325225   a: 1/61 + 1/63 = 0.0322665
    # d: 1/62 = 0.0161290 (keyword only)   c: 1/63 = 0.0158730 (dense only)
    assert [pid for pid, _ in fused] == ["b", "a", "d", "c"]
    assert [score for _, score in fused] == pytest.approx(
        [0.0325225, 0.0322665, 0.0161290, 0.0158730], abs=1e-7
    )
    assert dict(fused) == {
        "b": 1 / 62 + 1 / 61,
        "a": 1 / 61 + 1 / 63,
        "d": 1 / 62,
        "c": 1 / 63,
    }
    assert RRF_K == 60


def test_an_id_in_one_list_only_gets_that_lists_term() -> None:
    fused = dict(reciprocal_rank_fusion([["x", "y"], ["y"]]))
    assert fused == {"x": 1 / 61, "y": 1 / 62 + 1 / 61}


def test_ties_keep_first_seen_order() -> None:
    # x and y swap places: equal scores (1/61 + 1/62); x was seen first.
    assert [pid for pid, _ in reciprocal_rank_fusion([["x", "y"], ["y", "x"]])] == ["x", "y"]
    assert [pid for pid, _ in reciprocal_rank_fusion([["y", "x"], ["x", "y"]])] == ["y", "x"]
    # Both first in a list of their own: equal 1/61 each, in the order of the lists.
    assert reciprocal_rank_fusion([["p"], ["q"]]) == [("p", 1 / 61), ("q", 1 / 61)]


def test_the_constant_sets_how_much_rank_matters() -> None:
    assert reciprocal_rank_fusion([["a", "b"]], k=0) == [("a", 1.0), ("b", 0.5)]


def test_no_lists_or_empty_lists_fuse_to_nothing() -> None:
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def test_a_keyword_only_hit_carries_its_cosine_similarity_too(index: Index) -> None:
    harbour = "The harbour in Baku opened again once the storm had passed and the piers were fixed."
    plan = "Zorvath was the codename the envoys gave to their plan for the border talks in Vienna."
    ingest_documents(index, [Document("a", "Harbour", harbour, "a.txt")])
    ingest_documents(index, [Document("b", "Plan", plan, "b.txt")])
    retriever = Retriever(index, candidates=1)  # one dense and one keyword candidate
    query = "When was the port back in service after the hurricane? zorvath"
    dense = index.vectors.search(index.embedder.embed_query(query), 1)
    keyword = index.catalog.keyword_search(query, 1)
    assert [pid for pid, _ in dense] != [pid for pid, _ in keyword]  # so one hit is keyword-only

    result = retriever.search(query, k=2)

    assert {h.passage.doc_id for h in result.hits} == {"a", "b"}
    stored = index.vectors.get_vectors([h.passage.passage_id for h in result.hits])
    for hit in result.hits:
        expected = float(np.dot(stored[hit.passage.passage_id], result.query_vector))
        assert hit.dense_similarity == pytest.approx(expected, abs=1e-5)
        assert hit.dense_similarity > 0.0


def test_a_two_part_question_brings_up_each_parts_article(index: Index) -> None:
    stories = {
        "chad": "The Tibesti Patriotic Front has set out seven conditions for a deal in Doha.",
        "border": "Azerbaijan sent Armenia a proposal containing five conditions for peace.",
        "treaty": "Azerbaijan and Armenia discussed the peace treaty and its conditions in Baku.",
        "envoys": "Envoys of Armenia and Azerbaijan met to discuss the conditions for peace.",
    }
    for doc_id, text in stories.items():
        ingest_documents(index, [Document(doc_id, doc_id.title(), text, f"{doc_id}.txt")])
    retriever = Retriever(index)
    chad = "How many conditions has the Tibesti Patriotic Front set out?"
    border = "How many did Azerbaijan's proposal to Armenia contain?"
    parts = retriever.search_parts([chad, border], k=2)
    # each part's best passage, in turn
    assert (
        [h.passage.doc_id for h in parts.hits]
        == [
            retriever.search(chad, 1).hits[0].passage.doc_id,
            retriever.search(border, 1).hits[0].passage.doc_id,
        ]
        == ["chad", "border"]
    )
    # one part is a plain search
    assert [h.passage.passage_id for h in retriever.search_parts([chad], 3).hits] == [
        h.passage.passage_id for h in retriever.search(chad, 3).hits
    ]
