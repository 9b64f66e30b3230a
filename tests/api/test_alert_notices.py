"""The console's alert stream woken by PostgreSQL's NOTIFY (issue 15): a sighting written by another process
(another machine's worker, here another connection pool) reaches a stream that would otherwise look at the
database only every 10 seconds, at once."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.cases.access import assign
from facesearch.cases.service import create_case
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import IdentityRow
from facesearch.video.search import MatchedTrack
from facesearch.video.sightings import save_track
from facesearch.video.track_matching import TrackMatch
from owned_keys import PASSWORD
from support.audit import open_audited


def test_a_sighting_from_elsewhere_wakes_the_stream_at_once(postgres_url: str, tmp_path: Path) -> None:
    _, sessions = open_audited(postgres_url)
    accounts.add_user(sessions, "rita", PASSWORD, "reviewer", actor="setup")
    case = create_case(sessions, title="T", purpose="victim", valid_until=datetime.now(UTC) + timedelta(days=1),
                       actor="officer")
    assign(sessions, case.ref, "rita", actor="user:admin")
    with sessions.begin() as s:
        person = IdentityRow(name="P", reference={}, created_at=datetime.now(UTC), created_by="officer")
        s.add(person)
        s.flush()
        person_id = int(person.id)
    sealer = Sealer(os.urandom(32))
    app = create_app(Context(Settings(home=tmp_path), sessions, sealer), run_jobs=False)
    _, worker_sessions = open_audited(postgres_url)  # the writer: another pool, as another machine's would be
    written: list[float] = []

    def write() -> None:
        track = MatchedTrack(3, 0.0, 1.0, 0.5, np.array([1, 1, 20, 20], np.float32), np.zeros((40, 40, 3), np.uint8),
                             np.zeros((112, 112, 3), np.uint8), 3, [TrackMatch(case.ref, person_id, "P", 0.9, 1e-6,
                                                                               0.8)])
        with worker_sessions.begin() as s:
            save_track(s, sealer, track, source="rtsp://cam", camera=None, start=None, actor="system:worker")
        written.append(time.monotonic())

    with TestClient(app) as reviewer:  # the lifespan starts the listener
        assert reviewer.post("/console/login", data={"username": "rita", "password": PASSWORD}).status_code == 200
        deadline = time.monotonic() + 10
        while not app.state.notices.live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert app.state.notices.live
        with reviewer.stream("GET", "/console/alerts?limit_s=20&poll_s=10") as stream:
            threading.Timer(1.0, write).start()
            for text in stream.iter_lines():
                if text.startswith("data:"):
                    heard = time.monotonic()
                    break
    assert written and heard - written[0] < 3.0  # polling every 10 s would have taken up to 10
