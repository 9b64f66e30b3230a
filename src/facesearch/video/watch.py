"""``watch``: search a live camera stream for a case's watchlist until stopped.

The stream is read, searched and its matched tracks stored as they end, exactly as for files. When
the stream drops (the server stops, the network fails, a read times out), the tracks in progress are
finished and the watch reconnects with exponential backoff, for as long as it is allowed to run. Every
frame's wall-clock time is checked against the case's validity: when the case expires (or is closed)
the watch stops matching at that moment and says so. A stop request (Ctrl-C) ends it cleanly: open
tracks are finished and stored, and the end is audited.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import DBAPIError

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases.watchlist import DEFAULT_FPIR, WatchlistShelf
from facesearch.context import Context
from facesearch.video.cameras import camera_min_face
from facesearch.video.face_size import check_min_face
from facesearch.video.leases import Lease, LeaseLost, lease_holds
from facesearch.video.live_cases import CaseLeft, LiveCases
from facesearch.video.live_stats import LiveStats
from facesearch.video.recording_time import RecordingStart
from facesearch.video.search import SearchConfig, VideoSearch
from facesearch.video.sightings import save_track
from facesearch.video.source import VideoError, VideoReader, redact_url

log = logging.getLogger(__name__)
# A live batch goes to the detector once it spans this much of the stream (SearchConfig.batch_span_s).
LIVE_BATCH_SPAN_S = 0.25


class WatchEventKind(StrEnum):
    CONNECTED = "connected"
    DISCONNECTED = "disconnected"
    RETRYING = "retrying"
    SIGHTING = "sighting"
    WATCHLIST = "watchlist"  # people were enrolled into or removed from the watchlist while it ran
    CASE_LEFT = "case_left"  # one case may no longer be searched; the watch goes on for the others
    DATABASE = "database"  # the database cannot be reached: matching stops until it is back (and then resumes)
    STOPPED = "stopped"


class StopReason(StrEnum):
    """Why a watch ended: callers decide on this, never on the wording of ``WatchReport.stopped``."""

    REQUESTED = "requested"  # Ctrl-C, SIGTERM, or the caller's stop event
    CASE_ENDED = "case_ended"  # expired, closed, or no longer allowed on this camera
    GAVE_UP = "gave_up"  # max_failures connection attempts in a row failed
    LEASE_LOST = "lease_lost"  # a cluster's worker: another worker now owns the camera


@dataclass(frozen=True)
class WatchEvent:
    kind: WatchEventKind
    message: str
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    data: dict[str, Any] = field(default_factory=dict)


@dataclass
class WatchReport:
    case: str
    camera: str
    connections: int = 0
    frames: int = 0
    sighting_ids: list[int] = field(default_factory=list)
    stopped: str = ""  # the reason, for people
    stop_reason: StopReason = StopReason.REQUESTED


@dataclass(frozen=True)
class Backoff:
    first_s: float = 0.5
    factor: float = 2.0
    max_s: float = 10.0

    def delay(self, failures: int) -> float:
        return min(self.first_s * self.factor ** max(failures - 1, 0), self.max_s)


def _count(stats: LiveStats, kind: WatchEventKind, message: str, data: dict[str, Any]) -> None:
    """What an event changes in a watch's running numbers."""
    if kind == WatchEventKind.CONNECTED:
        stats.connected()
    elif kind in (WatchEventKind.RETRYING, WatchEventKind.DISCONNECTED):
        stats.state, stats.last_error = "retrying", message
    elif kind == WatchEventKind.DATABASE:
        away = not data["reachable"]
        stats.state = "database away" if away else "connected"
        stats.last_error = message if away else stats.last_error
    elif kind == WatchEventKind.SIGHTING:
        stats.sightings += 1  # one event per person matched
    elif kind == WatchEventKind.STOPPED:
        stats.state, stats.stopped = "stopped", message


