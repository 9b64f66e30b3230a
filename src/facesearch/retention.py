"""Retention: what the rules say must go, purged and audited.

Cases past their validity are expired, which deletes the templates of the people they targeted
unless another live case still needs them. A sweep then deletes any template of a person whom only
closed or expired cases ever targeted (for example a database restored from before a purge), so a
run leaves the gallery in the state the rules describe whatever happened before it. People enrolled
outside any case (1:1 sign-in, a personal library) are not touched. Sightings, with their evidence,
are deleted ``retention_days`` after they were stored.

It runs on ``facesearch retention run``, when ``watch`` starts, and in ``serve`` as it starts and every five
minutes after (``RetentionSweeper``); a run that finds nothing to purge writes no audit entry there, to keep
the log about actions. Opening the database for anything else runs nothing: listing cases writes nothing.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases.service import LIVE, expire_cases
from facesearch.context import Context
from facesearch.store.notify import Channel, notify
from facesearch.store.schema import CaseRow, CaseTargetRow, EvidenceRow, SightingRow, TemplateRow

log = logging.getLogger(__name__)
SWEEP_EVERY_S = 300.0  # how often a running server applies the rules


@dataclass(frozen=True)
class RetentionReport:
    ran_at: datetime
    cases_expired: list[str]
    templates_purged: int  # by the sweep; an expiry's own deletions are in its case.expire entry
    retention_days: int
    sightings_purged: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"ran_at": self.ran_at.isoformat(), "cases_expired": self.cases_expired,
                "templates_purged": self.templates_purged, "sightings_purged": self.sightings_purged,
                "retention_days": self.retention_days}

    @property
    def purged_anything(self) -> bool:
        return bool(self.cases_expired or self.templates_purged or self.sightings_purged)


def _purge_templates_of_people_no_live_case_needs(s: Session) -> int:
    targeted = select(CaseTargetRow.identity_id)
    live = select(CaseTargetRow.identity_id).join(CaseRow, CaseRow.id == CaseTargetRow.case_id).where(
        CaseRow.status.in_(LIVE))
    doomed = select(TemplateRow.id).where(TemplateRow.identity_id.in_(targeted),
                                          TemplateRow.identity_id.not_in(live))
    count = s.scalar(select(func.count()).select_from(doomed.subquery())) or 0
    if count:
        s.execute(delete(TemplateRow).where(TemplateRow.id.in_(doomed)))
        notify(s, Channel.GALLERY)
    return int(count)


def run_retention(sessions: sessionmaker[Session], *, actor: str, retention_days: int,
                  now: datetime | None = None, audit_when_idle: bool = True) -> RetentionReport:
    """Expire due cases and sweep templates that no live case needs; audited (always, or only when
    something was purged with ``audit_when_idle=False``)."""
    moment = now or datetime.now(UTC)
    expired = expire_cases(sessions, now=moment)
    with sessions.begin() as s:
        purged = _purge_templates_of_people_no_live_case_needs(s)
        old = select(SightingRow.id).where(SightingRow.created_at < moment - timedelta(days=retention_days))
        sighting_ids = list(s.scalars(old))
        if sighting_ids:  # evidence first: SQLite enforces the foreign key, but not every copy cascades
            s.execute(delete(EvidenceRow).where(EvidenceRow.sighting_id.in_(sighting_ids)))
            s.execute(delete(SightingRow).where(SightingRow.id.in_(sighting_ids)))
        report = RetentionReport(moment, expired, purged, retention_days, len(sighting_ids))
        if audit_when_idle or report.purged_anything:
            audit.append(s, actor=actor, action=AuditAction.RETENTION_RUN, details=report.to_json())
    return report


def start_up_retention(ctx: Context, *, actor: str) -> RetentionReport:
    """Retention as a long-running process starts (``serve``, ``watch``): audited only when it purges."""
    return run_retention(ctx.sessions, actor=actor, retention_days=ctx.settings.retention_days, audit_when_idle=False)


class RetentionSweeper:
    """Retention in a server that runs for days: once as it starts, then every ``every_s`` seconds, so that a
    case that expires while the server runs loses its watchlist's templates within minutes, not at the next
    restart. Audited only when it purges; a failed sweep is logged and tried again at the next one."""

    def __init__(self, ctx: Context, *, every_s: float = SWEEP_EVERY_S, actor: str = "system") -> None:
        self.ctx, self.every_s, self.actor = ctx, every_s, actor
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> RetentionReport:
        """Sweep now (before the first request is served), then in the background."""
        report = start_up_retention(self.ctx, actor=self.actor)
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()
        return report

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                start_up_retention(self.ctx, actor=self.actor)
            except Exception:  # the database may be away for a moment: the next sweep tries again
                log.exception("retention sweep failed")
