"""Putting a site calibration in force, and withdrawing it: an administrator's action, audited with the
thresholds before and after at every standard target and the hash of the data it was measured on. One is in
force per profile; the ones before stay, withdrawn, for the record."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.calibration import Calibration
from facesearch.calibration_store import in_force, site_calibration
from facesearch.context import Context
from facesearch.errors import BadInputError, ConflictError
from facesearch.eval.report import FMR_TARGETS
from facesearch.eval.site import SiteCalibration
from facesearch.store.schema import SiteCalibrationRow

POLICIES = ("worst-group", "overall")


@dataclass(frozen=True)
class SiteCalibrationRecord:
    id: int
    profile: str
    source: str
    data_sha256: str
    policy: str
    attribute: str | None
    created_at: datetime
    created_by: str
    in_force: bool
    withdrawn_at: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "profile": self.profile, "source": self.source, "data_sha256": self.data_sha256,
                "policy": self.policy, "attribute": self.attribute, "created_at": self.created_at.isoformat(),
                "created_by": self.created_by, "in_force": self.in_force,
                "withdrawn_at": None if self.withdrawn_at is None else self.withdrawn_at.isoformat()}


@dataclass(frozen=True)
class Change:
    record: SiteCalibrationRecord | None  # None: back to the shipped calibration
    thresholds: list[dict[str, Any]]  # per target: before and after

    def to_json(self) -> dict[str, Any]:
        return {"calibration": None if self.record is None else self.record.to_json(), "thresholds": self.thresholds}


def _record(row: SiteCalibrationRow) -> SiteCalibrationRecord:
    return SiteCalibrationRecord(row.id, row.profile, row.source, row.data_sha256, row.policy, row.attribute,
                                 row.created_at, row.created_by, row.in_force, row.withdrawn_at)


def _thresholds(before: Calibration | None, after: Calibration | None) -> list[dict[str, Any]]:
    def at(cal: Calibration | None, target: float) -> float | None:
        return None if cal is None else round(cal.threshold_for_fmr(target)[0], 6)

    return [{"target": t, "before": at(before, t), "after": at(after, t)} for t in FMR_TARGETS]


def stored_body(site: SiteCalibration) -> dict[str, Any]:
    """What is kept of a site calibration: its curves and counts, not the paths of the images it was made of."""
    body = site.to_json()
    body["duplicates"] = len(body["duplicates"])
    body["problems"] = len(body["problems"])
    return body


def put_in_force(ctx: Context, site: SiteCalibration, *, actor: str, policy: str | None = None,
                 attribute: str | None = None) -> Change:
    """Make ``site`` the calibration of its profile's searches. ``policy``: "worst-group" (the default where
    groups were measured: a threshold holds in every group, of ``attribute`` or of all) or "overall"."""
    engine = ctx.engine()
    shipped = engine.calibration
    if site.profile != engine.profile or shipped is None:
        raise BadInputError(site.profile, f"measured with profile {site.profile}; this installation searches with "
                                          f"{engine.profile}")
    measured = sorted({g.attribute for g in site.groups if g.curve is not None})
    policy = policy or ("worst-group" if measured else "overall")
    if policy not in POLICIES:
        raise BadInputError(f"policy {policy[:30]}", f"expected one of {', '.join(POLICIES)}")
    if policy == "worst-group" and not measured:
        raise BadInputError("policy worst-group", "no group was measured (give group columns with at least "
                                                  "20 people in a group)")
    if attribute is not None and attribute not in measured:
        raise BadInputError(f"attribute {attribute[:100]}", f"no measured groups of it (measured: "
                                                            f"{', '.join(measured) or 'none'})")
    body = stored_body(site)
    before = in_force(ctx.sessions, engine.profile, shipped)
    now = datetime.now(UTC)
    with ctx.sessions.begin() as s:
        s.execute(update(SiteCalibrationRow).where(SiteCalibrationRow.profile == engine.profile,
                                                   SiteCalibrationRow.in_force.is_(True))
                  .values(in_force=False, withdrawn_at=now).execution_options(synchronize_session=False))
        row = SiteCalibrationRow(profile=engine.profile, source=site.source, data_sha256=site.data_sha256,
                                 policy=policy, attribute=attribute if policy == "worst-group" else None, body=body,
                                 created_at=now, created_by=actor, in_force=True)
        s.add(row)
        try:
            s.flush()
        except IntegrityError:  # another was put in force at the same moment: one wins, the other says so
            raise ConflictError(engine.profile, "another calibration was put in force at the same moment; look at "
                                                "calibrate --history and try again") from None
        after = site_calibration(body, shipped, policy=row.policy, attribute=row.attribute, label=f"site #{row.id}")
        thresholds = _thresholds(before.calibration, after)
        audit.append(s, actor=actor, action=AuditAction.CALIBRATION_SET, subject=f"calibration:{row.id}", details={
            "profile": engine.profile, "data_sha256": site.data_sha256, "source": site.source, "policy": row.policy,
            "attribute": row.attribute, "images": site.overall.images, "people": site.overall.people,
            "impostor_pairs": site.overall.impostor_pairs, "before": before.label, "thresholds": thresholds})
        record = _record(row)
    return Change(record, thresholds)


def withdraw(ctx: Context, *, actor: str) -> Change:
    """Back to the shipped calibration for the engine's profile; ``ConflictError`` when none is in force."""
    engine = ctx.engine()
    before = in_force(ctx.sessions, engine.profile, engine.calibration)
    if before.site_id is None:
        raise ConflictError(engine.profile, "no site calibration is in force: the shipped one is used already")
    with ctx.sessions.begin() as s:
        s.execute(update(SiteCalibrationRow).where(SiteCalibrationRow.id == before.site_id)
                  .values(in_force=False, withdrawn_at=datetime.now(UTC)).execution_options(synchronize_session=False))
        thresholds = _thresholds(before.calibration, engine.calibration)
        audit.append(s, actor=actor, action=AuditAction.CALIBRATION_WITHDRAW, subject=f"calibration:{before.site_id}",
                     details={"profile": engine.profile, "before": before.label, "thresholds": thresholds})
    return Change(None, thresholds)


def history(ctx: Context) -> list[SiteCalibrationRecord]:
    """Every site calibration stored, newest first."""
    with ctx.sessions() as s:
        return [_record(r) for r in s.scalars(select(SiteCalibrationRow).order_by(SiteCalibrationRow.id.desc()))]
