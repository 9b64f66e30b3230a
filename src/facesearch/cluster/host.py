"""One node's stream worker: the cameras the supervisor gave this node, each watched in its own thread under its
lease (``video.watch`` with the lease as its fence, the node's ``LeaseKeepers`` renewing it), all sharing the node's one
face engine, so the models load once per node however many cameras it runs.

Plain Python, no Ray: the Ray actor (``cluster.runtime``) only wraps it, and the tests drive it directly."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from facesearch.cases.watchlist import WatchlistShelf
from facesearch.context import Context
from facesearch.store.notify import Generation
from facesearch.video.cameras import get_camera
from facesearch.video.leases import DEFAULT_TERM, KeptLease, Lease, LeaseKeepers, release
from facesearch.video.live_stats import LiveStats
from facesearch.video.watch import StopReason, watch

log = logging.getLogger(__name__)
# How often a watch that hears of changes still looks at the database by itself: a backstop for a notice lost
# some other way (a listener's reconnection already makes every watch look).
LOOK_EVERY_S = 30.0
KEPT_ENDINGS = 20  # the latest watches that ended on this node, shown by ``cluster status``


@dataclass
class CameraRun:
    """One camera watched on this node."""

    camera: str
    cases: tuple[str, ...]
    lease: Lease
    keeper: KeptLease
    stop: threading.Event
    stats: LiveStats = field(default_factory=LiveStats)
    thread: threading.Thread | None = None
    keep_lease: bool = False  # restarted under the same lease (its cases changed): not released as it ends

    def to_json(self) -> dict[str, Any]:
        return {"camera": self.camera, "cases": list(self.cases), "token": self.lease.token,
                "lease_overdue": self.keeper.overdue, **self.stats.to_json()}


class CameraHost:
    """The cameras of one node. ``start`` (re)starts a camera under a lease the supervisor took for this host,
    ``stop`` stops it and gives its lease up, ``running`` says what runs and how it is doing."""

    def __init__(self, ctx: Context, name: str, *, actor: str, fps: float | None = None,
                 term: timedelta = DEFAULT_TERM, read_timeout_s: float = 5.0,
                 changes: Generation | None = None) -> None:
        self.ctx, self.name, self.actor, self.fps, self.term = ctx, name, actor, fps, term
        self.read_timeout_s = read_timeout_s
        # What the node hears of changes (PostgreSQL's notices): its watches look at the database when told, and
        # otherwise only every LOOK_EVERY_S; without it (SQLite) they look every second, as a lone watch does.
        self.changes = changes
        self.shelf = WatchlistShelf()  # the node's cameras share each watchlist's index: one copy per node
        self.keepers = LeaseKeepers(ctx.sessions, term=term)  # every lease of this node renewed in one commit
        self._runs: dict[str, CameraRun] = {}
        self._lock = threading.Lock()
        self.ended: deque[dict[str, Any]] = deque(maxlen=KEPT_ENDINGS)

    def start(self, camera: str, cases: Sequence[str], lease: Lease) -> None:
        """Watch ``camera`` for ``cases`` under ``lease`` (held by this host); a watch of it already running here
        (under an older lease, or for other cases) is stopped first. The stream's address is read here, from the
        database, so that it never travels through the cluster."""
        if lease.holder != self.name:
            raise ValueError(f"{camera}: lease held by {lease.holder}, not by {self.name}")
        url = get_camera(self.ctx, camera).url
        if not url:
            raise ValueError(f"{camera}: the camera has no stream URL")
        with self._lock:
            before = self._runs.get(camera)
        if before is not None:
            before.keep_lease = before.lease.token == lease.token
            self.stop(camera, wait_s=5.0)  # a watch stuck on a dead stream may take longer; its fence holds
        run = CameraRun(camera, tuple(cases), lease, self.keepers.keep(lease), threading.Event())
        run.thread = threading.Thread(target=self._watch, args=(run, url), name=f"watch-{camera}", daemon=True)
        with self._lock:
            self._runs[camera] = run
        run.thread.start()

    def _watch(self, run: CameraRun, url: str) -> None:
        stopper = threading.Thread(target=self._stop_when_lost, args=(run,), daemon=True)
        stopper.start()
        reason: StopReason | None = None
        try:
            report = watch(self.ctx, list(run.cases), run.camera, url, actor=self.actor, stop=run.stop, fps=self.fps,
                           read_timeout_s=self.read_timeout_s, fence=run.lease, stats=run.stats,
                           look_every_s=LOOK_EVERY_S if self.changes is not None else 1.0,
                           wake=self.changes.value if self.changes is not None else None, shelf=self.shelf)
            reason = report.stop_reason
        except Exception as exc:  # a watch that failed must not take the node's other cameras with it
            log.exception("the watch of %s failed", run.camera)
            run.stats.state, run.stats.stopped = "stopped", f"failed: {type(exc).__name__}: {exc}"[:300]
        finally:
            run.stop.set()
            run.keeper.stop()
            if reason != StopReason.LEASE_LOST and not run.keep_lease:
                try:  # free at once for whoever the supervisor gives it to next
                    release(self.ctx.sessions, run.keeper.lease)
                except Exception:
                    log.warning("could not release the lease of %s; it runs out by itself", run.camera)
            with self._lock:
                if self._runs.get(run.camera) is run:
                    del self._runs[run.camera]
            self.ended.append({"camera": run.camera, "token": run.lease.token, "cases": list(run.cases),
                               "reason": run.stats.stopped or "stopped", "frames": run.stats.frames})

    @staticmethod
    def _stop_when_lost(run: CameraRun) -> None:
        """The keeper found the camera taken over: stop the watch now (it would notice within a second anyway)."""
        while not run.stop.is_set():
            if run.keeper.lost.wait(0.5):
                run.stop.set()

    def stop(self, camera: str, *, wait_s: float = 15.0) -> bool:
        """Stop watching ``camera`` here (its lease is released when the watch ends); whether it was running."""
        with self._lock:
            run = self._runs.get(camera)
        if run is None:
            return False
        run.stop.set()
        if run.thread is not None:
            run.thread.join(wait_s)
        return True

    def stop_all(self) -> None:
        for camera in list(self.running()):
            self.stop(camera)

    def running(self) -> dict[str, dict[str, Any]]:
        """Each camera watched here now, with its cases, lease token and numbers."""
        with self._lock:
            runs = list(self._runs.values())
        return {r.camera: r.to_json() for r in runs if not r.stop.is_set()}

    def status(self) -> dict[str, Any]:
        return {"host": self.name, "cameras": self.running(), "ended": list(self.ended),
                "watchlist_loads": self.shelf.loads}
