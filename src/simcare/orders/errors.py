"""Refusals of money actions, each with a stable code (API problem+json) and a message."""

from __future__ import annotations

from simcare.kit.problems import DomainError


class OrderError(DomainError):
    """Base of the orders app's refusals."""

    status = 422
