"""`simcare backup` / `simcare restore` of the embedded SQLite database."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from simcare.catalog.models import Plan
from simcare.ops.management.commands.backup import APPLICATION_ID

on_sqlite = pytest.mark.skipif(connection.vendor != "sqlite", reason="embedded database only")


@pytest.fixture
def data_dir(tmp_path: Path, settings: Any) -> Path:
    settings.DATA_DIR = tmp_path / "data"
    settings.DATA_DIR.mkdir()
    return settings.DATA_DIR


def _live_database() -> Path:
    return Path(connection.settings_dict["NAME"])


def _plan_codes() -> list[str]:
    return sorted(Plan.objects.values_list("code", flat=True))


def _codes_in(database: Path) -> list[str]:
    with sqlite3.connect(database) as backup:
        return sorted(code for (code,) in backup.execute("SELECT code FROM catalog_plan"))


def _refusal(command: str, *arguments: str) -> CommandError:
    with pytest.raises(CommandError) as refused:
        call_command(command, *arguments)
    return refused.value


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_backup_then_restore_brings_the_database_back_and_keeps_the_replaced_one(
    make_plan: Callable[..., Plan], data_dir: Path, tmp_path: Path
) -> None:
    # given
    make_plan(code="before")
    backup = tmp_path / "simcare.backup"
    call_command("backup", str(backup))
    make_plan(code="after")
    Plan.objects.filter(code="before").update(price_cents=1)

    # when
    call_command("restore", str(backup))

    # then
    assert _plan_codes() == ["before"]
    assert Plan.objects.get(code="before").price_cents == 3500
    [kept] = (data_dir / "backups").iterdir()
    assert _codes_in(kept) == ["after", "before"]
    with sqlite3.connect(_live_database()) as live:
        assert live.execute("PRAGMA application_id").fetchone() == (0,)
        assert live.execute("PRAGMA journal_mode").fetchone() == ("wal",)


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_backup_is_a_marked_standalone_file_with_only_committed_data_while_a_writer_is_busy(
    make_plan: Callable[..., Plan], tmp_path: Path
) -> None:
    # given: another process is in the middle of a write transaction
    make_plan(code="committed")
    writer = sqlite3.connect(_live_database(), isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute(
        "UPDATE catalog_plan SET price_cents = 1, name_en = 'uncommitted' WHERE code = 'committed'"
    )
    backup = tmp_path / "during-write.backup"

    # when
    try:
        call_command("backup", str(backup))
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    # then
    with sqlite3.connect(backup) as copy:
        assert copy.execute("PRAGMA application_id").fetchone() == (APPLICATION_ID,)
        assert copy.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert copy.execute("SELECT code, price_cents FROM catalog_plan").fetchall() == [
            ("committed", 3500)
        ]
    assert not Path(f"{backup}-wal").exists()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["during-write.backup"]


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_file_that_is_not_a_database_and_changes_nothing(
    make_plan: Callable[..., Plan], data_dir: Path, tmp_path: Path
) -> None:
    # given
    make_plan(code="live")
    text = tmp_path / "notes.txt"
    text.write_text("msisdn\n+14169791237\n")

    # when
    refusal = _refusal("restore", str(text))

    # then
    assert refusal.returncode == 2
    assert str(refusal) == f"Refused: {text} is not an SQLite database."
    assert _plan_codes() == ["live"]
    assert not (data_dir / "backups").exists()


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_restore_refuses_sqlite_databases_that_are_not_simcare_backups(
    make_plan: Callable[..., Plan], data_dir: Path, tmp_path: Path
) -> None:
    # given: some other application's database, and a plain copy of the live one
    make_plan(code="live")
    other = tmp_path / "other.sqlite3"
    with sqlite3.connect(other) as database:
        database.execute("CREATE TABLE notes (body TEXT)")
    plain_copy = tmp_path / "copy.sqlite3"
    with sqlite3.connect(_live_database()) as live, sqlite3.connect(plain_copy) as copy:
        live.backup(copy)

    # when
    refusals = [_refusal("restore", str(path)) for path in (other, plain_copy)]

    # then
    assert [refusal.returncode for refusal in refusals] == [2, 2]
    assert all("is an SQLite database but not a simcare backup" in str(r) for r in refusals)
    assert _plan_codes() == ["live"]
    assert not (data_dir / "backups").exists()


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_restore_refuses_a_truncated_backup_and_changes_nothing(
    make_plan: Callable[..., Plan], data_dir: Path, tmp_path: Path
) -> None:
    # given
    make_plan(code="live")
    backup = tmp_path / "simcare.backup"
    call_command("backup", str(backup))
    truncated = tmp_path / "truncated.backup"
    truncated.write_bytes(backup.read_bytes()[: 4096 * 3])
    Plan.objects.filter(code="live").update(price_cents=999)

    # when
    refusal = _refusal("restore", str(truncated))

    # then
    assert refusal.returncode == 2
    assert str(refusal).startswith(f"Refused: {truncated} ")
    assert Plan.objects.get(code="live").price_cents == 999
    assert not (data_dir / "backups").exists()


@on_sqlite
@pytest.mark.django_db(transaction=True)
def test_backup_refuses_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    refusal = _refusal("backup", str(tmp_path / "missing" / "simcare.backup"))

    assert refusal.returncode == 2
    assert str(refusal) == f"The directory {tmp_path / 'missing'} does not exist."
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL")
@pytest.mark.django_db
@pytest.mark.parametrize("command", ["backup", "restore"])
def test_backup_and_restore_refuse_on_postgresql_and_point_to_pg_dump(
    command: str, tmp_path: Path
) -> None:
    target = tmp_path / "simcare.backup"

    refusal = _refusal(command, str(target))

    assert refusal.returncode == 1
    assert "pg_dump" in str(refusal)
    assert "pg_restore" in str(refusal)
    assert not target.exists()


def test_the_simcare_script_exits_2_on_a_refused_restore(tmp_path: Path) -> None:
    # The exit status scripts see, through the real console entry point.
    text = tmp_path / "notes.txt"
    text.write_text("not a backup\n")
    environment = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "SIMCARE_TESTING"}
    }
    environment["SIMCARE_DATA_DIR"] = str(tmp_path / "data")

    finished = subprocess.run(
        [sys.executable, "-m", "simcare.cli", "restore", str(text)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert finished.returncode == 2
    assert f"{text} is not an SQLite database." in finished.stderr
    assert not (tmp_path / "data" / "backups").exists()
