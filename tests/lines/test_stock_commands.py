"""The stock import commands: simcare import-numbers / import-sims / import-esims."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from simcare.accounts.models import AuditEvent
from simcare.lines.models import Number, SimCard, SimKind
from simcare.stores.models import Store
from tests.lines.stock_support import iccid

NUMBERS = "msisdn\n(416) 555-0142\n+44 20 7946 0958\n6475550199\nabc\n"


def write(path: Path, content: str | bytes) -> Path:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def run(*arguments: str) -> tuple[str, CommandError | None]:
    stdout = io.StringIO()
    try:
        call_command(*arguments, stdout=stdout, stderr=io.StringIO())
    except CommandError as error:
        return stdout.getvalue(), error
    return stdout.getvalue(), None


@pytest.mark.django_db
def test_import_numbers_applies_every_row_and_prints_a_summary(tmp_path: Path) -> None:
    source = write(tmp_path / "numbers.csv", "msisdn\n4165550142\n4165550143\n")

    output, error = run("import_numbers", str(source))

    assert error is None
    assert "rows read" in output
    assert "numbers.csv: numbers" in output
    assert list(Number.objects.values_list("msisdn", flat=True)) == ["+14165550142", "+14165550143"]
    event = AuditEvent.objects.get(action="stock.numbers_imported")
    assert (event.actor, event.actor_label, event.data["source"]) == (None, "system", "numbers.csv")


@pytest.mark.django_db
def test_import_numbers_exits_3_with_the_rejected_rows_written_as_csv(tmp_path: Path) -> None:
    # given
    source = write(tmp_path / "numbers.csv", NUMBERS)
    rejects = tmp_path / "rejects.csv"

    # when
    output, error = run("import_numbers", str(source), "--rejects", str(rejects))

    # then
    assert error is not None
    assert error.returncode == 3
    assert str(error) == "2 of 4 rows rejected; the other rows were applied"
    assert f"2 rejected rows written to {rejects}" in output
    assert list(Number.objects.values_list("msisdn", flat=True)) == ["+14165550142", "+16475550199"]
    with rejects.open(newline="", encoding="utf-8") as handle:
        assert list(csv.reader(handle)) == [
            ["row_number", "reason", "msisdn"],
            ["3", "Enter a valid North American (+1) phone number.", "+44 20 7946 0958"],
            ["5", "This is not a phone number.", "abc"],
        ]


@pytest.mark.django_db
def test_without_rejects_file_the_rejected_rows_are_listed(tmp_path: Path) -> None:
    source = write(tmp_path / "numbers.csv", NUMBERS)

    output, error = run("import_numbers", str(source))

    assert error is not None
    assert error.returncode == 3
    assert "Enter a valid North American (+1) phone number." in output
    assert "This is not a phone number." in output


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("phone\n4165550142\n", "The first line must be the header msisdn; found phone."),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\xff", "The file is not UTF-8 text."),
        ("", "The file is empty: its first line must be a header."),
    ],
    ids=["wrong-header", "binary", "empty"],
)
def test_import_numbers_exits_2_and_changes_nothing_when_the_file_is_refused(
    tmp_path: Path, content: str | bytes, message: str
) -> None:
    # given
    Number.objects.create(msisdn="+14165550100")
    source = write(tmp_path / "numbers.csv", content)

    # when
    _, error = run("import_numbers", str(source))

    # then
    assert error is not None
    assert error.returncode == 2
    assert str(error) == f"{source}: refused, nothing imported: {message}"
    assert list(Number.objects.values_list("msisdn", flat=True)) == ["+14165550100"]
    assert not AuditEvent.objects.filter(action="stock.numbers_imported").exists()


@pytest.mark.django_db
def test_a_missing_file_exits_2(tmp_path: Path) -> None:
    _, error = run("import_numbers", str(tmp_path / "missing.csv"))

    assert error is not None
    assert error.returncode == 2
    assert str(error) == f"{tmp_path / 'missing.csv'}: cannot read: No such file or directory"


@pytest.mark.django_db
def test_import_sims_links_store_codes_and_reports_bad_rows(tmp_path: Path) -> None:
    # given
    store = Store.objects.create(
        code="OTT-02",
        name="Ottawa",
        address="1 Rideau St",
        city="Ottawa",
        province="ON",
        postal_code="K1N 8S7",
    )
    source = write(
        tmp_path / "sims.csv",
        f"iccid,location\n{iccid(1)},OTT-02\n{iccid(2)},WAREHOUSE\n12345,OTT-02\n",
    )
    rejects = tmp_path / "rejects.csv"

    # when
    _, error = run("import_sims", str(source), "--rejects", str(rejects))

    # then
    assert error is not None
    assert error.returncode == 3
    assert list(SimCard.objects.values_list("iccid", "kind", "store", "location")) == [
        (iccid(1), SimKind.PHYSICAL, store.pk, "OTT-02"),
        (iccid(2), SimKind.PHYSICAL, None, "WAREHOUSE"),
    ]
    assert rejects.read_text(encoding="utf-8").splitlines() == [
        "row_number,reason,iccid,location",
        "4,An ICCID is 19 or 20 digits.,12345,OTT-02",
    ]


@pytest.mark.django_db
def test_import_esims_applies_every_row(tmp_path: Path) -> None:
    source = write(
        tmp_path / "esims.csv",
        f"iccid,smdp_address,matching_id\n{iccid(3)},smdp.example.com,AB12-CD34\n",
    )

    output, error = run("import_esims", str(source))

    assert error is None
    assert "esims.csv: eSIM profiles" in output
    assert list(SimCard.objects.values_list("iccid", "kind", "smdp_address", "matching_id")) == [
        (iccid(3), SimKind.ESIM, "smdp.example.com", "AB12-CD34")
    ]


def _database_url() -> str:
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    user = quote(database["USER"] or "", safe="")
    password = quote(database["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@"
    return f"postgres://{credentials}{database['HOST']}:{database['PORT']}/{database['NAME']}"


def _simcare(*arguments: str) -> subprocess.CompletedProcess[str]:
    """Run the installed console script against the test database."""
    script = shutil.which("simcare")
    command = [script] if script else [sys.executable, "-m", "simcare.cli"]
    environment = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "SIMCARE_DATA_DIR": str(settings.DATA_DIR),
    }
    return subprocess.run(
        [*command, *arguments],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


@pytest.mark.django_db(transaction=True)
def test_the_console_script_exits_0_3_and_2(tmp_path: Path) -> None:
    # given
    good = write(tmp_path / "good.csv", "msisdn\n4165550142\n")
    partly_bad = write(tmp_path / "partly-bad.csv", "msisdn\n4165550143\nabc\n")
    refused = write(tmp_path / "refused.csv", "number\n4165550144\n")

    # when
    all_applied = _simcare("import-numbers", str(good))
    some_rejected = _simcare(
        "import-numbers", str(partly_bad), "--rejects", str(tmp_path / "r.csv")
    )
    file_refused = _simcare("import-numbers", str(refused))

    # then
    assert (all_applied.returncode, all_applied.stderr) == (0, "")
    assert some_rejected.returncode == 3
    assert "1 of 2 rows rejected; the other rows were applied" in some_rejected.stderr
    assert file_refused.returncode == 2
    assert "refused, nothing imported: The first line must be the header msisdn" in (
        file_refused.stderr
    )
    assert list(Number.objects.values_list("msisdn", flat=True)) == ["+14165550142", "+14165550143"]
