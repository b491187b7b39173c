"""Stock and lines for the lifecycle, services and notify tests (plain functions, no fixtures).

Kept out of tests/lines/conftest.py so the stock import tests own that file.
"""

from __future__ import annotations

import datetime as dt
import itertools

from simcare.accounts.models import Subscriber
from simcare.catalog.models import Plan
from simcare.kit.iccid import make_iccid
from simcare.lines import services
from simcare.lines.models import Line, Number, SimCard, SimKind

_serial = itertools.count(1)

UTC = dt.UTC


def add_number(msisdn: str | None = None) -> Number:
    if msisdn is None:
        msisdn = f"+1647555{next(_serial) % 10000:04d}"
    return Number.objects.create(msisdn=msisdn)


def add_sim(kind: SimKind = SimKind.PHYSICAL, *, body: str | None = None) -> SimCard:
    serial = next(_serial)
    iccid = make_iccid(body or f"891230000000{serial:06d}")
    if kind == SimKind.ESIM:
        return SimCard.objects.create(
            iccid=iccid,
            kind=kind,
            smdp_address="smdp.example.com",
            matching_id=f"MATCH-{serial:05d}-XYZ",
        )
    return SimCard.objects.create(iccid=iccid, kind=kind, location="WAREHOUSE")


def new_line(
    subscriber: Subscriber,
    plan: Plan,
    *,
    now: dt.datetime,
    kind: SimKind = SimKind.PHYSICAL,
) -> Line:
    """A line activated at `now` on fresh stock."""
    number = add_number()
    sim = add_sim(kind)
    return services.activate_line(
        subscriber, plan, kind=kind, acting_user=None, sim=sim, msisdn=number.msisdn, now=now
    )
