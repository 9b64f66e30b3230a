"""A running server applies the retention rules itself: as it starts, and again every few minutes, so a
case that expires while it runs loses its watchlist without a restart. Reading never writes."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from facesearch.api.app import create_app
from facesearch.audit import log as audit
from facesearch.cases.service import create_case
from facesearch.context import Context
from facesearch.retention import RetentionSweeper
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CaseRow
from owned_keys import key_for
from support.audit import open_audited

AUTH = {"legal_basis": "x", "authorisation_ref": "y", "authorised_by": "z"}


def stored_status(ctx: Context, case_id: int) -> str:
    with ctx.sessions() as s:
        row = s.get(CaseRow, case_id)
        assert row is not None
        return row.status


def actions(ctx: Context) -> list[tuple[str, str]]:
    with ctx.sessions() as s:
        return [(e.action, e.actor) for e in audit.events(s)]


def test_the_server_sweeps_at_start_up_and_reading_writes_nothing(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'r.db'}")
    ctx = Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32)))
    now = datetime.now(UTC)
    create_case(sessions, title="Old", purpose="victim", actor="o", valid_from=now - timedelta(days=3),
                valid_until=now - timedelta(minutes=1), **AUTH)
    key = {"Authorization": f"Bearer {key_for(sessions, 'reader', 'auditor')}"}

    idle = TestClient(create_app(ctx, run_jobs=False))  # no background work: nothing is swept
    assert idle.get("/v1/cases/C1", headers=key).json()["status"] == "expired"  # past its validity: shown so
    assert stored_status(ctx, 1) == "authorised" and ("case.expire", "system") not in actions(ctx)

    with TestClient(create_app(ctx)) as served:  # serving starts the sweeper before the first request
        assert served.get("/v1/cases/C1", headers=key).json()["status"] == "expired"
        assert stored_status(ctx, 1) == "expired"
    assert actions(ctx)[-2:] == [("case.expire", "system"), ("retention.run", "system")]


def test_a_case_that_expires_while_the_server_runs_is_swept(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'r.db'}")
    ctx = Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32)))
    soon = datetime.now(UTC) + timedelta(seconds=1)
    create_case(sessions, title="Short", purpose="victim", actor="o", valid_until=soon, **AUTH)
    sweeper = RetentionSweeper(ctx, every_s=0.2)
    assert sweeper.start().cases_expired == []
    try:
        deadline = time.monotonic() + 20
        while stored_status(ctx, 1) != "expired" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        sweeper.stop()
    assert stored_status(ctx, 1) == "expired"
    assert actions(ctx).count(("retention.run", "system")) == 1  # idle sweeps leave no entry
