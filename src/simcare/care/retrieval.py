"""Lexical retrieval for the bot and the help center: pure rules, no I/O.

- `detect_language(text)`: Han characters → zh-hans; French cues → fr; else en.
- `tokenize(text, language)`: jieba words for Chinese (initialised once, lazily and
  quietly), each followed by its characters; for English and French, lower-cased
  words with accents folded, stop words dropped and a Snowball stem; Latin words
  inside Chinese text get the English treatment ("eSIM", "APN").
- `wants_person(text)`: "talk to a person" / "人工" / "parler à un agent" in any of the
  three languages.
- `live_intent(text, language)`: the questions answered from the subscriber's own data
  (balance, remaining allowances, expiry, last order, renewal).
- `Index`: one language's articles ranked with BM25 (bm25s) over the question and its
  alternative phrasings, plus the answer at a lower weight. Its confidence is the
  IDF-weighted share of the query's words found in the best article (0..1): BM25
  scores are not comparable across queries, this share is, so one threshold works
  for every question. Below the threshold the bot hands off to a person.
"""

from __future__ import annotations

import functools
import logging
import math
import re
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import bm25s

LANGUAGES = ("zh-hans", "en", "fr")
DEFAULT_THRESHOLD = 0.3
# How much a word found only in an article's answer counts, beside one found in
# its question or alternative phrasings.
ANSWER_WEIGHT = 0.5

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_LATIN_WORD = re.compile(r"[a-z0-9]+")
_WORD = re.compile(r"\w", re.UNICODE)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


STOPWORDS = {
    "en": _words(
        """a about am an and any are as at be been but by can could did do does doing for
        from get got had has have having he her here hi hello how i if in into is it its
        just me my myself no not now of on or our please she should so some than that the
        their them then there these they this those to too up us very was we were what
        when where which who why will with would you your yours"""
    ),
    "fr": _words(
        """a ai au aux avec avez avoir bonjour c ca ce ces cet cette comment d dans de des
        du elle en est et etre il ils j je l la le les leur lui m ma mais me mes moi mon
        n ne nos notre nous on ou par pas pour qu quand que quel quelle quels quelles qui
        s sa se ses si son sont sur t ta te tes toi ton tu un une vos votre vous y est-ce
        suis svp merci peux peut puis veux voudrais faire fait"""
    ),
    "zh-hans": _words(
        """的 了 吗 呢 吧 啊 呀 嘛 我 我的 你 你们 您 是 在 和 与 及 怎么 怎样 如何 什么 请问
        一下 可以 能 能不能 要 想 这个 那个 么 就 都 也 把 被 给 对 请 谢谢 你好 哦 嗯 啦 个"""
    ),
}
_STEMMER_NAMES = {"en": "english", "fr": "french"}

# Asking for a person, in any language (the text is folded: lower case, no accents).
_PERSON_PATTERNS = (
    re.compile(
        r"\b(talk|speak|chat|connect|put)\w*\s+(me\s+)?(to|with|through)\s+"
        r"(a|an|the|some|real|live)?\s*(real\s+|live\s+)?"
        r"(person|human|agent|someone|somebody|representative|rep|operator|staff)\b"
    ),
    re.compile(r"\b(human|humans|agent|agents|representative|operator|real person|live person)\b"),
    re.compile(r"\b(conseiller|conseillere|humain|humaine|operateur|operatrice|agente)\b"),
    re.compile(r"\b(parler|discuter|joindre)\s+(a|avec)\s+(quelqu'un|quelqu un|une personne)\b"),
    re.compile(r"\b(vraie personne|personne reelle)\b"),
    re.compile(r"人工|真人|转客服|找客服|联系客服|跟客服|和客服|客服人员|接线员"),
)

