"""`simcare kb import` / `simcare kb export`: upsert by slug, bad articles by number, round trip."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from simcare.accounts.models import AuditEvent
from simcare.care.models import Article, ArticleTranslation

pytestmark = pytest.mark.django_db


def article(slug: str, question: str = "How do I renew?", **extra: Any) -> dict[str, Any]:
    return {
        "slug": slug,
        "category": "renewal",
        "translations": {
            "en": {"question": question, "alternatives": ["renew my plan"], "answer": "Sign in."},
            "fr": {
                "question": "Comment renouveler?",
                "alternatives": [],
                "answer": "Connectez-vous.",
            },
        },
        **extra,
    }


def write(path: Path, content: Any) -> Path:
    text = content if isinstance(content, str) else json.dumps(content, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


def run(*arguments: str) -> tuple[str, CommandError | None]:
    stdout = io.StringIO()
    try:
        call_command(*arguments, stdout=stdout, stderr=io.StringIO())
    except CommandError as error:
        return stdout.getvalue(), error
    return stdout.getvalue(), None


def export() -> list[dict[str, Any]]:
    stdout = io.StringIO()
    call_command("kb", "export", stdout=stdout)
    result: list[dict[str, Any]] = json.loads(stdout.getvalue())
    return result


def test_import_creates_then_updates_by_slug_and_leaves_unchanged_articles(tmp_path: Path) -> None:
    # given
    run("kb", "import", str(write(tmp_path / "kb.json", [article("renew"), article("esim")])))
    stamp = Article.objects.get(slug="esim").updated_at

    # when
    output, error = run(
        "kb",
        "import",
        str(write(tmp_path / "kb2.json", [article("renew", "How can I renew?"), article("esim")])),
    )

    # then
    assert error is None
    assert output.strip() == (
        "kb2.json: 2 articles read, 0 created, 1 updated, 1 unchanged, 0 rejected"
    )
    assert Article.objects.count() == 2
    assert ArticleTranslation.objects.get(article__slug="renew", language="en").question == (
        "How can I renew?"
    )
    assert Article.objects.get(slug="esim").updated_at == stamp
    assert AuditEvent.objects.filter(action="kb.imported").count() == 2


def test_bad_articles_are_reported_by_number_with_exit_3_and_the_others_applied(
    tmp_path: Path,
) -> None:
    entries = [
        article("good"),
        article("Bad Slug!"),
        {"slug": "no-translations", "category": "x", "translations": {}},
        article("good"),
        {"slug": "klingon", "translations": {"tlh": {"question": "?", "answer": "!"}}},
        {"slug": "no-answer", "translations": {"en": {"question": "Why?", "alternatives": "x"}}},
        "not an object",
    ]

    output, error = run("kb", "import", str(write(tmp_path / "kb.json", entries)))

    assert error is not None
    assert error.returncode == 3
    assert "6 of 7 articles rejected" in str(error)
    lines = output.strip().splitlines()
    assert lines[0] == "kb.json: 7 articles read, 1 created, 0 updated, 0 unchanged, 6 rejected"
    assert lines[1].startswith("article 2 (Bad Slug!): slug must be lower-case")
    assert lines[2].startswith("article 3 (no-translations): translations must be an object")
    assert lines[3] == "article 4 (good): slug good already given by article 1"
    assert lines[4].startswith("article 5 (klingon): unknown language tlh")
    assert lines[5] == "article 6 (no-answer): translations.en.alternatives must be a list of texts"
    assert lines[6] == "article 7: an article must be a JSON object"
    assert list(Article.objects.values_list("slug", flat=True)) == ["good"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("{not json", "This is not JSON"),
        ('{"slug": "x"}', "A knowledge-base file is a JSON list"),
    ],
)
def test_a_file_that_is_not_a_json_list_is_refused_whole_with_exit_2(
    tmp_path: Path, content: str, reason: str
) -> None:
    _output, error = run("kb", "import", str(write(tmp_path / "kb.json", content)))

    assert error is not None
    assert error.returncode == 2
    assert reason in str(error)
    assert Article.objects.count() == 0


def test_a_missing_file_is_refused_with_exit_2(tmp_path: Path) -> None:
    _output, error = run("kb", "import", str(tmp_path / "missing.json"))

    assert error is not None
    assert error.returncode == 2
    assert "cannot read" in str(error)


def test_export_round_trips_through_import(tmp_path: Path, demo_kb: Path) -> None:
    # given
    hidden = article("hidden-article", is_published=False)
    run("kb", "import", str(write(tmp_path / "hidden.json", [hidden])))
    first = export()

    # when
    Article.objects.all().delete()
    _output, error = run("kb", "import", str(write(tmp_path / "exported.json", first)))

    # then
    assert error is None
    assert export() == first
    source = {item["slug"]: item for item in json.loads(demo_kb.read_text(encoding="utf-8"))}
    exported = {item["slug"]: item for item in first}
    assert exported["hidden-article"]["is_published"] is False
    del exported["hidden-article"]
    assert exported == source


def test_an_unpublished_article_is_not_answered(tmp_path: Path) -> None:
    run("kb", "import", str(write(tmp_path / "kb.json", [article("renew", is_published=False)])))
    stdout = io.StringIO()

    call_command("kb", "ask", "--json", "How do I renew?", stdout=stdout)

    assert json.loads(stdout.getvalue())["slug"] is None


def test_the_bot_sees_an_edit_at_once(tmp_path: Path) -> None:
    run("kb", "import", str(write(tmp_path / "kb.json", [article("renew")])))
    stdout = io.StringIO()
    call_command("kb", "ask", "--json", "--language", "en", "voicemail password", stdout=stdout)
    assert json.loads(stdout.getvalue())["slug"] is None

    edited = article("renew", "How do I reset my voicemail password?")
    run("kb", "import", str(write(tmp_path / "kb2.json", [edited])))
    stdout = io.StringIO()
    call_command("kb", "ask", "--json", "--language", "en", "voicemail password", stdout=stdout)

    assert json.loads(stdout.getvalue())["slug"] == "renew"
