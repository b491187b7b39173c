"""Channels' in-memory layer, made to scale with the number of connections in one process.

The stock InMemoryChannelLayer sweeps every channel and every group for expired entries
on each group_send and each receive: O(connections) work per message and per new
connection. With 5,000 WebSocket clients in one process that capped delivery at about a
dozen messages a second (benchmarks/chat.py). Sweeping at most once a second keeps the
same expiry behaviour (messages expire after 60 s, group memberships after a day) at a
constant cost per message.
"""

from __future__ import annotations

import time

from channels.layers import InMemoryChannelLayer as StockInMemoryChannelLayer

SWEEP_INTERVAL_SECONDS = 1.0


class InMemoryChannelLayer(StockInMemoryChannelLayer):
    _last_sweep = 0.0

    def _clean_expired(self) -> None:
        now = time.monotonic()
        if now - self._last_sweep < SWEEP_INTERVAL_SECONDS:
            return
        self._last_sweep = now
        super()._clean_expired()
