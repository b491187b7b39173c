"""The business-wide accounts stop keeping a cached balance (models.CACHED_KINDS): the
column is set to 0 on them, so a stale figure cannot be read from the table. Their
balance is the sum of their entries, which this leaves untouched."""

from __future__ import annotations

from typing import Any

from django.db import migrations

SYSTEM_KINDS = ["clearing", "expense", "liability", "payable", "revenue"]


def clear_system_balances(apps: Any, schema_editor: Any) -> None:
    account = apps.get_model("ledger", "LedgerAccount")
    account.objects.filter(kind__in=SYSTEM_KINDS).update(cached_balance_cents=0)


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_append_only_triggers")]

    operations = [migrations.RunPython(clear_system_balances, migrations.RunPython.noop)]
