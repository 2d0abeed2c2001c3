"""Question clean-up against the index's vocabulary: misspelt words corrected, known words left
alone, demonyms' countries added to the search query."""

from __future__ import annotations

from pathlib import Path

from bot.index import Index
from bot.ingest import ingest_paths
from bot.query import closest_term, demonyms, prepare
from tests.conftest import ARTICLE


def test_misspelt_names_are_corrected_to_the_articles_words(index: Index) -> None:
    ingest_paths(index, [ARTICLE])
    query = prepare("What did Yerevn urge Baku to do?", index.catalog)
    assert query.question == "What did Yerevan urge Baku to do?"
    assert query.corrections == {"Yerevn": "Yerevan"}
    query = prepare("how many peacekeepres did moscow send", index.catalog)
    assert "peacekeep" in query.question and "peacekeepres" not in query.question


def test_a_possessive_keeps_its_s(index: Index) -> None:
    ingest_paths(index, [ARTICLE])
    query = prepare("How many peacekeepers has Vladimir Putin's country sent?", index.catalog)
    assert query.question == "How many peacekeepers has Vladimir Putin's country sent?"
    query = prepare("What did Yerevn's envoy say?", index.catalog)
    assert query.question == "What did Yerevan's envoy say?"


def test_known_words_the_articles_lack_are_left_alone(index: Index) -> None:
    ingest_paths(index, [ARTICLE])
    query = prepare("What is the capital of France?", index.catalog)
    assert query.question == "What is the capital of France?" and not query.corrections


def test_abbreviated_titles_are_spelt_out_unless_the_articles_use_them(
    index: Index, tmp_path: Path
) -> None:
    ingest_paths(index, [ARTICLE])
    query = prepare("what did the turkish FM say about mirzoyan", index.catalog)
    assert query.question == "what did the turkish foreign minister say about mirzoyan"
    assert query.corrections == {"FM": "foreign minister"}
    query = prepare("why were some armenian MPs against it", index.catalog)
    assert "members of parliament" in query.question
    # in lower case "pm" is the time of day
    assert prepare("what happened at 5 pm", index.catalog).question == "what happened at 5 pm"
    # an article that writes "PM" keeps the question's "PM"
    assert (
        prepare("What did the PM say?", index.catalog).question
        == "What did the prime minister say?"
    )
    article = tmp_path / "pm.txt"
    article.write_text("Pashinyan speaks\n\nThe PM said the border would open on Friday.\n")
    ingest_paths(index, [article])
    assert prepare("What did the PM say?", index.catalog).question == "What did the PM say?"


def test_demonyms_add_their_country_to_the_search_only(index: Index) -> None:
    ingest_paths(index, [ARTICLE])
    query = prepare("Who is the Turkish foreign minister?", index.catalog)
    assert query.question == "Who is the Turkish foreign minister?"
    assert query.search == "Who is the Turkish foreign minister? (Turkey)"
    assert demonyms()["azerbaijani"] == "Azerbaijan"


def test_closest_term_prefers_the_more_frequent_of_equals() -> None:
    assert closest_term("armena", {"armenb": 5, "armenc": 9}) == "armenc"
    assert closest_term("armena", {"armenia": 1, "armenc": 9}) == "armenia"  # closer wins
    assert closest_term("zzzz", {"armenia": 5}) is None


def test_vocabulary_follows_the_index(index: Index) -> None:
    assert index.catalog.vocabulary() == {}
    ingest_paths(index, [ARTICLE])
    vocabulary = index.catalog.vocabulary()
    assert vocabulary["yerevan"] >= 1
    assert index.catalog.surface_word("peacekeep") in {"peacekeepers", "peacekeeping"}


def test_known_places_hold_countries_and_every_capital() -> None:
    from bot.query import known_places

    places = known_places()
    assert {"azerbaijan", "baku", "armenia", "yerevan"} <= places
    # a capital the table gives as a list is a place too, not the list's text
    assert "vatican city" in places and not any(p.startswith("[") for p in places)


def test_lower_case_typos_the_articles_lack_take_the_closest_english_word(index: Index) -> None:
    ingest_paths(index, [ARTICLE])
    query = prepare("wher did the talks take place and wer they compleatly over", index.catalog)
    assert "where did" in query.question and "completely" in query.question
    # A capitalised word the articles lack is taken for a name: never an English word.
    query = prepare("What did Macrom say?", index.catalog)
    assert query.question == "What did Macrom say?" and not query.corrections
