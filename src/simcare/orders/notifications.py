"""Notification templates of money events (files under templates/notify/<name>/)."""

from __future__ import annotations

from simcare.notify.rendering import register

__all__ = ["register"]
