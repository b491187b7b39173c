"""Which waiting chat goes to which agent (pure, no I/O).

The queue is ordered VIP first, then longest wait (earliest queued), then id.
A chat is offered to an agent who is available, speaks its language, serves its
team (or every team), and is under their concurrent-chat limit; among those the
least loaded, then the lowest id (a stable choice). A load counts the chats an
agent has accepted plus those offered to them and not yet answered.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Waiting:
    conversation_id: int
    language: str
    is_vip: bool
    queued_at: dt.datetime
    team_id: int | None = None


@dataclass(frozen=True)
class AgentState:
    agent_id: int
    languages: frozenset[str]
    max_chats: int
    load: int
    is_available: bool = True
    team_id: int | None = None


def queue_order(waiting: list[Waiting]) -> list[Waiting]:
    return sorted(waiting, key=lambda chat: (not chat.is_vip, chat.queued_at, chat.conversation_id))


def can_take(agent: AgentState, chat: Waiting) -> bool:
    return (
        agent.is_available
        and chat.language in agent.languages
        and agent.load < agent.max_chats
        and (agent.team_id is None or chat.team_id is None or agent.team_id == chat.team_id)
    )


def choose_agent(chat: Waiting, agents: list[AgentState]) -> AgentState | None:
    eligible = [agent for agent in agents if can_take(agent, chat)]
    return min(eligible, key=lambda agent: (agent.load, agent.agent_id), default=None)


def assign(waiting: list[Waiting], agents: list[AgentState]) -> list[tuple[int, int]]:
    """(conversation id, agent id) offers for the waiting chats, in queue order; each offer
    adds one to the agent's load before the next chat is placed."""
    states = {agent.agent_id: agent for agent in agents}
    offers: list[tuple[int, int]] = []
    for chat in queue_order(waiting):
        agent = choose_agent(chat, list(states.values()))
        if agent is None:
            continue
        offers.append((chat.conversation_id, agent.agent_id))
        states[agent.agent_id] = AgentState(
            agent.agent_id,
            agent.languages,
            agent.max_chats,
            agent.load + 1,
            agent.is_available,
            agent.team_id,
        )
    return offers
