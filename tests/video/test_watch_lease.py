"""A cluster's stream worker is ``watch`` under a camera lease (issue 15): its sightings carry the lease's track
keys, and once another worker takes the camera it stops within a second and writes nothing more. The "stream"
is the Hamilton clip read again at each reconnection, so no RTSP server is needed for this."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from facesearch.audit import log as audit
from facesearch.cases.service import activate_case, create_case, enrol_into_case, list_people
from facesearch.engine import Engine
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CameraRow, SightingRow
from facesearch.video.leases import acquire, release
from facesearch.video.live_stats import LiveStats
from facesearch.video.watch import Backoff, StopReason, WatchEvent, WatchEventKind, watch
from support.audit import open_audited
from support.context import context_for


def wait_until(condition: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.05)
    return bool(condition())


def active_case(ctx: Any, sessions: Any, people: Path, title: str = "Hamilton",
                cameras: list[str] | None = None) -> str:
    """An active case with Lin-Manuel Miranda on its watchlist (cam-1 registered once)."""
    now = datetime.now(UTC)
    with sessions.begin() as s:
        if s.get(CameraRow, "cam-1") is None:
            s.add(CameraRow(id="cam-1", name="Stage", created_at=now, created_by="user:adam"))
    ref = create_case(sessions, title=title, purpose="victim", actor="officer", cameras=cameras or [],
                      valid_until=now + timedelta(days=1), legal_basis="x", authorisation_ref="y",
                      authorised_by="z").ref
    enrol_into_case(ctx, ref, "Lin-Manuel Miranda", [people / "lin-manuel-miranda.png"], actor="officer")
    activate_case(sessions, ref, actor="officer")
    return ref


def _case_with_one_person(tmp_path: Path, engine: Engine, people: Path) -> tuple[Any, str, Any]:
    """A SQLite installation with ``active_case``: its context, the case and the one person on its watchlist."""
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'w.db'}")
    ctx = context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)
    ref = active_case(ctx, sessions, people)
    [first] = list_people(sessions, actor="officer", case=ref)
    return ctx, ref, first


def test_a_worker_that_loses_its_camera_stops_and_writes_nothing_more(tmp_path: Path, engine: Engine,
                                                                     people: Path, video: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'w.db'}")
    ctx = context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)
    ref = active_case(ctx, sessions, people, cameras=["cam-1"])
    lease = acquire(sessions, "cam-1", "worker-a", term=timedelta(hours=1))
    assert lease is not None

    events: list[WatchEvent] = []
    sighted = threading.Event()
    result: list[Any] = []

    def on_event(event: WatchEvent) -> None:
        events.append(event)
        if event.kind == WatchEventKind.SIGHTING:
            sighted.set()

    def run() -> None:
        result.append(watch(ctx, ref, "cam-1", str(video / "short_hamilton_clip.mp4"), actor="system:worker-a",
                            stop=threading.Event(), fence=lease, backoff=Backoff(first_s=0.1, max_s=0.2),
                            on_event=on_event))

    worker = threading.Thread(target=run)
    worker.start()
    assert sighted.wait(180), events
    release(sessions, lease)  # the camera moves: worker-b takes it with a higher token
    taken = acquire(sessions, "cam-1", "worker-b", term=timedelta(hours=1))
    assert taken is not None and taken.token == 2
    moved_at = datetime.now(UTC)
    worker.join(60)
    assert not worker.is_alive() and result
    report = result[0]
    # The loss is seen at the next renewal ("taken over") or, on a loaded machine, first by a write that the
    # fence refuses ("no longer current ... nothing written"): either way the watch stops and writes nothing.
    lost = ("taken over", "no longer current")
    assert report.stop_reason == StopReason.LEASE_LOST and any(w in report.stopped for w in lost), report.stopped
    with sessions() as s:
        rows = list(s.scalars(select(SightingRow)))
        ended = [e for e in audit.events(s) if e.action == "watch.end"]
    assert rows and all(r.track_key and r.track_key.startswith("cam-1/1/") for r in rows)  # the lease's keys
    assert all(r.created_at.replace(tzinfo=UTC) < moved_at for r in rows)  # nothing written after the move
    assert len(ended) == 1 and any(w in ended[0].details["reason"] for w in lost), ended[0].details


def test_a_live_watch_follows_the_watchlist_as_people_are_removed_and_enrolled(
        tmp_path: Path, engine: Engine, people: Path, video: Path) -> None:
    from facesearch.cases.removal import remove_person

    ctx, ref, first = _case_with_one_person(tmp_path, engine, people)
    events: list[WatchEvent] = []
    stop = threading.Event()

    def seen(kind: WatchEventKind) -> int:
        return sum(e.kind == kind for e in list(events))


    worker = threading.Thread(target=watch, args=(ctx, ref, "cam-1", str(video / "short_hamilton_clip.mp4")),
                              kwargs={"actor": "officer", "stop": stop, "on_event": events.append,
                                      "backoff": Backoff(first_s=0.1, max_s=0.2)})
    worker.start()
    try:
        assert wait_until(lambda: seen(WatchEventKind.SIGHTING) > 0, 180), events
        remove_person(ctx, ref, first.id, actor="officer")  # taken off: templates deleted
        assert wait_until(lambda: seen(WatchEventKind.WATCHLIST) == 1, 5), events
        quiet_from = seen(WatchEventKind.SIGHTING)
        time.sleep(8)  # the clip comes round again at least twice (a file "stream" reconnects at its end)
        assert seen(WatchEventKind.SIGHTING) == quiet_from  # nobody is matched against a removed person
        enrol_into_case(ctx, ref, "Lin-Manuel Miranda", [people / "lin-manuel-miranda.png"], actor="officer")
        assert wait_until(lambda: seen(WatchEventKind.WATCHLIST) == 2, 5), events
        assert wait_until(lambda: seen(WatchEventKind.SIGHTING) > quiet_from, 60), events  # and found again
    finally:
        stop.set()
        worker.join(60)
    assert not worker.is_alive()


def test_a_nodes_watches_share_one_index_per_watchlist_version(tmp_path: Path, engine: Engine, people: Path) -> None:
    import gc

    from facesearch.cases.watchlist import WatchlistShelf
    from facesearch.video.live_cases import LiveCases

    ctx, ref, _ = _case_with_one_person(tmp_path, engine, people)
    shelf = WatchlistShelf()
    one, two = (LiveCases(ctx, [ref], camera="cam-1", actor="officer", fpir=1e-3, source=n, shelf=shelf)
                for n in ("cam-1", "cam-2"))
    assert one.watchlists[0].index is two.watchlists[0].index and shelf.loads == 1
    assert one.check() == ([], [])  # nothing changed: one integer compared, nothing loaded
    enrol_into_case(ctx, ref, "Joe Biden", [people / "biden.jpg"], actor="officer")
    assert one.check() == ([], [ref]) and two.check() == ([], [ref])
    assert one.watchlists[0].index is two.watchlists[0].index and shelf.loads == 2
    assert one.watchlists[0].size == 2 and one.check() == ([], [])
    gc.collect()
    assert len(shelf._indexes) == 1  # the first version's index, held by nobody now, is let go


def test_one_decode_serves_several_cases_and_a_case_that_ends_leaves_alone(
        tmp_path: Path, engine: Engine, people: Path, video: Path) -> None:
    from facesearch.cases.service import close_case

    _, sessions = open_audited(f"sqlite:///{tmp_path / 'w.db'}")
    ctx = context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)
    refs = [active_case(ctx, sessions, people, title) for title in ("Missing", "Victim")]
    events: list[WatchEvent] = []
    result: list[Any] = []

    def sightings_of(ref: str) -> int:
        with sessions() as s:
            return len(list(s.scalars(select(SightingRow.id).where(SightingRow.case_id == int(ref[1:])))))


    worker = threading.Thread(target=lambda: result.append(watch(
        ctx, refs, "cam-1", str(video / "short_hamilton_clip.mp4"), actor="officer", stop=threading.Event(),
        on_event=events.append, backoff=Backoff(first_s=0.1, max_s=0.2))))
    worker.start()
    try:
        assert wait_until(lambda: sightings_of(refs[0]) > 0 and sightings_of(refs[1]) > 0, 180), events
        close_case(sessions, refs[0], actor="officer")
        assert wait_until(lambda: any(e.kind == WatchEventKind.CASE_LEFT for e in list(events)), 5), events
        left_with = sightings_of(refs[0])
        still = sightings_of(refs[1])
        assert wait_until(lambda: sightings_of(refs[1]) > still, 60)  # the other case goes on being searched
        assert sightings_of(refs[0]) == left_with  # the closed one is not
        close_case(sessions, refs[1], actor="officer")
    finally:
        worker.join(60)
    report = result[0]
    assert report.stop_reason == StopReason.CASE_ENDED and report.case == ", ".join(refs)
    with sessions() as s:
        ends = {e.case_id: e.details["reason"] for e in audit.events(s) if e.action == "watch.end"}
    assert set(ends) == set(refs) and all("closed" in r for r in ends.values()), ends


class FlakyDatabase:
    """The test's session factory, made to fail as an unreachable database does while ``down`` is set."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.down = inner, threading.Event()

    def _reach(self) -> None:
        if self.down.is_set():
            from sqlalchemy.exc import OperationalError

            raise OperationalError("SELECT 1", {}, ConnectionRefusedError("connection refused: the server is away"))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._reach()
        return self.inner(*args, **kwargs)

    def begin(self, *args: Any, **kwargs: Any) -> Any:
        self._reach()
        return self.inner.begin(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_the_database_away_stops_the_matching_and_says_so_then_it_resumes(
        tmp_path: Path, engine: Engine, people: Path, video: Path) -> None:
    from facesearch.audit.verification import verify

    _, sessions = open_audited(f"sqlite:///{tmp_path / 'w.db'}")
    flaky = FlakyDatabase(sessions)
    ctx = context_for(flaky, Sealer(os.urandom(32)), engine, tmp_path)
    ref = active_case(ctx, sessions, people)
    events: list[WatchEvent] = []
    stop = threading.Event()

    def stored() -> int:
        with sessions() as s:
            return len(list(s.scalars(select(SightingRow.id))))

    def said(text: str) -> bool:
        return any(e.kind == WatchEventKind.DATABASE and text in e.message for e in list(events))


    worker = threading.Thread(target=watch, args=(ctx, ref, "cam-1", str(video / "short_hamilton_clip.mp4")),
                              kwargs={"actor": "officer", "stop": stop, "on_event": events.append,
                                      "backoff": Backoff(first_s=0.1, max_s=0.2)})
    worker.start()
    try:
        assert wait_until(lambda: stored() > 0, 180), events
        flaky.down.set()
        assert wait_until(lambda: said("database unreachable"), 10), events
        before = stored()
        time.sleep(5)  # the clip comes round again: nothing is matched, nothing half-written
        flaky.down.clear()
        assert stored() == before
        assert wait_until(lambda: said("matching resumed"), 10), events
        assert wait_until(lambda: stored() > before, 60), events  # found again once the database is back
    finally:
        stop.set()
        worker.join(60)
    assert not worker.is_alive()
    with sessions() as s:
        assert verify(s).ok  # the audit chain holds: every entry whole, nothing half-written


def test_a_watch_that_hears_of_changes_looks_when_told_not_every_second(
        tmp_path: Path, engine: Engine, people: Path, video: Path) -> None:
    """A cluster node's watch (``look_every_s`` long, ``wake`` from the node's notices): a change it has not been
    told of waits for the long look; told, it looks at once. A live stream (a file would end and reconnect, and
    a watch looks whenever it connects)."""
    from facesearch.cases.removal import remove_person
    from support.rtsp import LoopingStream

    ctx, ref, first = _case_with_one_person(tmp_path, engine, people)
    events: list[WatchEvent] = []
    stop = threading.Event()
    told = [0]
    stats = LiveStats()
    stream = LoopingStream(video / "short_hamilton_clip.mp4").start()
    worker = threading.Thread(target=watch, args=(ctx, ref, "cam-1", stream.url),
                              kwargs={"actor": "officer", "stop": stop, "on_event": events.append,
                                      "backoff": Backoff(first_s=0.1, max_s=0.2), "look_every_s": 300.0,
                                      "wake": lambda: told[0], "stats": stats})
    worker.start()
    try:
        # searching frames: its first look (when the first frame comes) is behind it
        assert wait_until(lambda: stats.frames > 0, 120), events
        remove_person(ctx, ref, first.id, actor="officer")
        time.sleep(3)
        assert not any(e.kind == WatchEventKind.WATCHLIST for e in list(events))  # not told: no look yet
        told[0] += 1
        assert wait_until(lambda: any(e.kind == WatchEventKind.WATCHLIST for e in list(events)), 5), events
    finally:
        stop.set()
        worker.join(60)
        stream.stop()
    assert not worker.is_alive()
