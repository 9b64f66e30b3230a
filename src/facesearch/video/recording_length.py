"""How long a case's recordings are, as their scans recorded it: where a case's timeline ends."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from facesearch.cases import access
from facesearch.refs import parse_case_ref
from facesearch.store.schema import ScannedFileRow


def recording_lengths(s: Session, case: str, *, actor: str) -> dict[str, float]:
    """Seconds per recording scanned for ``case``, by the name its sightings give as their ``source``, when
    ``actor`` may see the case's contents; a recording scanned before lengths were kept (migration 0014) is
    missing, and its timeline ends at its last sighting."""
    case_id = parse_case_ref(case)
    access.check(s, actor, case_id, contents=True)
    rows = s.execute(select(ScannedFileRow.path, ScannedFileRow.duration_s)
                     .where(ScannedFileRow.case_id == case_id, ScannedFileRow.duration_s.is_not(None)))
    return {path: float(seconds) for path, seconds in rows if seconds and seconds > 0}