# Live-data questions: an intent pattern plus a personal cue (my / mon / 我), so
# "how does renewal work?" still gets the article while "when does my plan
# expire?" gets the subscriber's own date.
_PERSONAL = {
    "en": re.compile(r"\b(my|mine|i|me|i'm|im|i've|ive)\b"),
    "fr": re.compile(r"\b(mon|ma|mes|je|j|me|m|moi)\b"),
    "zh-hans": re.compile(r"我"),
}
_LIVE_PATTERNS: dict[str, tuple[tuple[str, re.Pattern[str]], ...]] = {
    "en": (
        ("order", re.compile(r"(?<!in )\b(order|orders|purchase|purchases)\b")),
        ("balance", re.compile(r"\b(balance|wallet)\b")),
        (
            "allowance",
            re.compile(
                r"\b(data|minutes|texts|sms|gb|mb)\b.*\b(left|remaining|remain|used)\b"
                r"|\b(left|remaining)\b.*\b(data|minutes|texts|sms)\b|\bhow much data\b"
            ),
        ),
        (
            "expiry",
            re.compile(r"\b(expire|expires|expiry|expiration|expiring|days left|valid until)\b"),
        ),
        ("renewal", re.compile(r"\b(renew|renewal|recharge|extend)\b")),
    ),
    "fr": (
        ("order", re.compile(r"\b(commande|commandes|achat|achats)\b")),
        ("balance", re.compile(r"\b(solde|portefeuille)\b")),
        (
            "allowance",
            re.compile(
                r"\b(donnees|data|minutes|textos|sms|go|mo)\b.*"
                r"\b(reste|restant|restantes|restants)\b"
                r"|\b(reste|restant|restantes|restants)\b.*\b(donnees|data|minutes|textos|sms)\b"
            ),
        ),
        (
            "expiry",
            re.compile(r"\b(expire|expiration|expirer|jours restants|echeance|valide jusqu)"),
        ),
        ("renewal", re.compile(r"\b(renouvel\w*|recharger|prolonger)\b")),
    ),
    "zh-hans": (
        ("order", re.compile(r"订单|购买记录")),
        ("balance", re.compile(r"余额|钱包|查话费|话费还")),
        ("allowance", re.compile(r"流量|分钟|短信.*剩|剩.*(流量|分钟|短信)")),
        ("expiry", re.compile(r"到期|过期|有效期|还剩几天|剩几天|哪天")),
        ("renewal", re.compile(r"续费|续期|充值|续一下")),
    ),
}
_AUTO_RENEW = re.compile(r"auto.?renew|renouvellement automatique|自动续费|自动扣")

_FRENCH_CUES = _words(
    """le la les des du un une est mon ma mes je vous tu pour avec comment quand pourquoi
    quel quelle quels quelles combien ou puis peux veux forfait donnees solde reste
    renouveler carte numero telephone bonjour merci svp qu est-ce ca"""
)
_ENGLISH_CUES = _words(
    """the is are my how what when where why do does can could i you to for with of an
    plan data balance number phone card please hello thanks it"""
)
_FRENCH_LETTERS = re.compile(r"[éèêëàâçùûîïôœ]")


def fold(text: str) -> str:
    """Lower case without accents: "Réinitialiser" → "reinitialiser"."""
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(character for character in decomposed if not unicodedata.combining(character))


def normalize_language(language: str | None) -> str | None:
    """ "zh-Hans", "zh_hans", "zh" → "zh-hans"; "fr-CA" → "fr"; unknown → None."""
    if not language:
        return None
    code = language.lower().replace("_", "-")
    if code.startswith("zh"):
        return "zh-hans"
    code = code[:2]
    return code if code in LANGUAGES else None


def detect_language(text: str) -> str:
    if _HAN.search(text):
        return "zh-hans"
    if _FRENCH_LETTERS.search(text.lower()):
        return "fr"
    words = re.findall(r"[a-z]+(?:-[a-z]+)?", fold(text).replace("'", " "))
    french = sum(word in _FRENCH_CUES for word in words)
    english = sum(word in _ENGLISH_CUES for word in words)
    return "fr" if french > english else "en"


_jieba_lock = threading.Lock()
_jieba: Any = None


def _segmenter() -> Any:
    """jieba's default tokenizer, initialised once and without its banner on stderr."""
    global _jieba  # noqa: PLW0603 - one process-wide dictionary, loaded on first use
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


@functools.lru_cache(maxsize=2)
def _stemmer(language: str) -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer(_STEMMER_NAMES[language])


@functools.lru_cache(maxsize=50_000)
def _stem(word: str, language: str) -> str:
    stem: str = _stemmer(language).stemWord(word)
    return stem


def _latin_tokens(text: str, language: str) -> list[str]:
    stopwords = STOPWORDS[language]
    folded = fold(text)
    return [
        _stem(word, language)
        for word in _LATIN_WORD.findall(folded)
        if word not in stopwords and (len(word) > 1 or word.isdigit())
    ]


