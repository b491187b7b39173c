"""The pure rules: business hours across holidays and closures, and queue/offer routing."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from simcare.care import hours, routing
from simcare.care.canned import fill

TORONTO = ZoneInfo("America/Toronto")
NINE_TO_FIVE = ((dt.time(9), dt.time(17)),)
WEEKDAYS = hours.Schedule(
    time_zone="America/Toronto", weekly=dict.fromkeys(range(5), NINE_TO_FIVE), province="ON"
)


def toronto(*parts: int) -> dt.datetime:
    return dt.datetime(*parts, tzinfo=TORONTO)


@pytest.mark.parametrize(
    ("moment", "is_open"),
    [
        (toronto(2026, 12, 1, 9, 0), True),  # opening minute
        (toronto(2026, 12, 1, 16, 59), True),
        (toronto(2026, 12, 1, 17, 0), False),  # closing minute is closed
        (toronto(2026, 12, 5, 12, 0), False),  # Saturday
        (toronto(2026, 12, 25, 12, 0), False),  # Christmas
        (toronto(2026, 12, 28, 12, 0), False),  # Boxing Day observed
        (toronto(2026, 7, 1, 12, 0), False),  # Canada Day
        (toronto(2026, 8, 3, 12, 0), True),  # Civic Holiday is not statutory in Ontario
    ],
)
def test_is_open(moment: dt.datetime, is_open: bool) -> None:
    assert hours.is_open(WEEKDAYS, moment) is is_open


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (toronto(2026, 12, 1, 10, 0), toronto(2026, 12, 1, 10, 0)),  # open now
        (toronto(2026, 12, 1, 7, 30), toronto(2026, 12, 1, 9, 0)),
        (toronto(2026, 12, 4, 17, 0), toronto(2026, 12, 7, 9, 0)),  # Friday evening → Monday
        (toronto(2026, 12, 24, 18, 0), toronto(2026, 12, 29, 9, 0)),  # across Christmas
        (toronto(2026, 6, 30, 20, 0), toronto(2026, 7, 2, 9, 0)),  # across Canada Day
        (toronto(2026, 12, 31, 17, 30), toronto(2027, 1, 4, 9, 0)),  # New Year's Day, weekend
        # A UTC moment reads in Toronto: 2026-12-01 03:00 UTC is 22:00 the evening before.
        (dt.datetime(2026, 12, 1, 3, 0, tzinfo=dt.UTC), toronto(2026, 12, 1, 9, 0)),
    ],
)
def test_next_opening(moment: dt.datetime, expected: dt.datetime) -> None:
    assert hours.next_opening(WEEKDAYS, moment) == expected


def test_custom_closures_and_split_days() -> None:
    schedule = hours.Schedule(
        time_zone="America/Toronto",
        weekly={0: ((dt.time(13), dt.time(17)), (dt.time(9), dt.time(12)))},
        province="ON",
        closures=frozenset({dt.date(2026, 12, 7)}),
    )
    assert hours.next_opening(schedule, toronto(2026, 12, 6, 12, 0)) == toronto(2026, 12, 14, 9)
    assert hours.is_open(schedule, toronto(2026, 12, 14, 12, 30)) is False
    assert hours.next_opening(schedule, toronto(2026, 12, 14, 12, 30)) == toronto(2026, 12, 14, 13)


def test_quebec_holidays_differ_from_ontario() -> None:
    quebec = hours.Schedule(time_zone="America/Toronto", weekly=WEEKDAYS.weekly, province="QC")
    # Saint-Jean-Baptiste (24 June) closes Québec, not Ontario.
    assert hours.is_open(quebec, toronto(2026, 6, 24, 12, 0)) is False
    assert hours.is_open(WEEKDAYS, toronto(2026, 6, 24, 12, 0)) is True


def test_a_schedule_without_hours_never_opens() -> None:
    never = hours.Schedule(time_zone="America/Toronto", weekly={})
    assert hours.next_opening(never, toronto(2026, 12, 1, 10, 0)) is None


T0 = dt.datetime(2026, 12, 1, 15, 0, tzinfo=dt.UTC)


def waiting(
    conversation_id: int, *, minutes: int, vip: bool = False, language: str = "en"
) -> routing.Waiting:
    return routing.Waiting(conversation_id, language, vip, T0 + dt.timedelta(minutes=minutes))


def agent(agent_id: int, *languages: str, load: int = 0, limit: int = 3) -> routing.AgentState:
    return routing.AgentState(agent_id, frozenset(languages or ("en",)), limit, load)


def test_queue_order_is_vip_first_then_longest_wait() -> None:
    queue = [waiting(1, minutes=0), waiting(2, minutes=5, vip=True), waiting(3, minutes=-3)]
    assert [chat.conversation_id for chat in routing.queue_order(queue)] == [2, 3, 1]


def test_offers_go_to_the_least_loaded_speaker_under_the_limit() -> None:
    agents = [agent(10, "en", load=2), agent(11, "en", load=1), agent(12, "fr", load=0)]
    assert routing.assign([waiting(1, minutes=0)], agents) == [(1, 11)]


def test_each_offer_counts_towards_the_load_and_the_limit() -> None:
    agents = [agent(10, "en", limit=1), agent(11, "en", load=1, limit=2)]
    queue = [waiting(1, minutes=0), waiting(2, minutes=1), waiting(3, minutes=2)]
    assert routing.assign(queue, agents) == [(1, 10), (2, 11)]


def test_a_chat_nobody_speaks_waits() -> None:
    assert routing.assign([waiting(1, minutes=0, language="zh-hans")], [agent(10, "en")]) == []


def test_canned_placeholders() -> None:
    assert fill("Hi {first_name}, {msisdn} {nope} {", {"first_name": "Ana", "msisdn": "+1"}) == (
        "Hi {first_name}, {msisdn} {nope} {"
    )
    assert fill("Hi {first_name}, {msisdn} {nope}", {"first_name": "Ana", "msisdn": "+1"}) == (
        "Hi Ana, +1 {nope}"
    )
