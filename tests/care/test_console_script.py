"""`simcare kb …` as an operator runs it: the console script in its own process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.db import connection

from tests.care.conftest import DEMO_KB


def _database_url() -> str:
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{database['NAME']}"
    user = quote(database["USER"] or "", safe="")
    password = quote(database["PASSWORD"] or "", safe="")
    credentials = f"{user}:{password}@" if password else f"{user}@"
    return f"postgres://{credentials}{database['HOST']}:{database['PORT']}/{database['NAME']}"


def simcare(*arguments: str) -> subprocess.CompletedProcess[str]:
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
def test_the_console_script_imports_answers_in_three_languages_and_exports(
    tmp_path: Path,
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('[{"slug": "x"}]', encoding="utf-8")

    imported = simcare("kb", "import", str(DEMO_KB))
    rejected = simcare("kb", "import", str(bad))
    refused = simcare("kb", "import", str(tmp_path / "missing.json"))
    answers = [
        simcare("kb", "ask", "--json", question)
        for question in ("怎么设置语音信箱", "how do I set up voicemail", "人工")
    ]
    french = simcare("kb", "ask", "--json", "--language", "fr", "messagerie vocale")
    exported = simcare("kb", "export")

    assert (imported.returncode, imported.stderr) == (0, "")
    assert imported.stdout.startswith("kb.json: 31 articles read, 31 created")
    assert rejected.returncode == 3
    assert "article 1 (x): translations must be an object" in rejected.stdout
    assert refused.returncode == 2
    assert [json.loads(answer.stdout) for answer in answers] == [
        {"slug": "voicemail", "score": 1.0, "handoff": False, "language": "zh-hans"},
        {"slug": "voicemail", "score": 1.0, "handoff": False, "language": "en"},
        {"slug": None, "score": 1.0, "handoff": True, "language": "zh-hans"},
    ]
    assert json.loads(french.stdout)["slug"] == "voicemail"
    source = json.loads(DEMO_KB.read_text(encoding="utf-8"))
    assert json.loads(exported.stdout) == sorted(source, key=lambda item: item["slug"])
