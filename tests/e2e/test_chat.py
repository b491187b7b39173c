"""The live chat in Chromium: a visitor asks in Chinese, the bot answers, the visitor asks
for a person, an agent in the console takes the chat, replies and closes it; the visitor
rates the chat 5.

The browser needs real WebSockets, so the pages come from a `simcare serve` process on
the test database rather than Django's live server.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page, expect

from simcare.accounts.models import Role, User
from simcare.care import chat_queries, hours
from simcare.care.models import (
    AgentProfile,
    Conversation,
    ConversationStatus,
    OpeningHours,
    SatisfactionRating,
    Team,
)
from tests.care.servers import web_processes
from tests.conftest import signed_in_client

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[str]:
    with web_processes(1, tmp_path) as ports:
        yield f"http://127.0.0.1:{ports[0]}"


@pytest.fixture
def always_open_team() -> Team:
    team = Team.objects.create(name="Around the clock", is_default=True, province="ON")
    for weekday in range(7):
        OpeningHours.objects.create(
            team=team, weekday=weekday, opens_at=dt.time(0), closes_at=dt.time(23, 59, 59)
        )
    if not hours.is_open(chat_queries.schedule_for(team), timezone.now()):
        pytest.skip("today is a holiday in Ontario (or the last second of the day)")
    return team


def test_a_visitor_chats_with_the_bot_then_an_agent(
    server: str,
    page: Page,
    browser: Browser,
    always_open_team: Team,
    make_staff: Callable[..., User],
) -> None:
    agent = make_staff(Role.AGENT, username="agent.mei")
    agent.first_name = "Mei"
    agent.save(update_fields=["first_name"])
    AgentProfile.objects.create(
        user=agent, team=always_open_team, languages=["zh-hans", "en"], is_available=True
    )
    agent_context = browser.new_context(locale="en-CA")
    agent_context.add_cookies(
        [
            {
                "name": "sessionid",
                "value": signed_in_client(agent).cookies["sessionid"].value,
                "url": server,
            }
        ]
    )
    console = agent_context.new_page()
    console.goto(f"{server}/en/console/")
    expect(console.get_by_role("heading", name="Agent console")).to_be_visible()

    # the visitor asks in Chinese; the bot answers in Chinese
    page.goto(f"{server}/zh-hans/")
    page.get_by_role("button", name="在线咨询").click()
    page.get_by_role("textbox", name="请输入您的问题").fill("<b>怎么</b>充值？")  # noqa: RUF001
    page.get_by_role("button", name="发送", exact=True).click()
    log = page.locator(".simcare-chat-log")
    expect(log.locator(".simcare-msg-visitor .simcare-body")).to_have_text(
        "<b>怎么</b>充值？"  # noqa: RUF001
    )
    expect(log.locator(".simcare-msg-bot")).to_have_count(1)
    expect(log.locator("b")).to_have_count(0)  # the visitor's HTML is text

    # asks for a person: the chat reaches the agent's live queue
    page.get_by_role("button", name="转人工").click()
    expect(log.locator(".simcare-msg-system").last).to_have_text(
        "您已进入排队。工作人员将很快为您服务。"
    )
    console.get_by_role("button", name="Accept").click()
    expect(console.locator("#chat-log")).to_contain_text("<b>怎么</b>充值？")  # noqa: RUF001
    expect(log.locator(".simcare-msg-system").last).to_have_text("Mei 已加入对话。")

    # the agent replies with a link; the visitor sees it live, as a safe link
    console.get_by_label("Reply").fill("您好！请看 https://example.com/topup")  # noqa: RUF001
    console.get_by_role("button", name="Send", exact=True).click()
    reply = log.locator(".simcare-msg-agent")
    expect(reply).to_contain_text("您好！请看")  # noqa: RUF001
    link = reply.get_by_role("link", name="https://example.com/topup")
    expect(link).to_have_attribute("rel", "noopener nofollow noreferrer")

    # the agent closes the chat with a reason
    console.get_by_label("Close with a reason").fill("answered")
    console.get_by_role("button", name="Close the chat").click()
    expect(log.locator(".simcare-msg-system").last).to_have_text("本次对话已结束。感谢您联系我们。")
    conversation = Conversation.objects.get()
    assert conversation.status == ConversationStatus.CLOSED
    assert conversation.close_reason == "answered"
    assert conversation.language == "zh-hans"

    # the visitor is asked once for a 1-5 rating and gives 5
    rating = page.locator(".simcare-chat-rating")
    expect(rating).to_contain_text("请打分")
    rating.get_by_role("button", name="5", exact=True).click()
    rating.get_by_role("textbox", name="留言（可选）").fill("很好")  # noqa: RUF001
    rating.get_by_role("button", name="提交评分").click()
    expect(rating).to_have_text("感谢您的评分！")  # noqa: RUF001
    stored = SatisfactionRating.objects.get()
    assert (stored.conversation, stored.score, stored.comment, stored.agent) == (
        conversation,
        5,
        "很好",
        agent,
    )
    agent_context.close()
