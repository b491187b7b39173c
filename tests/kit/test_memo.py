"""{% memo %}: the site header's links are rendered once per language and kind of visitor,
and each visitor still gets the header that is theirs."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.template import Context, Template, TemplateSyntaxError
from django.test import Client
from django.utils import translation

from simcare.accounts.models import Role, Subscriber
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db


def _header(client: Client, path: str) -> str:
    page = client.get(path).content.decode()
    return page[page.index('<nav class="main-nav"') : page.index("</nav>")]


def test_each_visitor_gets_the_header_links_of_their_kind_and_language(
    client: Client, make_subscriber: Callable[..., Subscriber], make_staff: Callable[..., object]
) -> None:
    subscriber = signed_in_client(make_subscriber().user)
    agent = signed_in_client(make_staff(Role.AGENT))  # type: ignore[arg-type]

    for _round in range(2):  # the second round comes from the memo
        anonymous_en = _header(client, "/en/")
        anonymous_fr = _header(client, "/fr/")
        customer = _header(subscriber, "/en/")
        staff = _header(agent, "/zh-hans/")

        assert 'href="/en/help/"' in anonymous_en
        assert "Returns" not in anonymous_en
        assert "Sign in" in anonymous_en
        assert 'href="/fr/help/"' in anonymous_fr
        assert "Avis" in anonymous_fr
        assert "Reviews" not in anonymous_fr
        assert "Returns" in customer
        assert "My tickets" in customer
        assert "My account" in customer
        assert "Sign in" not in customer
        assert 'href="/zh-hans/help/"' in staff
        assert "My tickets" not in staff
        assert "我的工单" not in staff


def test_a_memo_block_renders_again_only_for_another_language_or_vary_value() -> None:
    calls: list[str] = []

    class Counted:
        def __str__(self) -> str:
            calls.append("rendered")
            return "x"

    template = Template("{% load simcare %}{% memo kind %}{{ counted }}{% endmemo %}")
    with translation.override("en"):
        for _ in range(3):
            assert template.render(Context({"kind": "a", "counted": Counted()})) == "x"
        template.render(Context({"kind": "b", "counted": Counted()}))
    with translation.override("fr"):
        template.render(Context({"kind": "a", "counted": Counted()}))

    assert len(calls) == 3  # en/a once, en/b, fr/a


def test_a_memo_block_keeps_at_most_its_entries_then_starts_over() -> None:
    calls: list[str] = []

    class Counted:
        def __str__(self) -> str:
            calls.append("rendered")
            return "x"

    template = Template("{% load simcare %}{% memo kind entries=2 %}{{ counted }}{% endmemo %}")
    with translation.override("en"):
        for kind in ("a", "b", "a", "b"):  # two entries: the second round is remembered
            template.render(Context({"kind": kind, "counted": Counted()}))
        assert len(calls) == 2
        for kind in ("c", "a"):  # a third value: the block starts over, with c
            template.render(Context({"kind": kind, "counted": Counted()}))

    assert len(calls) == 4


@pytest.mark.parametrize("entries", ["entries=none", "entries=0"])
def test_a_memo_block_needs_a_positive_whole_number_of_entries(entries: str) -> None:
    with pytest.raises(TemplateSyntaxError, match="entries=N"):
        Template(f"{{% load simcare %}}{{% memo kind {entries} %}}x{{% endmemo %}}")
