"""How long a counter sale and a store's end-of-day report take.

    python benchmarks/store_console.py [--sales N] [--repeats N]

Runs on a throwaway SQLite database in a temporary data dir. It migrates,
creates a store, a plan, a clerk, a customer and N physical SIMs on the shelf,
then times, in the same run and process:

- baseline sale: the cash posting alone (`ledger.transfer` cash:<store> →
  revenue:plans), what any sale costs at the least;
- counter sale: `stores.services.sell_new_line` (order, posting, line and
  buckets, receipt, audit, notification), N times, each its own form token;
- baseline report: counting the day's orders of the store;
- end of day: `stores.queries.end_of_day` over those N sales (median of
  --repeats runs), and its CSV.

It prints milliseconds per operation and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any


def median_ms(work: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def _world(count: int) -> tuple[Any, Any, Any, Any, list[Any]]:
    """A store with `count` SIMs on its shelf, a plan, its clerk and a customer."""
    from simcare.accounts import services as account_services
    from simcare.accounts.models import Role
    from simcare.catalog.models import Plan
    from simcare.kit.iccid import make_iccid
    from simcare.lines.models import Number, SimCard, SimKind
    from simcare.stores.models import Store

    store = Store.objects.create(
        code="TOR-01",
        name="Toronto Chinatown",
        address="317 Spadina Ave",
        city="Toronto",
        province="ON",
        postal_code="M5T 2E9",
        services=["sim_sales", "esim", "renewals", "vouchers"],
    )
    plan = Plan.objects.create(
        code="talk30",
        name_en="Canada 30 days",
        name_fr="Canada 30 jours",
        name_zh_hans="加拿大30天",
        price_cents=3500,
        validity_days=30,
    )
    clerk = account_services.create_staff(
        username="clerk.bench",
        password="a long bench password",  # noqa: S106
        role=Role.CLERK,
    )
    store.clerks.add(clerk)
    customer = account_services.create_subscriber(
        username="bench.customer", password=None, email="bench@example.com"
    )
    Number.objects.bulk_create(Number(msisdn=f"+1647555{index:04d}") for index in range(count))
    SimCard.objects.bulk_create(
        SimCard(
            iccid=make_iccid(f"8912300000{index:08d}"),
            kind=SimKind.PHYSICAL,
            location=store.code,
            store=store,
        )
        for index in range(count)
    )
    sims = list(SimCard.objects.order_by("iccid"))

    return store, plan, clerk, customer, sims


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sales", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=15)
    options = parser.parse_args()

    os.environ["SIMCARE_DATA_DIR"] = tempfile.mkdtemp(prefix="simcare-bench-stores-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import django

    django.setup()
    from django.core.management import call_command
    from django.utils import timezone

    from simcare.kit.time import local
    from simcare.ledger import services as ledger
    from simcare.lines.models import SimKind
    from simcare.orders.models import Order
    from simcare.stores import queries, services
    from simcare.stores.views import end_of_day_csv

    call_command("migrate", verbosity=0, interactive=False)
    store, plan, clerk, customer, sims = _world(options.sales)
    count = options.sales
    drawer = ledger.store_drawer(store)
    revenue = ledger.system_account("revenue:plans")
    started = time.perf_counter()
    for _index in range(count):
        ledger.transfer(kind="adjustment", source=drawer, destination=revenue, amount_cents=3955)
    baseline_sale = (time.perf_counter() - started) * 1000 / count

    started = time.perf_counter()
    for index, sim in enumerate(sims):
        services.sell_new_line(
            store=store,
            clerk=clerk,
            plan=plan,
            sim_kind=SimKind.PHYSICAL,
            form_token=f"bench-form-token-{index:08d}",
            subscriber=customer,
            sim=sim,
        )
    counter_sale = (time.perf_counter() - started) * 1000 / count

    today = local(timezone.now()).date()
    starts_at, ends_at = queries.business_day_bounds(today)
    baseline_report = median_ms(
        lambda: Order.objects.filter(
            store=store, paid_at__gte=starts_at, paid_at__lt=ends_at
        ).count(),
        options.repeats,
    )
    report = queries.end_of_day(clerk, store.code, today)
    assert report.order_count == count, report.order_count
    end_of_day = median_ms(lambda: queries.end_of_day(clerk, store.code, today), options.repeats)
    csv_ms = median_ms(lambda: end_of_day_csv(report), options.repeats)

    print(f"store console on SQLite, {count} sales, median of {options.repeats} report runs")
    print(f"{'operation':<36}{'ms':>10}{'x baseline':>12}")
    print(f"{'baseline: cash posting alone':<36}{baseline_sale:>10.2f}{1:>12.1f}")
    ratio = counter_sale / baseline_sale
    print(f"{'counter sale (sell_new_line)':<36}{counter_sale:>10.2f}{ratio:>12.1f}")
    print(f"{'baseline: count the day orders':<36}{baseline_report:>10.2f}{1:>12.1f}")
    ratio = end_of_day / baseline_report
    print(f"{'end-of-day report':<36}{end_of_day:>10.2f}{ratio:>12.1f}")
    print(f"{'end-of-day CSV (from the report)':<36}{csv_ms:>10.2f}")


if __name__ == "__main__":
    main()
