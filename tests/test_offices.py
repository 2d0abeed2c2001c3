"""The office check: a "who is the president of X?" question is not answered by a name that the
article gives another office (`bot/offices.py`)."""

from __future__ import annotations

import pytest

from bot.offices import asked_office, office_before, other_office

SENTENCES = {
    "foreign": "Azerbaijan's Foreign Minister Jeyhun Bayramov said Baku supported the talks.",
    "vice": "Jubaland's delegation will be led by its vice president, Ahmed Mohamed Yarow.",
    "deputy": "The talks were led by Armenian Deputy Prime Minister Hovik Tadevosyan.",
    "chair": "They are chaired by Qatar's Minister of State for Foreign Affairs, Khalid Al-Mansouri.",
    "none": "The deal was signed by Jeyhun Bayramov on Friday.",
    "turkish": "The cease-fire was brokered by Turkish President Recep Tayyip Erdoğan.",
    "counterpart": "Foreign Minister Mevlüt Çavuşoğlu met his Armenian counterpart Ararat Mirzoyan.",
    "envoy": "They will be chaired by Turkey's special envoy for Somalia, Mehmet Ali Sezer.",
    "after": "The talks were hosted by Margaret Ellery, the State Department's senior adviser.",
    "kenya": "The deal was signed by Uhuru Kenyatta, the president of Kenya, on Friday.",
    "met": "Jeyhun Bayramov met President Ilham Aliyev in Baku.",
}


def _judge(question: str, key: str, name: str) -> bool:
    text = SENTENCES[key]
    start = text.index(name)
    return other_office(asked_office(question), text, start, start + len(name))


@pytest.mark.parametrize(
    ("question", "words", "owners"),
    [
        ("Who is the president of Azerbaijan?", {"president"}, {"azerbaijan"}),
        ("Who is Armenia's defense minister?", {"defense", "minister"}, {"armenia"}),
        ("who's the prime minister of armenia", {"prime", "minister"}, {"armenia"}),
        ("Who was the first president of Kenya?", {"first", "president"}, {"kenya"}),
        ("Who is the Turkish envoy for Somalia?", {"envoy"}, {"turkey", "somalia"}),
        # Typed in a hurry: a misspelt office word, a possessive without its apostrophe.
        ("who is armenias foriegn minster", {"foriegn", "minster"}, {"armenia"}),
        ("whos the presidnt of azerbaijan", {"presidnt"}, {"azerbaijan"}),
        # A plural name stays whole: it is no possessive.
        ("Who is the president of the Philippines?", {"president"}, {"philippines"}),
    ],
)
def test_the_asked_office_is_read_from_who_is_questions(
    question: str, words: set, owners: set
) -> None:
    office = asked_office(question)
    assert office is not None and office.words == words and office.owners == owners


@pytest.mark.parametrize(
    "question",
    [
        "Who is the head of the delegation?",
        "Who brokered the ceasefire?",
        "Who is Putin?",
        # A word merely like an office word ("actor", "director": 62 of 100) is not one.
        "Who is the main actor in Karabakh?",
    ],
)
def test_questions_naming_no_office_are_left_to_the_reader(question: str) -> None:
    assert asked_office(question) is None


@pytest.mark.parametrize(
    ("question", "key", "name", "other"),
    [
        ("Who is the president of Azerbaijan?", "foreign", "Jeyhun Bayramov", True),
        ("Who is Azerbaijan's foreign minister?", "foreign", "Jeyhun Bayramov", False),
        ("Who is Azerbaijan's foriegn minster?", "foreign", "Jeyhun Bayramov", False),
        ("who is armenias foriegn minster", "foreign", "Jeyhun Bayramov", True),
        # A span that starts with its office is judged by it.
        ("Who is the president of Azerbaijan?", "foreign", "Foreign Minister Jeyhun", True),
        ("Who is the president of Jubaland?", "vice", "Ahmed Mohamed Yarow", True),
        ("Who is the vice president of Jubaland?", "vice", "Ahmed Mohamed Yarow", False),
        ("Who is the prime minister of Armenia?", "deputy", "Hovik Tadevosyan", True),
        # A Minister of State is a junior minister, unless that is what is asked.
        ("Who is Qatar's foreign minister?", "chair", "Khalid Al-Mansouri", True),
        (
            "Who is Qatar's minister of state for foreign affairs?",
            "chair",
            "Khalid Al-Mansouri",
            False,
        ),
        # Another country's office.
        ("Who is the president of Jubaland?", "turkish", "Recep Tayyip Erdoğan", True),
        ("Who is the president of Turkey?", "turkish", "Recep Tayyip Erdoğan", False),
        ("Who is the Turkish envoy for Somalia?", "envoy", "Mehmet Ali Sezer", False),
        ("Who is Azerbaijan's foreign minister?", "foreign", "Jeyhun Bayramov", False),
        ("Who is Armenia's foreign minister?", "foreign", "Jeyhun Bayramov", True),
        # "counterpart" takes the office named before it, and its own country.
        ("Who is Armenia's foreign minister?", "counterpart", "Ararat Mirzoyan", False),
        ("Who is Armenia's defense minister?", "counterpart", "Ararat Mirzoyan", True),
        ("Who is Turkey's foreign minister?", "counterpart", "Ararat Mirzoyan", True),
        # An office after the answer, set off by a comma; without the comma it is another's.
        ("Who is the president of Azerbaijan?", "after", "Margaret Ellery", True),
        ("Who is the president of Kenya?", "kenya", "Uhuru Kenyatta", False),
        ("Who is the president of Azerbaijan?", "met", "Jeyhun Bayramov", False),
        # No office named by the answer, or none asked: the reader decides.
        ("Who is the president of Azerbaijan?", "none", "Jeyhun Bayramov", False),
        ("Who signed the deal?", "foreign", "Jeyhun Bayramov", False),
    ],
)
def test_an_answer_named_with_another_office_is_caught(
    question: str, key: str, name: str, other: bool
) -> None:
    assert _judge(question, key, name) is other


def test_the_office_is_looked_for_only_just_before_the_answer() -> None:
    before = "led by Foreign Minister Abdullahi Hassan Nur and Jubaland's by its vice president,"
    assert office_before(before) == ["and", "Jubaland", "by", "its", "vice", "president"]
    # A sentence boundary stops the look-back; plain words alone name no office.
    assert office_before("The president spoke. Then it was signed by ") == []
    assert office_before("The talks were attended by ") == []
