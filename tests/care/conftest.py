"""Fixtures for the care tests: the demo's knowledge base, imported through the real command."""

from __future__ import annotations

import io
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

DEMO_KB = Path(str(resources.files("simcare.demo").joinpath("kb.json")))


@pytest.fixture
def demo_kb(db: Any) -> Path:
    call_command("kb", "import", str(DEMO_KB), stdout=io.StringIO())
    return DEMO_KB
