"""Camera leases: in a deployment of many workers, one worker at a time owns a camera's stream.

A lease lasts a short term and is renewed while the worker runs; a worker that stops renewing (its node died,
it lost the network) lets the lease expire, and another worker takes the camera. Each new owner gets a
*fencing token* one higher than the last. A worker writes a sighting only after checking, inside the same
transaction and under the lease row's lock, that the row still holds its token (``check_fence``): a worker cut
off from the cluster, still running and unaware that its camera moved, can then write nothing, however late
its write arrives. Released leases keep their row (expired) so that tokens only ever grow.

The database is the one record of who owns what: SQLite serialises writers, PostgreSQL locks the row.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from facesearch.cases.service import as_utc
from facesearch.errors import ConflictError
from facesearch.store.notify import Channel, notify
from facesearch.store.schema import CameraLeaseRow
from facesearch.text import require_plain

log = logging.getLogger(__name__)
DEFAULT_TERM = timedelta(seconds=6)  # renewed every term/3: a dead worker's cameras move within about a term


class LeaseLost(ConflictError):
    """The camera's lease holds another token: the worker lost the camera and may write nothing for it."""


@dataclass(frozen=True)
class Lease:
    camera: str
    holder: str
    token: int
    expires_at: datetime

    def to_json(self) -> dict[str, object]:
        return {"camera": self.camera, "holder": self.holder, "token": self.token,
                "expires_at": self.expires_at.isoformat()}


def track_key(lease: Lease, track: int) -> str:
    """A live track's name across retries: its camera, the token of the worker that followed it, its number
    (a restarted worker numbers its tracks from 0 again, under a new token)."""
    return f"{lease.camera}/{lease.token}/{track}"


def _lease(row: CameraLeaseRow) -> Lease:
    return Lease(row.camera_id, row.holder, int(row.token), as_utc(row.expires_at))


def _new_owner(s: Session, row: CameraLeaseRow | None, camera: str, holder: str, moment: datetime,
               term: timedelta) -> CameraLeaseRow:
    """The lease row given to ``holder`` from ``moment``: the camera's first (token 1), or the next token."""
    if row is None:
        row = CameraLeaseRow(camera_id=camera, holder=holder, token=1, acquired_at=moment, expires_at=moment + term)
        s.add(row)
        return row
    row.holder, row.token = holder, row.token + 1
    row.acquired_at, row.expires_at = moment, moment + term
    return row


def acquire(sessions: sessionmaker[Session], camera: str, holder: str, *, term: timedelta = DEFAULT_TERM,
            now: datetime | None = None) -> Lease | None:
    """The lease of ``camera`` for ``holder``: renewed if it is already theirs and current, taken with a new
    token if it is free or expired, ``None`` while another holder's lease runs (or another took it first)."""
    require_plain("holder", holder)
    moment = as_utc(now or datetime.now(UTC))
    try:
        with sessions.begin() as s:
            row = s.get(CameraLeaseRow, camera, with_for_update=True)
            if row is not None and row.holder == holder and as_utc(row.expires_at) > moment:
                row.expires_at = moment + term
            elif row is None or as_utc(row.expires_at) <= moment:
                row = _new_owner(s, row, camera, holder, moment, term)
            else:
                return None
            s.flush()
            return _lease(row)
    except IntegrityError:  # two first owners at once on PostgreSQL: the other insert won
        return None


def take_over(sessions: sessionmaker[Session], camera: str, holder: str, *, term: timedelta = DEFAULT_TERM,
              now: datetime | None = None) -> Lease:
    """The lease of ``camera`` for ``holder`` now, whoever holds it: for a supervisor that knows the holder's
    node is dead and will not wait out its term. Safe by the fence, not by trust: the old holder, should it
    be alive after all, can write nothing under its lower token."""
    require_plain("holder", holder)
    moment = as_utc(now or datetime.now(UTC))
    for _ in range(3):  # a first owner inserted at the same moment: read it and take it over
        try:
            with sessions.begin() as s:
                row = _new_owner(s, s.get(CameraLeaseRow, camera, with_for_update=True), camera, holder, moment,
                                 term)
                s.flush()
                notify(s, Channel.WATCH, camera)  # an old holder still watching hears it and stops at once
                return _lease(row)
        except IntegrityError:
            continue
    raise LeaseLost(camera, "could not take the lease over: others kept taking it at the same moment")


def renew(sessions: sessionmaker[Session], lease: Lease, *, term: timedelta = DEFAULT_TERM,
          now: datetime | None = None) -> Lease:
    """``lease`` for another term, while the row still holds its token (even if the term ran out and nobody
    took the camera meanwhile); ``LeaseLost`` once another holder has it."""
    moment = as_utc(now or datetime.now(UTC))
    with sessions.begin() as s:
        row = _fenced_row(s, lease)
        row.expires_at = moment + term
        s.flush()
        return _lease(row)


def release(sessions: sessionmaker[Session], lease: Lease, *, now: datetime | None = None) -> None:
    """Give the camera up now (it stays with its token, expired, so the next owner's token is higher). A lease
    already lost is left as it is."""
    moment = as_utc(now or datetime.now(UTC))
    with sessions.begin() as s:
        row = s.get(CameraLeaseRow, lease.camera, with_for_update=True)
        if row is not None and row.token == lease.token and row.holder == lease.holder:
            row.expires_at = min(as_utc(row.expires_at), moment)


