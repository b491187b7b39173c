"""The line lifecycle's periodic jobs: the sweep (every 5 minutes) and the reminders (every 15).

Both are set-based SQL in lines/services.py, idempotent and safe to run
twice, late or concurrently:

- `lifecycle`: active → grace when period_end has passed; grace → suspended
  after grace_days; suspended → recycled after suspend_days more (the number
  goes to quarantine for number_quarantine_days, the SIM stays assigned to
  the closed line for the record); quarantined numbers whose time is up
  become available. A line overdue for several steps goes through each of
  them in one run, in order, with one history row per step, and is notified
  only of the state it lands in. Each transition happens once: the UPDATE
  re-checks the from-state, and its history and notifications are inserted
  from the rows that UPDATE moved (marked by a per-chunk sweep id).
- `reminders`: the reminders whose window is open (before expiry at the
  configured days, before suspension, before recycling), each once per line,
  kind and period thanks to its dedupe key.
"""

from __future__ import annotations

from typing import Any

from simcare.lines import services
from simcare.ops.jobs import periodic_job


@periodic_job(
    "lifecycle",
    minute="*/5",
    description=(
        "Moves lines whose deadline passed: active → grace → suspended → recycled; "
        "releases numbers out of quarantine."
    ),
)
def lifecycle_sweep() -> dict[str, Any]:
    return dict(services.sweep_lifecycle())


@periodic_job(
    "reminders",
    minute="*/15",
    description="Queues expiry, suspension and recycling reminders, each once per period.",
)
def lifecycle_reminders() -> dict[str, Any]:
    return dict(services.queue_reminders())
