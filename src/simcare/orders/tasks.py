"""The money side's periodic jobs: `auto_renew` (every 15 minutes), see services/autorenew.py.

Idempotent per (line, period, attempt): a run twice, late or on two workers at once
tries each attempt once; a worker killed mid-attempt never renews twice.
"""

from __future__ import annotations

from typing import Any

from simcare.ops.jobs import periodic_job
from simcare.orders.services import autorenew


@periodic_job(
    "auto_renew",
    minute="*/15",
    description=(
        "Renews lines with auto-renew on: wallet first, then the saved card, at period end "
        "- 1 day, retrying at period end, +1 and +3 days; buys data auto-top-ups."
    ),
)
def auto_renew() -> dict[str, Any]:
    return dict(autorenew.run_auto_renew())
