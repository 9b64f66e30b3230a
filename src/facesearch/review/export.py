"""The evidence package of a case's confirmed sightings: what may leave the system, and proof of how.

A zip with, per confirmed sighting, the stored redacted frame (every face but the match blurred) and
the aligned crop, a ``manifest.json`` (the case's authorisation, each sighting with its score, FMR,
times and reviews, and each file's SHA-256), and ``audit.jsonl``: the case's audit entries, each with
the hash of the entry before it and its own, so any of them can be checked (``canonical JSON``,
``sha256(prev_hash + "\\n" + payload)``), with the chain's head and its verification at export time.
Candidates and rejected sightings are never exported. The export itself is audited with the
package's SHA-256.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases.service import get_case
from facesearch.context import Context
from facesearch.files import atomic_write
from facesearch.review.service import reviews_of
from facesearch.video.sightings import list_sightings, open_evidence


@dataclass(frozen=True)
class ExportSummary:
    path: Path
    sightings: int
    sha256: str


@dataclass(frozen=True)
class Package:
    case: str
    data: bytes
    sha256: str
    sighting_ids: list[int]

    @property
    def file_name(self) -> str:
        return f"{self.case}-evidence.zip"


def build_package(ctx: Context, case_ref: str, *, actor: str) -> Package:
    """The zip of the case's confirmed sightings, in memory (not yet audited: see ``record_export``)."""
    sessions, sealer = ctx.sessions, ctx.sealer
    case = get_case(sessions, case_ref)
    now = datetime.now(UTC)
    files: dict[str, bytes] = {}
    entries: list[dict[str, object]] = []
    with sessions() as s:
        confirmed = [x for x in list_sightings(s, case.ref) if x.status == "confirmed"]
        for x in confirmed:
            evidence = open_evidence(s, sealer, x.id)
            item = x.to_json() | {"reviews": [{"reviewer": r.reviewer, "decision": r.decision, "note": r.note,
                                               "at": r.at.isoformat()} for r in reviews_of(s, x.id)],
                                  "files": {}}
            for kind, data in sorted(evidence.items()):
                name = f"evidence/sighting-{x.id}-{kind}.jpg"
                files[name] = data
                item["files"][name] = hashlib.sha256(data).hexdigest()
            entries.append(item)
        excerpt = [e.to_json() for e in audit.events(s, case_id=case.ref)]
        chain = audit.verify(s)
    manifest = {"case": case.to_json(), "exported_at": now.isoformat(), "exported_by": actor,
                "sightings": entries,
                "audit": {"entries": len(excerpt), "chain_verified": chain.ok, "chain_entries_checked": chain.checked,
                          "note": "audit.jsonl holds this case's entries; each hash covers the entry and the "
                                  "hash before it (sha256(prev_hash + '\\n' + canonical JSON of the payload))."}}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, indent=2, default=str))
        z.writestr("audit.jsonl", "".join(json.dumps(e, sort_keys=True, default=str) + "\n" for e in excerpt))
        for name, data in files.items():
            z.writestr(name, data)
    data = buf.getvalue()
    return Package(case.ref, data, hashlib.sha256(data).hexdigest(), [x.id for x in confirmed])


def record_export(sessions: sessionmaker[Session], package: Package, *, actor: str, destination: str) -> None:
    """Audit that ``package`` left the system, with its SHA-256."""
    with sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.EXPORT_PACKAGE, case_id=package.case, subject=destination,
                     details={"sha256": package.sha256, "sightings": package.sighting_ids})


def export_confirmed(ctx: Context, case_ref: str, out: Path, *, actor: str) -> ExportSummary:
    """Write the package to ``out`` (atomically), then audit the export."""
    package = build_package(ctx, case_ref, actor=actor)
    atomic_write(out, package.data)
    record_export(ctx.sessions, package, actor=actor, destination=str(out))
    return ExportSummary(out, len(package.sighting_ids), package.sha256)


def hand_over(ctx: Context, case_ref: str, *, actor: str) -> Package:
    """The package handed to ``actor`` as a download (API and console), audited as such."""
    package = build_package(ctx, case_ref, actor=actor)
    record_export(ctx.sessions, package, actor=actor, destination=f"download:{package.file_name}")
    return package
