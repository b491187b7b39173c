"""`simcare import-esims FILE [--rejects OUT.csv]`: add eSIM profiles from the upstream provider.

Exit codes as import-numbers: 0, 3 some rows rejected, 2 refused.
"""

from __future__ import annotations

from typing import Any, ClassVar, TextIO

from simcare.accounts.models import User
from simcare.lines import stock
from simcare.lines.management.commands.import_numbers import StockImportCommand


class Command(StockImportCommand):
    help = "Add eSIM profiles to stock from a CSV with the header iccid,smdp_address,matching_id."

    what: ClassVar[str] = "eSIM profiles"
    columns: ClassVar[tuple[str, ...]] = stock.ESIM_COLUMNS

    def importer(self, source: TextIO, *, acting_user: User | None, source_name: str) -> Any:
        return stock.import_esims(source, acting_user=acting_user, source_name=source_name)
