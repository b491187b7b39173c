"""The demo's stock as CSV text, in the shapes the inventory imports read.

Numbers and ICCIDs are the same on every run, so a re-run can tell which rows
it already loaded; eSIM matching IDs are random, like an upstream provider's.
"""

from __future__ import annotations

import csv
import io
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from simcare.kit.iccid import make_iccid

# Area code and exchange blocks of the three cities, with how many numbers each
# gives. Real-looking exchanges rather than 555-01xx, which not every
# phonenumbers release accepts as a valid Canadian number.
NUMBER_BLOCKS: dict[str, Sequence[tuple[str, str, int]]] = {
    "toronto": (("416", "979", 40), ("647", "352", 30)),
    "vancouver": (("604", "738", 35), ("778", "383", 30)),
    "montreal": (("514", "872", 35), ("438", "889", 30)),
}

SMDP_ADDRESS = "smdp.example-carrier.ca"
PHYSICAL_ICCID_PREFIX = "89130210"
ESIM_ICCID_PREFIX = "89130220"
PHYSICAL_SIMS_PER_STORE = 20
PHYSICAL_SIMS_IN_WAREHOUSE = 40
ESIM_PROFILES = 50


@dataclass(frozen=True)
class PhysicalSim:
    iccid: str
    location: str


def numbers_by_city() -> dict[str, list[str]]:
    """E.164 numbers per city; the subscriber part is spread, not counted up from 0000."""
    cities: dict[str, list[str]] = {}
    for city, blocks in NUMBER_BLOCKS.items():
        numbers: list[str] = []
        for area, exchange, count in blocks:
            # 211 is prime to 10,000, so these line numbers never repeat within a block.
            numbers.extend(
                f"+1{area}{exchange}{(1237 + i * 211) % 10000:04d}" for i in range(count)
            )
        cities[city] = numbers
    return cities


def all_numbers() -> list[str]:
    return [number for numbers in numbers_by_city().values() for number in numbers]


def physical_sims(store_codes: Sequence[str], warehouse: str) -> list[PhysicalSim]:
    locations = [code for code in store_codes for _ in range(PHYSICAL_SIMS_PER_STORE)]
    locations += [warehouse] * PHYSICAL_SIMS_IN_WAREHOUSE
    return [
        PhysicalSim(make_iccid(f"{PHYSICAL_ICCID_PREFIX}{serial:010d}"), location)
        for serial, location in enumerate(locations, start=1)
    ]


def esim_iccids() -> list[str]:
    return [
        make_iccid(f"{ESIM_ICCID_PREFIX}{serial:010d}") for serial in range(1, ESIM_PROFILES + 1)
    ]


def new_matching_id() -> str:
    return "-".join(secrets.token_hex(2).upper() for _ in range(5))


def _csv(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue()


def numbers_csv(numbers: Iterable[str]) -> str:
    return _csv(["msisdn"], ([number] for number in numbers))


def sims_csv(sims: Iterable[PhysicalSim]) -> str:
    return _csv(["iccid", "location"], ([sim.iccid, sim.location] for sim in sims))


def esims_csv(iccids: Iterable[str]) -> str:
    return _csv(
        ["iccid", "smdp_address", "matching_id"],
        ([iccid, SMDP_ADDRESS, new_matching_id()] for iccid in iccids),
    )
