"""The pure retrieval rules: tokens, language detection, hand-off phrases, the index."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simcare.care import retrieval


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("怎么续费", "zh-hans"),
        ("eSIM 怎么装", "zh-hans"),
        ("Comment renouveler mon forfait?", "fr"),
        ("ou est le magasin", "fr"),
        ("un agent", "fr"),
        ("How do I renew?", "en"),
        ("agent", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert retrieval.detect_language(text) == language


def test_english_and_french_tokens_are_folded_stemmed_and_without_stop_words() -> None:
    assert retrieval.tokenize("How do I renew my plans?", "en") == ["renew", "plan"]
    assert retrieval.tokenize("Renouvellement des données", "fr") == retrieval.tokenize(
        "renouveler donnees", "fr"
    )


def test_chinese_is_segmented_into_words_and_latin_words_kept() -> None:
    tokens = retrieval.tokenize("怎么查流量还剩多少\uff1fiPhone 的 eSIM", "zh-hans")

    assert "流量" in tokens
    assert "iphon" in tokens
    assert "esim" in tokens
    assert "怎么" not in tokens
    assert "\uff1f" not in tokens


def test_the_index_ranks_the_article_whose_phrasings_match() -> None:
    index = retrieval.Index(
        [
            retrieval.Entry(
                "renew", "How do I renew my plan?", ("pay for next month",), "Sign in."
            ),
            retrieval.Entry(
                "esim", "How do I install an eSIM?", ("scan the QR code",), "Open Settings."
            ),
        ],
        "en",
    )

    hits = index.search("scan my QR code")

    assert [hit.slug for hit in hits] == ["esim"]
    assert hits[0].confidence == 1.0
    assert index.search("the and of") == []


def test_an_empty_index_finds_nothing() -> None:
    assert retrieval.Index([], "fr").search("forfait") == []


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what is my balance", "balance"),
        ("when does my plan expire", "expiry"),
        ("how much data do I have left", "allowance"),
        ("what's the status of my last order", "order"),
        ("I want to renew my line", "renewal"),
        ("turn off my auto-renew", None),
        ("how does renewal work", None),
        ("can I pay by credit card", None),
        ("I need a SIM in order to call home", None),
    ],
)
def test_live_intents_in_english(text: str, intent: str | None) -> None:
    assert retrieval.live_intent(text, "en") == intent


def test_live_intents_in_french_and_chinese() -> None:
    assert retrieval.live_intent("quel est mon solde", "fr") == "balance"
    assert retrieval.live_intent("quand mon forfait expire-t-il", "fr") == "expiry"
    assert retrieval.live_intent("我的余额还有多少", "zh-hans") == "balance"
    assert retrieval.live_intent("我的套餐哪天到期", "zh-hans") == "expiry"
    assert retrieval.live_intent("套餐价格", "zh-hans") is None
    assert retrieval.live_intent("puis-je payer par carte de crédit", "fr") is None
    assert retrieval.live_intent("我怎么交话费", "zh-hans") is None


_INDEXES = {
    language: retrieval.Index(
        [
            retrieval.Entry("renew", "How do I renew? 怎么续费 Comment renouveler?", ("x",), "y"),
            retrieval.Entry("esim", "eSIM iPhone 安装", (), "Réglages"),
        ],
        language,
    )
    for language in retrieval.LANGUAGES
}


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=400))
def test_any_text_is_tokenised_detected_and_searched_without_error(text: str) -> None:
    language = retrieval.detect_language(text)

    assert language in retrieval.LANGUAGES
    for each in retrieval.LANGUAGES:
        assert all(token for token in retrieval.tokenize(text, each))
        hits = _INDEXES[each].search(text)
        assert all(0.0 <= hit.confidence <= 1.0 for hit in hits)
        assert retrieval.live_intent(text, each) in {
            None,
            "balance",
            "allowance",
            "expiry",
            "order",
            "renewal",
        }
    assert isinstance(retrieval.wants_person(text), bool)
