"""`simcare import-sims FILE [--rejects OUT.csv]`: add physical SIMs to stock.

The location column is a store code (the SIM is then linked to that store) or a
warehouse name. Exit codes as import-numbers: 0, 3 some rows rejected, 2 refused.
"""

from __future__ import annotations

from typing import Any, ClassVar, TextIO

from simcare.accounts.models import User
from simcare.lines import stock
from simcare.lines.management.commands.import_numbers import StockImportCommand


class Command(StockImportCommand):
    help = "Add physical SIMs to stock from a CSV with the header iccid,location."

    what: ClassVar[str] = "physical SIMs"
    columns: ClassVar[tuple[str, ...]] = stock.SIM_COLUMNS

    def importer(self, source: TextIO, *, acting_user: User | None, source_name: str) -> Any:
        return stock.import_sims(source, acting_user=acting_user, source_name=source_name)
