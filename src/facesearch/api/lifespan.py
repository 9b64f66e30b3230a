"""What runs beside the app's requests while it is served: the scan worker, the retention sweeps, the audit
summaries of failed sign-ins, and (on PostgreSQL) the listener that wakes the console's alert streams."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager

from fastapi import FastAPI

from facesearch.accounts.limits import LoginLimiter
from facesearch.api.notices import SightingNotices
from facesearch.retention import RetentionSweeper
from facesearch.video.jobs import JobRunner

log = logging.getLogger("facesearch.api")


def lifespan(run_jobs: bool) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """The app's background work, started before the first request and stopped after the last; ``run_jobs=False``
    leaves out the scan worker and the sweeps (tests: submitted scans stay queued)."""

    @asynccontextmanager
    async def running(app: FastAPI) -> AsyncIterator[None]:
        jobs: JobRunner = app.state.jobs
        notices: SightingNotices = app.state.notices
        sweeper = RetentionSweeper(app.state.context)
        if run_jobs:
            sweeper.start()  # what the rules say must go goes before the first request, then every few minutes
            jobs.start()  # jobs a killed server left running resume here
        notices.start()
        flusher = asyncio.create_task(_flush_failed_sign_ins(app))
        try:
            yield
        finally:
            flusher.cancel()
            await _flush_failed_sign_ins(app, force=True)  # the counted failures reach the log as it stops
            notices.stop()
            jobs.stop()
            sweeper.stop()

    return running


async def _flush_failed_sign_ins(app: FastAPI, *, force: bool = False) -> None:
    """Write each window's summary of failed sign-ins (``accounts.limits.FailedSignIns``) as it ends, even when
    no further failure comes to write it; with ``force``, once, the current window too."""
    limiter: LoginLimiter = app.state.limiter
    failures = limiter.failed_sign_ins
    while True:
        if not force:
            await asyncio.sleep(failures.window_s)
        try:
            await asyncio.to_thread(failures.flush, app.state.context.sessions, force=force)
        except Exception:  # a database away for a moment: the counts wait for the next window
            log.exception("could not write the summary of failed sign-ins to the audit log")
        if force:
            return
