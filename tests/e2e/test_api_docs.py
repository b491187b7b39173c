"""The API's docs page renders in Chromium offline, within the Content Security Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_api_docs_render_every_operation_without_console_errors(
    live_server: object, page: Page
) -> None:
    # given: nothing but the live server may be reached (no CDN)
    outside: list[str] = []
    page.route(
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith(live_server.url)  # type: ignore[attr-defined]
            else (outside.append(route.request.url), route.abort())
        ),
    )

    # when
    page.goto(f"{live_server.url}/api/v1/docs")  # type: ignore[attr-defined]

    # then: Swagger UI drew the document (the page fixture fails on any console error)
    expect(page.get_by_role("heading", name="simcare API")).to_be_visible()
    expect(page.get_by_text("/api/v1/me/lines", exact=True)).to_be_visible()
    expect(page.get_by_text("/api/v1/me/lines/{msisdn}/renew", exact=True)).to_be_visible()
    expect(page.get_by_role("button", name="Authorize")).to_be_visible()
    assert outside == []
