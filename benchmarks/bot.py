"""The bot's answers per second and top-1 accuracy on a knowledge-base file.

    python benchmarks/bot.py                          # ../shared/data/kb.json beside the repo
    python benchmarks/bot.py path/to/kb.json --answers 5000

A fresh SQLite database in a temporary data dir is migrated and the file loaded
with the real `simcare kb import` (a subprocess, as an operator runs it). Then, in
one process, in the same run:

- answers/s of `care.bot.answer_for` (the full path the chat and `simcare kb ask`
  take: the knowledge-base stamp query, language detection, tokenising, BM25, the
  threshold, fetching the article), cycling through every question and alternative
  phrasing of the file in its three languages;
- answers/s of the ranking alone (`retrieval.Index.search`), and of a baseline: a
  naive scan that counts the query's words (Han characters for Chinese) found as
  substrings of each article's text and takes the best;
- top-1 accuracy with held-out phrasings: the file has no labelled questions of its
  own, so round k removes the k-th alternative phrasing of every article from the
  index and asks it; correct means the bot answers that article (confidence at or
  above the threshold). The baseline is scored on the same held-out questions;
- the hand-off rate on out-of-scope questions (tests/care/questions.json's
  questions labelled null), which should be 100%.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
DEFAULT_KB = REPO.parent / "shared" / "data" / "kb.json"
LABELLED = REPO / "tests" / "care" / "questions.json"
LANGUAGES = ("zh-hans", "en", "fr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kb", nargs="?", default=str(DEFAULT_KB), help="knowledge-base JSON file")
    parser.add_argument("--answers", type=int, default=3000, help="answers to time per method")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        print(json.dumps(run_child(Path(arguments.kb), arguments.answers)))
        return
    kb = Path(arguments.kb).resolve()
    if not kb.is_file():
        raise SystemExit(f"no knowledge-base file at {kb}")
    with tempfile.TemporaryDirectory(prefix="simcare-bot-bench-") as data_dir:
        env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
        env["SIMCARE_DATA_DIR"] = data_dir
        env["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(REPO / "src"), env.get("PYTHONPATH")])
        )
        simcare = [sys.executable, "-m", "simcare.cli"]
        _run([*simcare, "migrate", "--verbosity", "0"], env)
        imported = _run([*simcare, "kb", "import", str(kb)], env)
        child = [sys.executable, __file__, str(kb), "--child", "--answers", str(arguments.answers)]
        result: dict[str, Any] = json.loads(_run(child, env).strip().splitlines()[-1])
    print(f"knowledge base: {kb}")
    print(f"simcare kb import: {imported.strip()}")
    print_results(result)


def _run(command: list[str], env: dict[str, str]) -> str:
    finished = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        sys.stderr.write(finished.stdout + finished.stderr)
        raise SystemExit(finished.returncode)
    return finished.stdout


def print_results(result: dict[str, Any]) -> None:
    print(
        f"{result['articles']} articles; {result['questions']} questions timed "
        f"({result['answers']} answers per method, one process)"
    )
    header = f"{'method':<44} {'answers/s':>10} {'top-1 (held out)':>17}"
    print(header)
    print("-" * len(header))
    rows = (
        ("bot: answer_for (stamp query + BM25 + article)", "bot_rate", "bot_accuracy"),
        ("ranking only: Index.search (same answers)", "index_rate", "index_accuracy"),
        ("baseline: naive substring scan", "baseline_rate", "baseline_accuracy"),
    )
    for label, rate, accuracy in rows:
        print(f"{label:<44} {result[rate]:>10,.0f} {result[accuracy]:>16.1%}")
    print(
        f"held-out questions: {result['held_out']} "
        f"(per language: {', '.join(f'{k} {v:.1%}' for k, v in result['per_language'].items())})"
    )
    print(
        f"confidence threshold {result['threshold']}; out-of-scope questions handed off: "
        f"{result['handoffs']}/{result['out_of_scope']}"
    )
    print(
        f"ranking vs baseline: {result['index_rate'] / result['baseline_rate']:.1f}x the speed, "
        f"{100 * (result['index_accuracy'] - result['baseline_accuracy']):+.1f} points top-1; "
        f"the bot's full answer takes {1e6 / result['bot_rate']:.0f} µs"
    )


# --- the child: Django set up on the imported database ----------------------------------


def run_child(kb: Path, answers: int) -> dict[str, Any]:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    import django

    django.setup()
    from simcare.care import bot, queries, retrieval

    items = json.loads(kb.read_text(encoding="utf-8"))
    questions = [
        (text, language)
        for item in items
        for language, translation in item["translations"].items()
        for text in (translation["question"], *translation.get("alternatives", []))
    ]
    entries = {language: queries.entries(language) for language in LANGUAGES}
    indexes = {language: retrieval.Index(entries[language], language) for language in LANGUAGES}
    scans = {language: NaiveScan(entries[language], language) for language in LANGUAGES}
    for language in LANGUAGES:
        queries.index_for(language)  # built once, as in a running process

    def ask_bot(text: str, language: str) -> str | None:
        return bot.answer_for(text, language=language).slug

    def ask_index(text: str, language: str) -> str | None:
        hits = indexes[language].search(text, limit=1)
        return hits[0].slug if hits else None

    def ask_scan(text: str, language: str) -> str | None:
        return scans[language].best(text)

    held_out, per_language = held_out_accuracy(entries, retrieval, bot.confidence_threshold())
    out_of_scope = _out_of_scope_questions()
    handoffs = sum(
        bot.answer_for(text, language=language).handoff for text, language in out_of_scope
    )
    return {
        "articles": len(items),
        "questions": len(questions),
        "answers": answers,
        "threshold": bot.confidence_threshold(),
        "bot_rate": _rate(ask_bot, questions, answers),
        "index_rate": _rate(ask_index, questions, answers),
        "baseline_rate": _rate(ask_scan, questions, answers),
        "bot_accuracy": held_out["bot"],
        "index_accuracy": held_out["index"],
        "baseline_accuracy": held_out["baseline"],
        "held_out": held_out["count"],
        "per_language": per_language,
        "out_of_scope": len(out_of_scope),
        "handoffs": handoffs,
    }


def _rate(
    ask: Callable[[str, str], str | None], questions: list[tuple[str, str]], answers: int
) -> float:
    for text, language in questions[:20]:
        ask(text, language)  # warm up (jieba's dictionary, caches)
    started = time.perf_counter()
    for number in range(answers):
        text, language = questions[number % len(questions)]
        ask(text, language)
    return answers / (time.perf_counter() - started)


def held_out_accuracy(
    entries: dict[str, list[Any]], retrieval: Any, threshold: float
) -> tuple[dict[str, float], dict[str, float]]:
    """Round k leaves every article's k-th alternative out of the index and asks it."""
    counts = {"bot": 0, "index": 0, "baseline": 0, "count": 0}
    by_language: dict[str, list[int]] = {language: [0, 0] for language in LANGUAGES}
    rounds = max(
        (len(entry.alternatives) for rows in entries.values() for entry in rows), default=0
    )
    for held in range(rounds):
        for language in LANGUAGES:
            kept = [
                retrieval.Entry(
                    entry.slug,
                    entry.question,
                    tuple(text for k, text in enumerate(entry.alternatives) if k != held),
                    entry.answer,
                )
                for entry in entries[language]
            ]
            index = retrieval.Index(kept, language)
            scan = NaiveScan(kept, language)
            for entry in entries[language]:
                if held >= len(entry.alternatives):
                    continue
                question = entry.alternatives[held]
                hits = index.search(question, limit=1)
                ranked = hits[0].slug if hits else None
                answered = ranked if hits and hits[0].confidence >= threshold else None
                counts["count"] += 1
                counts["index"] += ranked == entry.slug
                counts["bot"] += answered == entry.slug
                counts["baseline"] += scan.best(question) == entry.slug
                by_language[language][0] += answered == entry.slug
                by_language[language][1] += 1
    total = max(counts["count"], 1)
    return (
        {
            "bot": counts["bot"] / total,
            "index": counts["index"] / total,
            "baseline": counts["baseline"] / total,
            "count": counts["count"],
        },
        {language: right / max(asked, 1) for language, (right, asked) in by_language.items()},
    )


def _out_of_scope_questions() -> list[tuple[str, str]]:
    labelled = json.loads(LABELLED.read_text(encoding="utf-8"))["questions"]
    return [
        (text, language)
        for language, items in labelled.items()
        for text, slug in items
        if slug is None
    ]


class NaiveScan:
    """The baseline: count the query's words found as substrings of each article's text."""

    def __init__(self, entries: list[Any], language: str) -> None:
        self.language = language
        self.texts = [
            (entry.slug, " ".join((entry.question, *entry.alternatives, entry.answer)).lower())
            for entry in entries
        ]

    def _words(self, query: str) -> list[str]:
        text = query.lower()
        if self.language == "zh-hans":
            return [character for character in text if "\u4e00" <= character <= "\u9fff"]
        return [word.strip("?,.!'\"") for word in text.split() if len(word) > 2]

    def best(self, query: str) -> str | None:
        words = self._words(query)
        best_slug, best_count = None, 0
        for slug, text in self.texts:
            count = sum(word in text for word in words)
            if count > best_count:
                best_slug, best_count = slug, count
        return best_slug


if __name__ == "__main__":
    main()
