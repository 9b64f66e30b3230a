"""Shared fixtures: the real data beside the repository, and engines with the real models."""

from __future__ import annotations

from pathlib import Path

import pytest

from facesearch.engine import Engine

pytest_plugins = ["support.databases"]  # database_url: SQLite and PostgreSQL, for every suite that stores

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
LFW = SHARED / "lfw"
PEOPLE = SHARED / "people"
VIDEO = SHARED / "video"


def pytest_configure(config: pytest.Config) -> None:
    if not SHARED.is_dir():
        raise pytest.UsageError(f"{SHARED}: the shared test data is missing (it must sit beside the repository)")


@pytest.fixture(scope="session")
def engine() -> Engine:
    """The default (fused) profile, with the models the install step converted."""
    return Engine("default")


@pytest.fixture(scope="session")
def lfw() -> Path:
    return LFW


@pytest.fixture(scope="session")
def people() -> Path:
    return PEOPLE


@pytest.fixture(scope="session")
def video() -> Path:
    return VIDEO
