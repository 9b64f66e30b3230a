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

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from facesearch.errors import ConflictError
from facesearch.store.schema import CameraLeaseRow
from facesearch.text import require_plain

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


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _lease(row: CameraLeaseRow) -> Lease:
    return Lease(row.camera_id, row.holder, int(row.token), _utc(row.expires_at))


def acquire(sessions: sessionmaker[Session], camera: str, holder: str, *, term: timedelta = DEFAULT_TERM,
            now: datetime | None = None) -> Lease | None:
    """The lease of ``camera`` for ``holder``: renewed if it is already theirs and current, taken with a new
    token if it is free or expired, ``None`` while another holder's lease runs (or another took it first)."""
    require_plain("holder", holder)
    moment = _utc(now or datetime.now(UTC))
    try:
        with sessions.begin() as s:
            row = s.get(CameraLeaseRow, camera, with_for_update=True)
            if row is None:
                row = CameraLeaseRow(camera_id=camera, holder=holder, token=1, acquired_at=moment,
                                     expires_at=moment + term)
                s.add(row)
            elif row.holder == holder and _utc(row.expires_at) > moment:
                row.expires_at = moment + term
            elif _utc(row.expires_at) <= moment:
                row.holder, row.token = holder, row.token + 1
                row.acquired_at, row.expires_at = moment, moment + term
            else:
                return None
            s.flush()
            return _lease(row)
    except IntegrityError:  # two first owners at once on PostgreSQL: the other insert won
        return None


def renew(sessions: sessionmaker[Session], lease: Lease, *, term: timedelta = DEFAULT_TERM,
          now: datetime | None = None) -> Lease:
    """``lease`` for another term, while the row still holds its token (even if the term ran out and nobody
    took the camera meanwhile); ``LeaseLost`` once another holder has it."""
    moment = _utc(now or datetime.now(UTC))
    with sessions.begin() as s:
        row = _fenced_row(s, lease)
        row.expires_at = moment + term
        s.flush()
        return _lease(row)


def release(sessions: sessionmaker[Session], lease: Lease, *, now: datetime | None = None) -> None:
    """Give the camera up now (it stays with its token, expired, so the next owner's token is higher). A lease
    already lost is left as it is."""
    moment = _utc(now or datetime.now(UTC))
    with sessions.begin() as s:
        row = s.get(CameraLeaseRow, lease.camera, with_for_update=True)
        if row is not None and row.token == lease.token and row.holder == lease.holder:
            row.expires_at = min(_utc(row.expires_at), moment)


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


def current_leases(sessions: sessionmaker[Session], *, now: datetime | None = None) -> list[Lease]:
    """Every lease whose term has not run out, by camera."""
    moment = _utc(now or datetime.now(UTC))
    with sessions() as s:
        rows = s.scalars(select(CameraLeaseRow).order_by(CameraLeaseRow.camera_id))
        return [_lease(r) for r in rows if _utc(r.expires_at) > moment]
