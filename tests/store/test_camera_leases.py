"""Camera leases with fencing tokens (issue 15): one worker owns a camera at a time, a new owner gets a higher
token, a worker that lost its camera writes nothing, and a retried write makes no second sighting. On SQLite
and on a real PostgreSQL."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select

from facesearch.audit import log as audit
from facesearch.cases.service import create_case
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CameraLeaseRow, CameraRow, IdentityRow, SightingRow
from facesearch.video.leases import LeaseLost, acquire, check_fence, current_leases, release, renew, track_key
from facesearch.video.search import MatchedTrack
from facesearch.video.sightings import save_track
from facesearch.video.track_matching import TrackMatch
from support.audit import open_audited

T0 = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TERM = timedelta(seconds=6)


def _world(database_url: str) -> Any:
    _, sessions = open_audited(database_url)
    with sessions.begin() as s:
        for camera in ("cam-1", "cam-2"):
            s.add(CameraRow(id=camera, name=camera, created_at=T0, created_by="user:adam"))
    return sessions


def test_one_owner_at_a_time_and_each_new_owner_a_higher_token(database_url: str) -> None:
    sessions = _world(database_url)
    first = acquire(sessions, "cam-1", "worker-a", term=TERM, now=T0)
    assert first is not None and first.token == 1
    assert acquire(sessions, "cam-1", "worker-b", term=TERM, now=T0 + timedelta(seconds=3)) is None  # still a's
    again = acquire(sessions, "cam-1", "worker-a", term=TERM, now=T0 + timedelta(seconds=3))
    assert again is not None and again.token == 1 and again.expires_at == T0 + timedelta(seconds=9)  # renewed

    taken = acquire(sessions, "cam-1", "worker-b", term=TERM, now=T0 + timedelta(seconds=10))  # a stopped renewing
    assert taken is not None and (taken.holder, taken.token) == ("worker-b", 2)
    with pytest.raises(LeaseLost, match="no longer current: the camera is now held by worker-b \\(token 2\\)"):
        renew(sessions, first, term=TERM, now=T0 + timedelta(seconds=11))
    with pytest.raises(LeaseLost), sessions.begin() as s:  # a late write of the cut-off worker
        check_fence(s, first)
    assert [(x.camera, x.holder) for x in current_leases(sessions, now=T0 + timedelta(seconds=11))] == [
        ("cam-1", "worker-b")]

    release(sessions, taken, now=T0 + timedelta(seconds=12))  # given up: the row stays, so tokens only grow
    assert current_leases(sessions, now=T0 + timedelta(seconds=12)) == []
    after = acquire(sessions, "cam-1", "worker-a", term=TERM, now=T0 + timedelta(seconds=12))
    assert after is not None and after.token == 3
    release(sessions, first)  # a lost lease's release changes nothing
    assert current_leases(sessions, now=T0 + timedelta(seconds=13))[0].token == 3


def test_two_workers_asking_at_once_get_one_lease(database_url: str) -> None:
    sessions = _world(database_url)
    results: list[Any] = []
    barrier = threading.Barrier(4)

    def ask(holder: str) -> None:
        barrier.wait()
        results.append(acquire(sessions, "cam-2", holder, term=TERM))

    threads = [threading.Thread(target=ask, args=(f"worker-{i}",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    won = [r for r in results if r is not None]
    assert len(results) == 4 and len(won) == 1 and won[0].token == 1


def _track(case: str, identity: int) -> MatchedTrack:
    frame = np.zeros((120, 160, 3), np.uint8)
    return MatchedTrack(track_id=7, start_s=1.0, end_s=3.0, best_s=2.0,
                        best_box=np.array([40, 30, 90, 100], np.float32), best_frame=frame,
                        best_chip=np.zeros((112, 112, 3), np.uint8), detections=20,
                        matches=[TrackMatch(case, identity, "P", 0.93, 1e-7, 0.83)])


def test_a_retried_write_makes_no_second_sighting_and_a_lost_lease_writes_nothing(database_url: str) -> None:
    sessions = _world(database_url)
    sealer = Sealer(os.urandom(32))
    case = create_case(sessions, title="T", purpose="victim", actor="user:olga", valid_from=T0,
                       valid_until=T0 + timedelta(days=5), legal_basis="x", authorisation_ref="y", authorised_by="z")
    with sessions.begin() as s:
        person = IdentityRow(name="", reference={}, created_at=T0, created_by="user:olga")
        s.add(person)
        s.flush()
        identity = int(person.id)
    lease = acquire(sessions, "cam-1", "worker-a", term=timedelta(hours=1))
    assert lease is not None
    track = _track(case.ref, identity)
    written = []
    for _ in range(2):  # the second time: the answer to the first was lost, and the worker tries again
        with sessions.begin() as s:
            written.append(save_track(s, sealer, track, source="rtsp://cam-1", camera="cam-1", start=None,
                                      actor="system:worker-a", fence=lease))
    assert written[0] == written[1] and len(written[0]) == 1
    with sessions() as s:
        assert s.scalar(select(SightingRow.track_key)) == track_key(lease, 7) == "cam-1/1/7"
        created = [e for e in audit.events(s) if e.action == "sighting.create"]
        assert len(created) == 1

    release(sessions, lease)
    newer = acquire(sessions, "cam-1", "worker-b", term=TERM)
    assert newer is not None and newer.token == 2
    with pytest.raises(LeaseLost), sessions.begin() as s:
        save_track(s, sealer, _track(case.ref, identity), source="rtsp://cam-1", camera="cam-1", start=None,
                   actor="system:worker-a", fence=lease)
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SightingRow)) == 1


def test_a_keeper_renews_the_lease_and_says_when_another_took_it(database_url: str) -> None:
    from facesearch.video.leases import LeaseKeepers, lease_holds

    sessions = _world(database_url)
    term = timedelta(seconds=0.6)
    lease = acquire(sessions, "cam-1", "worker-a", term=term)
    assert lease is not None
    keepers = LeaseKeepers(sessions, term=term)
    keeper = keepers.keep(lease)
    try:
        time.sleep(1.5)  # past two terms: only renewals keep it
        assert not keeper.lost.is_set() and lease_holds(sessions, lease)
        assert acquire(sessions, "cam-1", "worker-b", term=term) is None
        with sessions.begin() as s:  # another worker takes it (as after a network partition healed)
            s.execute(CameraLeaseRow.__table__.update().values(holder="worker-b", token=2))
        assert keeper.lost.wait(2) and not lease_holds(sessions, lease)
    finally:
        keepers.stop()


def test_a_supervisor_takes_a_dead_workers_camera_at_once_and_the_fence_holds(database_url: str) -> None:
    from facesearch.video.leases import take_over

    sessions = _world(database_url)
    dead = acquire(sessions, "cam-1", "worker-a", term=timedelta(hours=1), now=T0)
    assert dead is not None
    moved = take_over(sessions, "cam-1", "worker-b", term=TERM, now=T0 + timedelta(seconds=1))  # no waiting
    assert (moved.holder, moved.token) == ("worker-b", 2)
    with pytest.raises(LeaseLost), sessions.begin() as s:  # the "dead" worker was alive after all: fenced
        check_fence(s, dead)
    fresh = take_over(sessions, "cam-2", "worker-b", term=TERM)  # a camera nobody held yet
    assert fresh.token == 1


def test_one_node_renews_all_its_leases_together_and_loses_only_the_one_taken(database_url: str) -> None:
    from facesearch.video.leases import LeaseKeepers, lease_holds, renew_many, take_over

    sessions = _world(database_url)
    term = timedelta(seconds=0.6)
    leases = [acquire(sessions, camera, "node-a", term=term) for camera in ("cam-1", "cam-2")]
    assert all(lease is not None for lease in leases)
    one, two = leases[0], leases[1]
    assert one is not None and two is not None
    renewed, lost = renew_many(sessions, [one, two], term=term)
    assert sorted(renewed) == ["cam-1", "cam-2"] and lost == []
    keepers = LeaseKeepers(sessions, term=term)
    try:
        kept = [keepers.keep(one), keepers.keep(two)]
        time.sleep(1.5)  # past two terms: only the shared renewals keep them
        assert all(lease_holds(sessions, k.lease) and not k.lost.is_set() for k in kept) and not keepers.overdue
        take_over(sessions, "cam-2", "node-b", term=term)  # the supervisor moves one camera
        assert kept[1].lost.wait(2) and not kept[0].lost.is_set()
        time.sleep(1.0)
        assert lease_holds(sessions, kept[0].lease)  # the other still renewed
        kept[0].stop()  # no longer kept: it runs out
        time.sleep(1.2)
        assert current_leases(sessions) == [lease for lease in current_leases(sessions) if lease.holder == "node-b"]
    finally:
        keepers.stop()
