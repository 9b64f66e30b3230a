"""The camera supervisor's work, one pass at a time: read what must be watched (cameras with active cases) and
what is watched where (each host's running cameras, checked against the lease table), plan (``cluster.plan``),
and apply the difference: a camera moving to a new host gets a new lease (``take_over``, the old holder's token is
dead from that moment), a camera whose cases changed restarts under the same lease, a camera no case wants stops.

Every pass starts from the database and the hosts, never from the supervisor's memory, so a restarted supervisor
simply carries on. The hosts are reached through ``Hosts``: Ray actors in a deployment, plain objects in tests."""

from __future__ import annotations

import logging
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from facesearch.cluster.plan import assign, cases_by_camera
from facesearch.context import Context
from facesearch.video.leases import DEFAULT_TERM, Lease, lease_table, take_over

log = logging.getLogger(__name__)
KEPT_ERRORS = 50


class HostGone(Exception):
    """A host did not answer (its node died, or it is restarting)."""


class Hosts(Protocol):
    """The stream workers, one per node, as the supervisor sees them."""

    def alive(self) -> list[str]:
        """The hosts that can take cameras now (on live nodes), by name."""
        ...

    def running(self, host: str) -> dict[str, dict[str, Any]]:
        """The cameras ``host`` watches now: camera -> its run (``token``, ``cases``, numbers); ``HostGone``."""
        ...

    def start(self, host: str, camera: str, cases: list[str], lease: Lease) -> None:
        """Have ``host`` watch ``camera`` for ``cases`` under ``lease``; ``HostGone``."""
        ...

    def stop(self, host: str, camera: str) -> None:
        """Ask ``host`` to stop watching ``camera`` (without waiting for it)."""
        ...


@dataclass
class Pass:
    """What one pass of the supervisor saw and did."""

    at: datetime
    wanted: dict[str, list[str]]  # camera -> the cases that may search it now
    hosts: list[str]  # hosts that answered
    plan: dict[str, str]  # camera -> host
    started: list[str] = field(default_factory=list)  # "camera -> host (token N)"
    restarted: list[str] = field(default_factory=list)  # same host and lease, other cases
    stopped: list[str] = field(default_factory=list)  # "camera on host"
    errors: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "wanted": self.wanted, "hosts": self.hosts, "plan": self.plan,
                "started": self.started, "restarted": self.restarted, "stopped": self.stopped, "errors": self.errors}


class Restarts:
    """When a camera that keeps stopping by itself (a stream that refuses every connection, a case that can no
    longer be searched) may be started again: at once the first time, then after 2, 4, ... up to 60 s, so that a
    failing camera costs the cluster little. A camera that ran a full minute starts over at once."""

    def __init__(self, first_s: float = 2.0, most_s: float = 60.0) -> None:
        self.first_s, self.most_s = first_s, most_s
        self._started: dict[str, tuple[float, int]] = {}  # camera -> (monotonic time of the last start, failures)

    def may_start(self, camera: str, now: float) -> bool:
        last = self._started.get(camera)
        if last is None:
            return True
        at, failures = last
        return now - at >= min(self.first_s * 2 ** max(failures - 1, 0), self.most_s) if failures else True

    def started(self, camera: str, now: float) -> None:
        at, failures = self._started.get(camera, (now, -1))
        quick = now - at < self.most_s  # it stopped within a minute of its last start
        self._started[camera] = (now, failures + 1 if quick else 0)

    def forget(self, camera: str) -> None:
        self._started.pop(camera, None)


class Supervisor:
    def __init__(self, ctx: Context, hosts: Hosts, *, term: timedelta = DEFAULT_TERM) -> None:
        self.ctx, self.hosts, self.term = ctx, hosts, term
        self.errors: deque[str] = deque(maxlen=KEPT_ERRORS)
        self.last: Pass | None = None
        self.restarts = Restarts()

    def step(self) -> Pass:
        """One pass: plan from the database and the hosts, and apply it."""
        sessions = self.ctx.sessions
        wanted = cases_by_camera(sessions)
        running: dict[str, dict[str, dict[str, Any]]] = {}
        errors: list[str] = []
        for host in self.hosts.alive():
            try:
                running[host] = self.hosts.running(host)
            except HostGone as exc:
                errors.append(f"{host}: not answering ({exc})")
        leases = lease_table(sessions)
        # Where each camera runs now: a host's run counts while the lease table still names that host and token
        # (a run under a token taken over is stopping by itself).
        current: dict[str, str] = {}
        for host, cameras in running.items():
            for camera, run in cameras.items():
                lease = leases.get(camera)
                if lease is not None and lease.holder == host and lease.token == run.get("token"):
                    current[camera] = host
        plan = assign(wanted, sorted(running), current)
        done = Pass(datetime.now(UTC), wanted, sorted(running), plan, errors=errors)
        for camera, host in plan.items():
            cases = wanted[camera]
            try:
                if current.get(camera) == host:
                    if set(cases) - set(running[host][camera].get("cases", [])):  # a case joined: search it too
                        self.hosts.start(host, camera, cases, leases[camera])
                        done.restarted.append(f"{camera} on {host} for {', '.join(cases)}")
                    continue
                last = leases.get(camera)
                stopped_itself = camera not in current and last is not None and last.holder in running
                if stopped_itself and not self.restarts.may_start(camera, time.monotonic()):
                    continue  # its live host stopped it moments ago (not a lost node): wait before trying again
                lease = take_over(sessions, camera, host, term=self.term)  # the old holder's token dies here
                self.restarts.started(camera, time.monotonic())
                self.hosts.start(host, camera, cases, lease)
                done.started.append(f"{camera} -> {host} (token {lease.token})")
            except HostGone as exc:
                errors.append(f"{camera}: {host} not answering ({exc}); tried again next pass")
            except Exception as exc:  # one camera's trouble (a database hiccup) must not stop the others
                errors.append(f"{camera}: {type(exc).__name__}: {str(exc)[:200]}")
        for host, cameras in running.items():
            for camera in cameras:
                if plan.get(camera) != host:
                    self.hosts.stop(host, camera)
                    done.stopped.append(f"{camera} on {host}")
        for error in errors:
            log.warning("supervisor: %s", error)
            self.errors.append(f"{done.at:%H:%M:%S} {error}")
        self.last = done
        return done