def watch(ctx: Context, case_ref: str | Sequence[str], camera: str, url: str, *,
          actor: str, stop: threading.Event, fps: float | None = None, target_fpir: float = DEFAULT_FPIR,
          config: SearchConfig | None = None, backoff: Backoff | None = None, read_timeout_s: float = 5.0,
          max_failures: int | None = None, fence: Lease | None = None,
          on_event: Callable[[WatchEvent], None] | None = None, stats: LiveStats | None = None,
          look_every_s: float = 1.0, wake: Callable[[], object] | None = None,
          shelf: WatchlistShelf | None = None, min_face: float | None = None) -> WatchReport:
    """Watch ``url`` (camera ``camera``) for the watchlists of ``case_ref`` (one case or several, searched from
    one decode of the stream) until ``stop`` is set, no case may be searched any longer, or ``max_failures``
    connection attempts in a row have failed. A case that ends leaves at once; the others go on.

    ``fence``: the camera's lease, for a cluster's stream worker. Every sighting is written only while it
    still owns the camera, a track retried after a lost answer is not written twice, and the watch stops
    (``StopReason.LEASE_LOST``) within a second of another worker taking the camera.

    ``stats``: kept up to date while the watch runs (frames per second, lag, tracks, sightings), for whoever
    supervises it.

    Every ``look_every_s`` seconds the watch looks at the database (its cases, their watchlists, its lease), and
    at once whenever ``wake()`` returns something new: a cluster's node passes what it hears of changes
    (``store.notify.Generation``) and looks rarely otherwise, so that thousands of cameras do not each read
    their watchlists every second. A validity ending is noticed on the very frame, without a look.

    ``shelf``: watchlist indexes shared with the process's other watches (a node's cameras hold one copy).

    ``min_face``: the smallest face searched for; by default the camera's own (``camera add --min-face``), else
    ``config``'s."""
    engine, sessions, sealer = ctx.engine(), ctx.sessions, ctx.sealer
    backoff = backoff or Backoff()
    live_config = config or SearchConfig()
    min_face = camera_min_face(sessions, camera) if min_face is None else min_face
    if min_face is not None:
        live_config = replace(live_config, min_face=check_min_face(min_face))
    if live_config.batch_span_s is None:  # an alert is worth more than the last few percent of throughput
        live_config = replace(live_config, batch_span_s=LIVE_BATCH_SPAN_S)
    shown = redact_url(url)
    source = f"{camera} (live)"
    cases = LiveCases(ctx, [case_ref] if isinstance(case_ref, str) else list(case_ref), camera=camera, actor=actor,
                      fpir=target_fpir, source=shown, shelf=shelf)
    watchlists = cases.watchlists
    report = WatchReport(", ".join(cases.refs), camera)

    def emit(kind: WatchEventKind, message: str, **data: Any) -> None:
        if stats is not None:
            _count(stats, kind, message, data)
        if on_event is not None:
            on_event(WatchEvent(kind, message, data=data))

    with sessions.begin() as s:
        for w in watchlists:
            audit.append(s, actor=actor, action=AuditAction.WATCH_START, case_id=w.case_ref, details={
                "camera": camera, "stream": shown, "watchlist_size": w.size, "cases": cases.refs,
                "lease_token": None if fence is None else fence.token,
                "threshold": round(w.threshold, 6), "calibration": w.calibration_label, "target_fpir": target_fpir,
                "profile": engine.profile,
                "min_face": live_config.min_face})

    def end_cases(left: list[CaseLeft], *, announce: bool = True) -> None:
        """Audit each case that left the watch (the watch goes on for the others), and say so."""
        if not left:
            return
        frames = report.frames + (searching[0].progress.frames if searching else 0)
        try:
            with sessions.begin() as s:
                for gone in left:
                    audit.append(s, actor=actor, action=AuditAction.WATCH_END, case_id=gone.case, details={
                        "camera": camera, "connections": report.connections, "frames": frames,
                        "sightings": len(report.sighting_ids), "reason": gone.reason})
        except DBAPIError:  # the database is away: the end cannot be recorded; say so where the watch runs
            log.warning("%s left the watch of %s (%s) with the database unreachable: watch.end not recorded",
                        ", ".join(g.case for g in left), camera, left[0].reason)
        for gone in left:
            ended_reason.append(gone.reason)
            if announce:
                emit(WatchEventKind.CASE_LEFT, gone.reason, case=gone.case)

    def look() -> str | None:
        """``case_ended``, through a database that may be away: then every case is put aside (nothing is matched
        that could not be checked or stored), and taken up again once a look succeeds."""
        held = cases.suspended
        cases.resume()
        try:
            reason = case_ended()
        except DBAPIError as exc:
            cases.suspend()
            if not held:
                emit(WatchEventKind.DATABASE, f"database unreachable ({str(exc.orig or exc).splitlines()[0][:200]}): "
                     "not matching until it is back", reachable=False)
            return None
        if held:
            emit(WatchEventKind.DATABASE, "database reachable again: matching resumed", reachable=True)
        return reason

    def case_ended() -> str | None:
        """A reason to stop the whole watch (no case left, or the camera's lease lost), after looking."""
        if fence is not None and not lease_holds(sessions, fence):
            lease_lost.append(True)
            return f"no longer owns {camera} (lease token {fence.token} taken over)"
        left, changed = cases.check()
        end_cases(left)
        for ref in changed:  # someone enrolled into or removed from a watchlist: searched from this frame on
            size = next((w.size for w in watchlists if w.case_ref == ref), 0)
            emit(WatchEventKind.WATCHLIST, f"{ref}: the watchlist changed; {size} people now", case=ref)
        return None if watchlists else "; ".join(ended_reason)

    failures = 0
    checked_at = datetime.min.replace(tzinfo=UTC)
    ended_reason: list[str] = []  # why each case left
    stop_reasons: list[str] = []  # why the whole watch stops
    searching: list[VideoSearch] = []  # the search of the current connection
    lease_lost: list[bool] = []
    last_wake: list[object] = [wake() if wake is not None else None]
    gave_up = False

    def should_stop(_frame: Any) -> bool:
        nonlocal checked_at
        if stop.is_set():
            return True
        if stats is not None and searching:
            stats.frame(_frame.seconds, searching[0].progress)
        now = datetime.now(UTC)
        end_cases(cases.expired(now))  # a validity ends: no match for that case from this very frame
        if not watchlists and not cases.suspended:
            return True
        woken = wake() if wake is not None else None
        if (now - checked_at).total_seconds() >= look_every_s or woken != last_wake[0]:
            checked_at, last_wake[0] = now, woken  # read before looking: a change during the look wakes again
            reason = look()
            if reason is not None:
                stop_reasons.append(reason)
                return True
        return False

    while not stop.is_set() and not stop_reasons:
        reason = look()
        if reason is not None:
            stop_reasons.append(reason)
            break
        try:
            reader = VideoReader(url, fps=fps, timeout_s=read_timeout_s,
                                 detect_side=(config or SearchConfig()).detect_side)
        except VideoError as exc:
            failures += 1
            if max_failures is not None and failures >= max_failures:
                stop_reasons.append(f"{shown}: gave up after {failures} failed connection attempts ({exc.reason})")
                gave_up = True
                break
            wait = backoff.delay(failures)
            emit(WatchEventKind.RETRYING, f"{shown}: {exc.reason}; retrying in {wait:.1f} s", failures=failures)
            stop.wait(wait)
            continue
        failures = 0
        report.connections += 1
        connected_at = datetime.now(UTC)
        info = reader.info
        search = VideoSearch(engine, watchlists, recording_start=connected_at, fps=reader.info.fps or 25.0,
                             config=live_config)
        smallest = search.progress.smallest_face
        emit(WatchEventKind.CONNECTED, f"{shown}: connected ({info.width}x{info.height}, {info.codec}); faces from "
                                       f"{smallest:.0f} px searched", smallest_face=smallest)
        searching[:] = [search]
        lost = ""
        with reader:
            try:
                for track in search.run(reader.frames(), should_stop=should_stop):
                    try:
                        with sessions.begin() as s:
                            ids = save_track(s, sealer, track, source=source, camera=camera, fence=fence,
                                             start=RecordingStart(connected_at, "stream clock"), actor=actor)
                    except LeaseLost as exc:  # taken over between two checks: this track is the new owner's
                        lease_lost.append(True)
                        stop_reasons.append(str(exc))
                        break
                    except DBAPIError as exc:  # the database went away: this track is lost, the rest waits
                        cases.suspend()
                        emit(WatchEventKind.DATABASE, f"database unreachable: the track at {track.start_s:.1f}-"
                             f"{track.end_s:.1f} s was not stored ({str(exc.orig or exc).splitlines()[0][:200]}); "
                             "not matching until it is back", reachable=False)
                        continue
                    report.sighting_ids += ids
                    for m in track.matches:
                        emit(WatchEventKind.SIGHTING, f"{m.name}: score {m.score:.3f}, FMR {m.fmr:.2g}, "
                                         f"{track.start_s:.1f}-{track.end_s:.1f} s after connecting",
                             name=m.name, score=m.score, sighting_ids=ids)
            except VideoError as exc:
                lost = exc.reason
        report.frames += search.progress.frames
        searching.clear()
        if stop.is_set() or stop_reasons or (not watchlists and not cases.suspended):
            break
        failures += 1
        emit(WatchEventKind.DISCONNECTED, f"{shown}: {lost or 'stream ended'}; reconnecting")
        stop.wait(backoff.delay(failures))
    cases.resume()  # stopped while the database was away: the cases put aside end here too
    if not watchlists and not stop_reasons:
        stop_reasons.append("; ".join(ended_reason))  # every case ended
    report.stopped = stop_reasons[0] if stop_reasons else "stopped on request"
    report.stop_reason = (StopReason.GAVE_UP if gave_up else StopReason.LEASE_LOST if lease_lost
                          else StopReason.CASE_ENDED if not watchlists else StopReason.REQUESTED)
    emit(WatchEventKind.STOPPED, report.stopped)
    end_cases([CaseLeft(w.case_ref, report.stopped) for w in watchlists], announce=False)  # the rest end here
    return report
