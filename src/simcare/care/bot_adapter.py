"""The chat's door to the bot: `simcare.care.bot.answer_for` when it is installed.

The knowledge base and its bot live in care/bot.py and care/retrieval.py. Until
they are present this adapter answers every question with a hand-off, so the
chat still reaches a person; once they are, the chat uses them without change.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _


@dataclass(frozen=True)
class BotReply:
    text: str
    handoff: bool
    slug: str | None = None
    score: float = 0.0


def _bot() -> Any:
    try:
        return importlib.import_module("simcare.care.bot")
    except ImportError:
        return None


def is_available() -> bool:
    return _bot() is not None


def handoff_text(language: str) -> str:
    with translation.override(language):
        return _("I'll connect you to a person.")


def reply_to(question: str, *, language: str, user: Any = None) -> BotReply:
    """The bot's answer to one visitor message in `language`."""
    bot = _bot()
    if bot is None:
        # Without the knowledge base every question goes to a person.
        return BotReply(handoff_text(language), handoff=True)
    with translation.override(language):
        answer = bot.answer_for(question, language=language, user=user)
    text = str(answer.text)
    links = getattr(answer, "links", ()) or ()
    if links:
        text += "\n" + "\n".join(f"{link.label}: {link.url}" for link in links)
    return BotReply(
        text=text,
        handoff=bool(answer.handoff),
        slug=answer.slug,
        score=float(answer.score),
    )
