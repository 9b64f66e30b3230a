"""Background jobs for the API: scans run in a worker thread, their progress kept in the database.

A job's state lives in its row, so it survives the server: at start-up, jobs that were running when
the server stopped are queued again and resume (a scan skips the files it finished and had left the
interrupted one uncommitted, so no sighting is lost or duplicated). Cancelling stops at the next frame.
A job's scan reads under the media folder only, each file checked when it is opened (not only when the
job was submitted: a link may change in between, and a job may resume days later).
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy import select, update

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases import access
from facesearch.context import Context
from facesearch.errors import ConflictError, FacesearchError, NotFoundError
from facesearch.refs import RefKind, case_ref, normalise_ref, parse_case_ref
from facesearch.store.schema import JobRow
from facesearch.video.face_size import MIN_FACE_DEFAULT, check_min_face

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobError(FacesearchError):
    """A job cannot be made as asked."""


class JobNotFound(JobError, NotFoundError):
    """No job has this id."""


class JobConflict(JobError, ConflictError):
    """The job has ended already (done, failed or cancelled)."""


@dataclass(frozen=True)
class Job:
    id: int
    kind: str
    case: str
    params: dict[str, Any]
    status: str
    progress: dict[str, Any]
    result: dict[str, Any] | None
    error: str | None
    created_by: str

    def to_json(self) -> dict[str, Any]:
        return self.__dict__.copy()


def _job(row: JobRow) -> Job:
    return Job(row.id, row.kind, row.case_id, dict(row.params), row.status, dict(row.progress),
               None if row.result is None else dict(row.result), row.error, row.created_by)


class JobRunner:
    """One worker thread: scans are CPU-bound and the models already use every core."""

    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx
        self.sessions = ctx.sessions
        self._wake, self._stop = threading.Event(), threading.Event()
        self._cancelled: set[int] = set()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        with self.sessions.begin() as s:  # jobs the last server left running: they resume
            s.execute(update(JobRow).where(JobRow.status == JobStatus.RUNNING)
                      .values(status=JobStatus.QUEUED, updated_at=datetime.now(UTC)))
        self._thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def submit_scan(self, case: str, paths: list[str], *, camera: str | None, actor: str,
                    start: datetime | None = None, min_face: float = MIN_FACE_DEFAULT) -> Job:
        """Queue a scan; ``start`` is when the recordings started, when their own times are wrong (the CLI's
        ``--start``), kept with the job's parameters as ISO text; ``min_face``: the smallest face searched."""
        now = datetime.now(UTC)
        case = normalise_ref(case, RefKind.CASE)
        params: dict[str, Any] = {"paths": paths, "camera": camera, "min_face": check_min_face(min_face)}
        if start is not None:
            params["start"] = start.isoformat()
        with self.sessions.begin() as s:
            row = JobRow(kind="scan", case_id=case, params=params,
                         status=JobStatus.QUEUED, progress={}, created_by=actor, created_at=now, updated_at=now)
            s.add(row)
            s.flush()
            audit.append(s, actor=actor, action=AuditAction.JOB_SUBMIT, case_id=case, subject=f"job:{row.id}",
                         details={"kind": "scan", **params})
            job = _job(row)
        self._wake.set()
        return job

    def get(self, job_id: int, *, actor: str) -> Job:
        """Job ``job_id``, when ``actor`` may see its case's contents (``cases.access``)."""
        with self.sessions() as s:
            row = s.get(JobRow, job_id)
            if row is None:
                raise JobNotFound(f"job {job_id}", "no such job")
            access.check(s, actor, parse_case_ref(row.case_id), contents=True)
            return _job(row)

    def list(self, *, actor: str) -> list[Job]:
        """The newest jobs of the cases ``actor`` may see the contents of."""
        with self.sessions() as s:
            query = select(JobRow).order_by(JobRow.id.desc()).limit(200)
            visible = access.visible_case_ids(s, actor, contents=True)
            if visible is not None:
                query = query.where(JobRow.case_id.in_([case_ref(i) for i in visible]))
            return [_job(r) for r in s.scalars(query)]

    def counts(self) -> dict[str, int]:
        """Jobs by status."""
        from sqlalchemy import func

        with self.sessions() as s:
            rows = s.execute(select(JobRow.status, func.count()).group_by(JobRow.status))
            return {status: int(n) for status, n in rows}

    def cancel(self, job_id: int, *, actor: str) -> Job:
        with self.sessions.begin() as s:
            row = s.get(JobRow, job_id, with_for_update=True)
            if row is None:
                raise JobNotFound(f"job {job_id}", "no such job")
            access.check(s, actor, parse_case_ref(row.case_id), contents=True)
            if row.status not in (JobStatus.QUEUED, JobStatus.RUNNING):
                raise JobConflict(f"job {job_id}", f"is already {row.status}")
            if row.status == JobStatus.QUEUED:
                row.status = JobStatus.CANCELLED
            self._cancelled.add(job_id)
            audit.append(s, actor=actor, action=AuditAction.JOB_CANCEL, case_id=row.case_id, subject=f"job:{job_id}")
            return _job(row)

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self.sessions() as s:
                row = s.scalar(select(JobRow).where(JobRow.status == JobStatus.QUEUED).order_by(JobRow.id).limit(1))
                job_id = None if row is None else row.id
            if job_id is None:
                self._wake.wait(timeout=1.0)
                self._wake.clear()
                continue
            self._run(job_id)

    def _set(self, job_id: int, **values: Any) -> None:
        with self.sessions.begin() as s:
            s.execute(update(JobRow).where(JobRow.id == job_id).values(updated_at=datetime.now(UTC), **values))

    def _run(self, job_id: int) -> None:
        from facesearch.video.scan import scan
        from facesearch.video.search import SearchConfig

        job = self.get(job_id, actor="system")  # the worker; the scan itself runs as the job's submitter
        self._set(job_id, status=JobStatus.RUNNING)
        last = 0.0
        files_done: list[dict[str, Any]] = []

        def on_progress(name: str, progress: Any, duration: float | None) -> None:
            nonlocal last
            now = time.monotonic()
            if now - last >= PROGRESS_EVERY_S:
                last = now
                self._set(job_id, progress={"file": name, "seconds": round(progress.seconds, 2),
                                            "duration": duration, "frames": progress.frames,
                                            "files_done": len(files_done), "matched_tracks": progress.matched})

        def should_stop() -> bool:
            return self._stop.is_set() or job_id in self._cancelled

        try:
            start = job.params.get("start")
            report = scan(self.ctx, [Path(p) for p in job.params["paths"]],
                          job.case, actor=job.created_by, camera=job.params.get("camera"),
                          start=None if start is None else datetime.fromisoformat(start), on_progress=on_progress,
                          config=SearchConfig(min_face=float(job.params.get("min_face", MIN_FACE_DEFAULT))),
                          on_file=lambda f: files_done.append(f.to_json()), should_stop=should_stop,
                          media_root=self.ctx.settings.resolved_media_root)  # checked as each file is opened
        except FacesearchError as exc:
            self._set(job_id, status=JobStatus.FAILED, error=str(exc))
            return
        except Exception as exc:  # a job must never take the worker down with it
            log.exception("job %s failed", job_id)
            self._set(job_id, status=JobStatus.FAILED, error=f"{type(exc).__name__}: {exc}")
            return
        if self._stop.is_set() and job_id not in self._cancelled:
            self._set(job_id, status=JobStatus.QUEUED)  # the server is stopping: resume at the next start
            return
        status = JobStatus.CANCELLED if report.cancelled else JobStatus.DONE
        self._set(job_id, status=status, result=report.to_json(),
                  progress={"files_done": len(files_done), "sightings": len(report.sighting_ids)})