def tokenize(text: str, language: str) -> list[str]:
    """The words BM25 compares, in order, with repeats."""
    if language != "zh-hans":
        return _latin_tokens(text, language)
    stopwords = STOPWORDS["zh-hans"]
    tokens: list[str] = []
    for piece in _segmenter().cut_for_search(text):
        word = piece.strip().lower()
        if not word or not _WORD.search(word):
            continue
        if _HAN.search(word):
            if word not in stopwords:
                tokens.append(word)
                # The characters of a word too: customers write 退钱 for 退款, 交钱
                # for 付款; a shared character still counts, by its lower IDF.
                if len(word) > 1:
                    tokens.extend(
                        character
                        for character in word
                        if _HAN.match(character) and character not in stopwords
                    )
        else:
            tokens.extend(_latin_tokens(word, "en"))
    return tokens


def wants_person(text: str) -> bool:
    """Whether the customer asks for a human, in any of the three languages."""
    folded = fold(text).replace("\u2019", "'")
    return any(pattern.search(folded) for pattern in _PERSON_PATTERNS)


def live_intent(text: str, language: str) -> str | None:
    """ "balance", "allowance", "expiry", "order" or "renewal" when the question is about
    the asker's own account, else None."""
    folded = fold(text).replace("\u2019", "'") if language != "zh-hans" else text
    if not _PERSONAL[language].search(folded.replace("'", " ' ")) or _AUTO_RENEW.search(folded):
        return None
    for intent, pattern in _LIVE_PATTERNS[language]:
        if pattern.search(folded):
            return intent
    return None


@dataclass(frozen=True)
class Entry:
    """One article's text in the index's language."""

    slug: str
    question: str
    alternatives: tuple[str, ...]
    answer: str


@dataclass(frozen=True)
class Hit:
    slug: str
    bm25: float
    confidence: float


def _bm25(corpus: list[list[str]]) -> bm25s.BM25:
    # Imported on first use: bm25s brings scipy (about a second), which the import,
    # the export and the help center's first page load should not wait for.
    import bm25s

    logging.getLogger("bm25s").setLevel(logging.WARNING)  # one debug line per index otherwise
    retriever = bm25s.BM25()
    retriever.index(corpus, show_progress=False)
    return retriever


class Index:
    """One language's articles, ready to rank a question against."""

    def __init__(
        self, entries: Iterable[Entry], language: str, *, answer_weight: float = ANSWER_WEIGHT
    ) -> None:
        self.language = language
        self.entries = tuple(entries)
        self.by_slug = {entry.slug: entry for entry in self.entries}
        self.answer_weight = answer_weight
        main = [
            tokenize(" ".join((entry.question, *entry.alternatives)), language)
            for entry in self.entries
        ]
        answers = [tokenize(entry.answer, language) for entry in self.entries]
        self._main_sets = [frozenset(tokens) for tokens in main]
        self._answer_sets = [frozenset(tokens) for tokens in answers]
        count = len(self.entries)
        frequency: dict[str, int] = {}
        for words in self._main_sets:
            for word in words:
                frequency[word] = frequency.get(word, 0) + 1
        self._idf = {word: _idf(count, seen) for word, seen in frequency.items()}
        self._unseen_idf = _idf(count, 0)
        self._main = _bm25(main) if count else None
        self._answers = _bm25(answers) if count else None

    def __len__(self) -> int:
        return len(self.entries)

    def search(self, query: str, *, limit: int = 5) -> list[Hit]:
        """The best articles for `query`, best first; none when no word matches."""
        return self.search_tokens(tokenize(query, self.language), limit=limit)

    def search_tokens(self, tokens: Sequence[str], *, limit: int = 5) -> list[Hit]:
        if not tokens or self._main is None or self._answers is None:
            return []
        words = list(dict.fromkeys(tokens))
        scores = self._main.get_scores(words) + self.answer_weight * self._answers.get_scores(words)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [
            Hit(self.entries[i].slug, float(scores[i]), self._confidence(words, int(i)))
            for i in order
            if scores[i] > 0
        ]

    def _confidence(self, words: list[str], position: int) -> float:
        main, answer = self._main_sets[position], self._answer_sets[position]
        total = found = 0.0
        for word in words:
            weight = self._idf.get(word, self._unseen_idf)
            total += weight
            if word in main:
                found += weight
            elif word in answer:
                found += weight * self.answer_weight
        return round(found / total, 4) if total else 0.0


def _idf(documents: int, containing: int) -> float:
    return math.log(1 + (documents - containing + 0.5) / (containing + 0.5))
