"""The catalog's keyword side: `fts_query` (question -> FTS5 query) and `Catalog.idf` (BM25 IDF
from the keyword index's document frequencies), pinned on worked examples."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.catalog import Catalog, DocumentInfo, fts_query
from bot.types import Passage

TEXTS = [
    "Russia deployed peacekeepers to Karabakh.",
    "Peacekeepers patrol the road.",
    "Talks in Vienna ended.",
    "Russia and Armenia held talks.",
]


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    """Four one-passage documents (titles kept out of the questions' words)."""
    cat = Catalog(tmp_path / "catalog.sqlite")
    batch = []
    for i, text in enumerate(TEXTS, start=1):
        doc = DocumentInfo(f"d{i}", "News", f"d{i}.txt", "", "", 1, len(text), "", f"hash{i}")
        passage = Passage(f"d{i}#p0", doc.doc_id, "News", doc.source, "", "", 0, 0, len(text), text)
        batch.append((doc, [passage]))
    cat.replace_documents(batch)
    yield cat
    cat.close()


@pytest.mark.parametrize(
    ("question", "query"),
    [
        ("Who brokered the 2020 ceasefire?", '"brokered" OR "2020" OR "ceasefire"'),
        # possessive 's dropped; a hyphenated word counts as its parts and joined
        (
            "What is Russia's role in the cease-fire?",
            '"russia" OR "role" OR "cease" OR "fire" OR "ceasefire"',
        ),
        # FTS5 syntax in a question is quoted as plain words ("or" is a stop word)
        ('Where is "Baku" OR NEAR x?', '"baku" OR "near"'),
        ("peace Peace PEACE", '"peace"'),  # each word once, lower case
        ("A 5 b", '"5"'),  # one-letter words dropped, numbers kept
        ("What is the one about?", ""),  # stop words only: no query at all
        ("", ""),
    ],
)
def test_fts_query(question: str, query: str) -> None:
    assert fts_query(question) == query


def test_a_question_full_of_fts_syntax_searches_without_error(catalog: Catalog) -> None:
    hits = catalog.keyword_search('Russia" OR NEAR(peacekeepers -) * ^', 10)
    assert {pid for pid, _ in hits} == {"d1#p0", "d2#p0", "d4#p0"}


def bm25_idf(total: int, with_term: int) -> float:
    return math.log(1 + (total - with_term + 0.5) / (with_term + 0.5))


def test_idf_worked_example(catalog: Catalog) -> None:
    idf = catalog.idf("How many peacekeepers has Russia deployed near the tunnel?")
    # 4 passages: "peacekeep" and "russia" are in 2, "deploy" in 1, "near" and "tunnel" in none.
    assert idf == pytest.approx(
        {
            "peacekeep": math.log(2),
            "russia": math.log(2),
            "deploy": math.log(1 + 3.5 / 1.5),
            "near": math.log(10),
            "tunnel": math.log(10),
        }
    )
    assert idf["deploy"] == pytest.approx(bm25_idf(4, 1)) == pytest.approx(1.2039728)


def test_idf_keys_are_content_term_stems_while_counts_come_from_fts_stems(
    catalog: Catalog,
) -> None:
    # Snowball stems "deployed" to "deploy", FTS5's Porter to "deploi": the count must still be
    # found, or a word in the index would look as rare as one that is absent.
    assert catalog.idf("deployed") == pytest.approx({"deploy": bm25_idf(4, 1)})
    assert catalog.idf("talks") == pytest.approx({"talk": bm25_idf(4, 2)})


def test_idf_of_stop_words_only_is_empty(catalog: Catalog) -> None:
    assert catalog.idf("What is the one about?") == {}


def test_counts_and_vocabulary_follow_writes_from_this_and_other_connections(
    catalog: Catalog,
) -> None:
    """The count and the vocabulary are kept between questions and read again only when a
    write happened: through this object, or through another process's connection."""
    other = Catalog(catalog.path)  # as a `bot ingest` beside a running server
    try:
        assert catalog.count_passages() == 4 and "vienna" in catalog.vocabulary()
        version = catalog.version()
        assert catalog.version() == version  # reading changes nothing
        text = "Envoys met again in Geneva."
        doc = DocumentInfo("d5", "News", "d5.txt", "", "", 1, len(text), "", "hash5")
        other.replace_documents(
            [(doc, [Passage("d5#p0", "d5", "News", "d5.txt", "", "", 0, 0, len(text), text)])]
        )
        assert catalog.version() != version
        assert catalog.count_passages() == 5 and "geneva" in catalog.vocabulary()
        catalog.delete_document("d1")
        assert catalog.count_passages() == 4 and other.count_passages() == 4
    finally:
        other.close()
