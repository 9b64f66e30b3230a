"""The supervisor's plan: the cameras a deployment must watch now, and a camera-to-worker assignment that stays
balanced while moving as few cameras as it can when workers join, leave or die.

Pure decisions over the database's state, kept apart from Ray so that they are tested as plain functions; the
supervisor actor only applies them (and the camera leases make sure no camera is ever watched twice)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.cases.service import CaseStatus, as_utc, effective_status
from facesearch.refs import case_ref
from facesearch.store.schema import CameraRow, CaseRow


def cases_by_camera(sessions: sessionmaker[Session], *, now: datetime | None = None) -> dict[str, list[str]]:
    """Every enabled camera that has a stream address and at least one active case that may search it now,
    with those cases (a case that names no cameras allows every camera). A camera whose last case ended is
    absent: its worker stops."""
    moment = as_utc(now or datetime.now(UTC))
    with sessions() as s:
        cameras = sorted(s.scalars(select(CameraRow.id).where(CameraRow.status == "enabled",
                                                              CameraRow.url_sealed.is_not(None))))
        wanted: dict[str, list[str]] = {}
        for case in s.scalars(select(CaseRow).where(CaseRow.status == CaseStatus.ACTIVE).order_by(CaseRow.id)):
            if effective_status(case, moment) != CaseStatus.ACTIVE or as_utc(case.valid_from) > moment:
                continue
            for camera in (c for c in cameras if not case.cameras or c in case.cameras):
                wanted.setdefault(camera, []).append(case_ref(case.id))
    return wanted


def assign(cameras: Iterable[str], workers: Sequence[str], current: Mapping[str, str]) -> dict[str, str]:
    """Each camera to one worker, balanced (loads differ by at most one), keeping every current assignment that
    balance allows: a worker that died or left gives up its cameras, a camera no longer wanted is dropped, a new
    worker takes only what evens the load. Deterministic: the same inputs give the same plan on any machine."""
    wanted = sorted(set(cameras))
    alive = sorted(set(workers))
    if not alive:
        return {}
    most = -(-len(wanted) // len(alive))  # the ceiling: no worker holds more
    heavy = len(wanted) - (most - 1) * len(alive)  # how many workers may hold ``most`` (the rest hold one fewer)
    plan: dict[str, str] = {}
    load = dict.fromkeys(alive, 0)
    for camera in wanted:  # keep what may stay: a live worker, under its share
        worker = current.get(camera)
        if worker in load and load[worker] < most:
            if load[worker] == most - 1 and sum(v == most for v in load.values()) >= heavy:
                continue  # taking it would make one heavy worker too many
            plan[camera] = worker
            load[worker] += 1
    for camera in (c for c in wanted if c not in plan):  # the rest to the least loaded, by name on ties
        worker = min(alive, key=lambda w: (load[w], w))
        plan[camera] = worker
        load[worker] += 1
    return plan


def moves(before: Mapping[str, str], after: Mapping[str, str]) -> dict[str, tuple[str | None, str | None]]:
    """The cameras whose worker changes (from, to): ``None`` for a camera starting or stopping."""
    return {c: (before.get(c), after.get(c)) for c in sorted(set(before) | set(after)) if before.get(c) != after.get(c)}
