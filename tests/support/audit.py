"""Sessions that may append to the audit log: a test key, and checkpoints in the test's own folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facesearch.audit import log as audit
from facesearch.audit.checkpoints import CheckpointLog
from facesearch.audit.keys import AuditKey

TEST_AUDIT_KEY = AuditKey.generate()  # one per test process: every database a test opens verifies with it


def with_audit(sessions: Any, checkpoints: Path | None = None) -> Any:
    """``sessions``, appending with the test key (and checkpointing into ``checkpoints`` when given)."""
    if not audit.attached(sessions):
        audit.attach(sessions, audit.AuditTrail(TEST_AUDIT_KEY, None if checkpoints is None
                                                else CheckpointLog(checkpoints)))
    return sessions


def open_audited(url: str, checkpoints: Path | None = None) -> tuple[Any, Any]:
    """``open_database(url)``, its sessions appending with the test key."""
    from facesearch.store.db import open_database

    engine, sessions = open_database(url)
    return engine, with_audit(sessions, checkpoints)
