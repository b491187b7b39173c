"""Back office of customer care (each part in its own module)."""

from simcare.care import chat_admin  # noqa: F401  (teams, hours, agents, chats, tickets)
