"""Two imports of the same new articles at once end with each article once (PostgreSQL)."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest
from django.db import connection, connections

from simcare.care.models import Article, ArticleTranslation
from simcare.care.services import KbImportReport, import_articles
from simcare.demo.loader import read_data

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks"),
    pytest.mark.django_db(transaction=True),
]


def test_two_imports_of_the_same_file_at_once_create_each_article_once() -> None:
    items: list[Any] = read_data("kb.json")
    barrier = threading.Barrier(2)
    reports: list[KbImportReport] = []
    failures: list[BaseException] = []
    lock = threading.Lock()

    def work() -> None:
        try:
            barrier.wait()
            report = import_articles(items, acting_user=None, source_name="concurrent")
            with lock:
                reports.append(report)
        except BaseException as error:  # surfaced by the assertion below
            with lock:
                failures.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    assert sum(report.created for report in reports) == len(items)
    assert sum(report.unchanged for report in reports) == len(items)
    assert Article.objects.count() == len(items)
    assert Counter(ArticleTranslation.objects.values_list("language", flat=True)) == {
        "zh-hans": len(items),
        "en": len(items),
        "fr": len(items),
    }
