"""How long a receipt takes to render, as HTML and as PDF, in each language.

    python benchmarks/receipts.py [--repeats N]

Runs on a throwaway SQLite database in a temporary data dir (rendering reads
one order; the time is in the template and in WeasyPrint). It migrates,
creates one paid Quebec renewal with a coupon (two tax lines, a discount line)
and its receipt, then times, in the same run and process, the median of N
renders of:

- baseline: `render_receipt_html` (database reads, formatting, the template);
- pdf: `render_receipt_pdf` (the same HTML, laid out and printed by WeasyPrint);

per language, and prints milliseconds per receipt, receipts per second and
the PDF / HTML ratio. The first PDF render (font loading) is timed apart.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

LANGUAGES = ("zh-hans", "en", "fr")


def median_ms(work: Callable[[], object], repeats: int) -> float:
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    options = parser.parse_args()

    os.environ["SIMCARE_DATA_DIR"] = tempfile.mkdtemp(prefix="simcare-bench-receipts-")
    os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "simcare.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))
    import django

    django.setup()
    from django.core.management import call_command

    from simcare.accounts import services as account_services
    from simcare.catalog.models import Plan
    from simcare.orders import tax
    from simcare.orders.models import (
        Coupon,
        DiscountKind,
        ItemKind,
        Order,
        OrderItem,
        OrderKind,
        OrderState,
        PaymentMethod,
    )
    from simcare.orders.services import receipts

    call_command("migrate", verbosity=0, interactive=False)
    plan = Plan.objects.create(
        code="talk30",
        name_en="Canada 30 days",
        name_fr="Canada 30 jours",
        name_zh_hans="加拿大30天",
        price_cents=3500,
        validity_days=30,
    )
    subscriber = account_services.create_subscriber(
        username="lin.wei", password=None, email="lin.wei@example.com", language="zh-hans"
    )
    coupon = Coupon.objects.create(code="WELCOME5", kind=DiscountKind.FIXED, amount_off_cents=500)
    taxes = tax.taxes_for(6500, "QC", tax.DEFAULT_RATES)
    tax_cents = sum(line.amount_cents for line in taxes)
    now = dt.datetime.now(tz=dt.UTC)
    order = Order.objects.create(
        kind=OrderKind.RENEWAL,
        channel="web",
        state=OrderState.FULFILLED,
        subscriber=subscriber,
        plan=plan,
        periods=2,
        subtotal_cents=7000,
        discount_cents=500,
        tax_cents=tax_cents,
        total_cents=6500 + tax_cents,
        taxes=[line.as_json() for line in taxes],
        province="QC",
        coupon=coupon,
        payment_method=PaymentMethod.WALLET,
        idempotency_key="bench:1",
        language="zh-hans",
        paid_at=now,
        fulfilled_at=now,
    )
    OrderItem.objects.create(
        order=order,
        kind=ItemKind.PLAN,
        code=plan.code,
        description=plan.name_zh_hans,
        quantity=2,
        unit_price_cents=3500,
        amount_cents=7000,
    )
    receipt = receipts.issue_receipt(order)

    started = time.perf_counter()
    first_pdf = receipts.render_receipt_pdf(receipt)
    cold_ms = (time.perf_counter() - started) * 1000
    print(f"first PDF (fonts loading): {cold_ms:8.1f} ms, {len(first_pdf):,} bytes")
    print(f"{'language':<9} {'html ms':>9} {'pdf ms':>9} {'pdf/s':>7} {'pdf/html':>9}")
    for language in LANGUAGES:
        html_ms = median_ms(
            lambda language=language: receipts.render_receipt_html(receipt, language=language),
            options.repeats,
        )
        pdf_ms = median_ms(
            lambda language=language: receipts.render_receipt_pdf(receipt, language=language),
            options.repeats,
        )
        print(
            f"{language:<9} {html_ms:9.2f} {pdf_ms:9.1f} {1000 / pdf_ms:7.1f} "
            f"{pdf_ms / html_ms:8.0f}x"
        )


if __name__ == "__main__":
    main()