def check_fence(s: Session, lease: Lease) -> None:
    """Inside a write's transaction: refuse (``LeaseLost``) unless ``lease`` still owns its camera. The row
    stays locked until the transaction ends, so the camera cannot change hands between check and write."""
    _fenced_row(s, lease)


def _fenced_row(s: Session, lease: Lease) -> CameraLeaseRow:
    row = s.get(CameraLeaseRow, lease.camera, with_for_update=True)
    if row is None or row.token != lease.token or row.holder != lease.holder:
        now_held = "nobody" if row is None else f"{row.holder} (token {row.token})"
        raise LeaseLost(lease.camera, f"lease token {lease.token} of {lease.holder} is no longer current: the "
                                      f"camera is now held by {now_held}; nothing written")
    return row


def lease_holds(sessions: sessionmaker[Session], lease: Lease) -> bool:
    """Whether ``lease`` still owns its camera (a read, no lock: for noticing a takeover, not for fencing)."""
    with sessions() as s:
        row = s.get(CameraLeaseRow, lease.camera)
        return row is not None and row.token == lease.token and row.holder == lease.holder


def renew_many(sessions: sessionmaker[Session], leases: list[Lease], *, term: timedelta = DEFAULT_TERM,
               now: datetime | None = None) -> tuple[dict[str, Lease], list[str]]:
    """``renew`` for many leases in one transaction (a node's cameras): those renewed, by camera, and the cameras
    whose lease another holder has now."""
    moment = as_utc(now or datetime.now(UTC))
    wanted = {lease.camera: lease for lease in leases}
    renewed: dict[str, Lease] = {}
    with sessions.begin() as s:
        rows = s.scalars(select(CameraLeaseRow).where(CameraLeaseRow.camera_id.in_(sorted(wanted)))
                         .order_by(CameraLeaseRow.camera_id).with_for_update())  # one lock order: no deadlocks
        for row in rows:
            lease = wanted[row.camera_id]
            if row.token == lease.token and row.holder == lease.holder:
                row.expires_at = moment + term
                renewed[row.camera_id] = _lease(row)
        s.flush()
    return renewed, sorted(set(wanted) - set(renewed))


class KeptLease:
    """One camera's lease kept by a ``LeaseKeepers``: ``lost`` once another holder has it."""

    def __init__(self, owner: LeaseKeepers, lease: Lease) -> None:
        self.owner, self.lease = owner, lease
        self.lost = threading.Event()

    @property
    def overdue(self) -> bool:
        return self.owner.overdue

    def stop(self) -> None:
        self.owner.drop(self)


class LeaseKeepers:
    """Renews every lease of one holder (a node's cameras) in one transaction every third of the term, instead
    of a transaction per camera: thousands of cameras cost the database a few commits a second, not thousands.
    A lease another holder took is marked ``lost`` and kept no longer. Through a database outage it keeps
    trying: a lease whose term ran out while nobody could take it is renewed as it was, one taken meanwhile is
    lost; whoever works under a lease checks ``lost``, and its writes are fenced anyway. ``overdue``: no renewal
    for a whole term."""

    def __init__(self, sessions: sessionmaker[Session], *, term: timedelta = DEFAULT_TERM) -> None:
        self.sessions, self.term = sessions, term
        self._kept: dict[str, KeptLease] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewed = time.monotonic()
        self._thread = threading.Thread(target=self._run, name="leases", daemon=True)
        self._thread.start()

    @property
    def overdue(self) -> bool:
        return time.monotonic() - self._renewed > self.term.total_seconds()

    def keep(self, lease: Lease) -> KeptLease:
        kept = KeptLease(self, lease)
        with self._lock:
            self._kept[lease.camera] = kept
        return kept

    def drop(self, kept: KeptLease) -> None:
        with self._lock:
            if self._kept.get(kept.lease.camera) is kept:
                del self._kept[kept.lease.camera]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.term.total_seconds() / 3):
            with self._lock:
                kept = list(self._kept.values())
            if not kept:
                self._renewed = time.monotonic()
                continue
            try:
                renewed, lost = renew_many(self.sessions, [k.lease for k in kept], term=self.term)
            except Exception as exc:  # the database away: try again next time; the fence keeps the writes safe
                log.warning("renewing %d leases failed (%s); retrying", len(kept), type(exc).__name__)
                continue
            self._renewed = time.monotonic()
            for k in kept:
                if k.lease.camera in renewed:
                    k.lease = renewed[k.lease.camera]
                elif k.lease.camera in lost:
                    k.lost.set()
                    self.drop(k)


def current_leases(sessions: sessionmaker[Session], *, now: datetime | None = None) -> list[Lease]:
    """Every lease whose term has not run out, by camera."""
    moment = as_utc(now or datetime.now(UTC))
    with sessions() as s:
        rows = s.scalars(select(CameraLeaseRow).order_by(CameraLeaseRow.camera_id))
        return [_lease(r) for r in rows if as_utc(r.expires_at) > moment]


def lease_table(sessions: sessionmaker[Session]) -> dict[str, Lease]:
    """Every camera's lease row, current or run out: the last holder of each camera and its token."""
    with sessions() as s:
        return {r.camera_id: _lease(r) for r in s.scalars(select(CameraLeaseRow))}
