"""Back office of money: one module per concept, registered on import."""

from __future__ import annotations
