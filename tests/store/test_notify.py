"""Change notices through LISTEN/NOTIFY (issue 15): heard when the writing transaction commits, never for a
rolled-back one, ids only; a listener that lost its connection says so when it is back. SQLite: nothing to tell."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import create_engine, text

from facesearch.cases.service import create_case
from facesearch.store.notify import Channel, Listener, notify
from facesearch.store.schema import IdentityRow
from facesearch.video.search import MatchedTrack
from facesearch.video.sightings import save_track
from facesearch.video.track_matching import TrackMatch
from support.audit import open_audited


class Heard:
    def __init__(self) -> None:
        self.notices: list[tuple[str, str]] = []
        self.arrived = threading.Event()

    def __call__(self, channel: str, payload: str) -> None:
        self.notices.append((channel, payload))
        self.arrived.set()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[tuple[str, str]]:
        deadline = time.monotonic() + timeout
        while len(self.notices) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return list(self.notices)


def test_notices_arrive_at_commit_and_never_for_a_rollback(database_url: str, tmp_path: Path) -> None:
    _, sessions = open_audited(database_url)
    if not database_url.startswith("postgresql"):
        with sessions.begin() as s:  # SQLite: nothing to tell, and nothing fails
            notify(s, Channel.SIGHTINGS, "C1 1")
        return
    heard = Heard()
    listener = Listener(database_url, [Channel.SIGHTINGS, Channel.GALLERY], heard).start()
    try:
        assert listener.listening.wait(10)
        with sessions.begin() as s:
            notify(s, Channel.SIGHTINGS, "C1 7")
            time.sleep(0.5)
            assert heard.notices == []  # not before the commit
        assert heard.wait_for(1) == [("facesearch_sightings", "C1 7")]
        with pytest.raises(RuntimeError), sessions.begin() as s:
            notify(s, Channel.GALLERY, "default")
            raise RuntimeError("the write fails")
        with sessions.begin() as s:
            notify(s, Channel.GALLERY, "mobilefacenet")
        assert heard.wait_for(2)[1:] == [("facesearch_gallery", "mobilefacenet")]  # the rolled-back one: never

        # A sighting written through the service tells the console, with its case and id only.
        now = datetime.now(UTC)
        case = create_case(sessions, title="T", purpose="victim", actor="officer",
                           valid_until=now + timedelta(days=1), legal_basis="x", authorisation_ref="y",
                           authorised_by="z")
        with sessions.begin() as s:
            person = IdentityRow(name="", reference={}, created_at=now, created_by="officer")
            s.add(person)
            s.flush()
            track = MatchedTrack(1, 0.0, 1.0, 0.5, np.array([1, 1, 20, 20], np.float32),
                                 np.zeros((40, 40, 3), np.uint8), np.zeros((112, 112, 3), np.uint8), 3,
                                 [TrackMatch(case.ref, int(person.id), "Secret Name", 0.9, 1e-6, 0.8)])
            [sighting] = save_track(s, _sealer(), track, source="clip.mp4", camera=None, start=None,
                                    actor="officer")
        assert heard.wait_for(3)[2] == ("facesearch_sightings", f"{case.ref} {sighting}")
        assert not any("Secret" in p for _, p in heard.notices)
    finally:
        listener.stop()


def test_a_listener_that_lost_its_connection_says_so_when_back(postgres_url: str) -> None:
    heard = Heard()
    listener = Listener(postgres_url, [Channel.GALLERY], heard, retry_s=0.2).start()
    try:
        assert listener.listening.wait(10)
        database = postgres_url.split("?")[0].rsplit("/", 1)[1]
        with create_engine(postgres_url, isolation_level="AUTOCOMMIT").connect() as conn:
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :name AND query LIKE 'LISTEN%'"), {"name": database})
        assert heard.wait_for(1) == [("facesearch_gallery", "")]  # "you may have missed something": look again
    finally:
        listener.stop()


def _sealer() -> object:
    from facesearch.store.crypto import Sealer

    return Sealer(os.urandom(32))


def test_a_watch_hears_each_change_it_must_look_at_and_polls_where_it_cannot_hear(database_url: str,
                                                                                  tmp_path: Path) -> None:
    """``Generation`` (what a cluster node's watches wake on): on PostgreSQL it stays still until a case closes, a
    person leaves a watchlist (their templates kept for another case), a camera is disabled or a camera's lease
    is taken over; on SQLite it moves every poll, so the watches look as often as a lone watch does."""
    from facesearch.cases.removal import remove_person
    from facesearch.cases.service import activate_case, close_case
    from facesearch.refs import parse_case_ref
    from facesearch.store.crypto import Sealer
    from facesearch.store.notify import Generation
    from facesearch.store.schema import CameraRow, CaseTargetRow
    from facesearch.video.cameras import set_camera_enabled
    from facesearch.video.leases import take_over
    from support.context import context_for

    _, sessions = open_audited(database_url)
    ctx = context_for(sessions, Sealer(os.urandom(32)), None, tmp_path)
    now = datetime.now(UTC)
    auth = {"legal_basis": "x", "authorisation_ref": "y", "authorised_by": "z"}
    first, second = (create_case(sessions, title=t, purpose="victim", valid_until=now + timedelta(days=1),
                                 actor="officer", **auth).ref for t in ("A", "B"))
    with sessions.begin() as s:
        s.add(CameraRow(id="cam-1", name="cam-1", created_at=now, created_by="user:adam"))
        person = IdentityRow(name="P", reference={}, created_at=now, created_by="officer")
        s.add(person)
        s.flush()
        for ref in (first, second):
            s.add(CaseTargetRow(case_id=parse_case_ref(ref), identity_id=person.id))
        person_id = int(person.id)
    for ref in (first, second):
        activate_case(sessions, ref, actor="officer")
    changes = Generation(sessions, [Channel.GALLERY, Channel.WATCH], poll_s=0.5).start()
    try:
        if not database_url.startswith("postgresql"):
            before = changes.value()
            time.sleep(0.6)
            assert changes.value() != before and not changes.live
            return
        deadline = time.monotonic() + 10
        while not changes.live and time.monotonic() < deadline:
            time.sleep(0.05)
        assert changes.live

        def moves_after(change: Any) -> bool:
            before = changes.value()
            change()
            deadline = time.monotonic() + 5
            while changes.value() == before and time.monotonic() < deadline:
                time.sleep(0.02)
            return changes.value() != before

        still = changes.value()
        time.sleep(1.5)
        assert changes.value() == still  # nothing changed: nothing to look at
        assert moves_after(lambda: remove_person(ctx, first, person_id, actor="officer"))  # kept for B
        assert moves_after(lambda: close_case(sessions, first, actor="officer"))
        assert moves_after(lambda: set_camera_enabled(sessions, "cam-1", False, actor="user:adam"))
        assert moves_after(lambda: take_over(sessions, "cam-1", "host-b"))
    finally:
        changes.stop()
