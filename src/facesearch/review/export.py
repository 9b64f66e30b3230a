"""The evidence package of a case's confirmed sightings: what may leave the system, and proof of how.

A zip with, per confirmed sighting, the stored redacted frame (every face but the match blurred) and
the aligned crop, a ``manifest.json`` (the case's authorisation, each sighting with its score, FMR,
times and reviews, and each file's SHA-256), ``audit.jsonl`` (the case's audit entries) and
``audit-proof.json``: a checkpoint of the whole log signed with the installation's audit key at export time,
its public key, and each entry's Merkle inclusion proof, so whoever receives the package can check that the
entries belong to the installation's log, unchanged, without the database (``verify_package``, or
``facesearch audit verify --export``). Candidates and rejected sightings are never exported. The export
itself is audited with the package's SHA-256.
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
from facesearch.audit.verification import (
    ExcerptVerification,
    document_signature_valid,
    excerpt_proof,
    sign_document,
    verify_excerpt,
)
from facesearch.audit.verification import verify as verify_log
from facesearch.cases.service import get_case
from facesearch.context import Context
from facesearch.errors import ConflictError, FacesearchError
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


class NothingToExport(ConflictError):
    """The case has no confirmed sighting: an export would be an empty package, so none is made (the CLI's
    ``export`` and the API's and console's downloads alike)."""


def build_package(ctx: Context, case_ref: str, *, actor: str, allow_empty: bool = False) -> Package:
    """The zip of the case's confirmed sightings, in memory (not yet audited: see ``record_export``).
    ``NothingToExport`` when there are none, unless ``allow_empty`` (only for tests of the audit parts)."""
    sessions, sealer = ctx.sessions, ctx.sealer
    case = get_case(sessions, case_ref, actor=actor, contents=True)  # need to know: assigned people only
    now = datetime.now(UTC)
    files: dict[str, bytes] = {}
    entries: list[dict[str, object]] = []
    with sessions() as s:
        found = list_sightings(s, case.ref, actor=actor)
        confirmed = [x for x in found if x.status == "confirmed"]
        if not confirmed and not allow_empty:
            waiting = sum(1 for x in found if x.status == "candidate")
            raise NothingToExport(case.ref, "nothing to export: no confirmed sightings"
                                            + (f" ({waiting} awaiting review)" if waiting else ""))
        for x in confirmed:
            evidence = open_evidence(s, sealer, x.id, actor=actor)
            item = x.to_json() | {"reviews": [{"reviewer": r.reviewer, "decision": r.decision, "note": r.note,
                                               "at": r.at.isoformat()} for r in reviews_of(s, x.id)],
                                  "files": {}}
            for kind, data in sorted(evidence.items()):
                name = f"evidence/sighting-{x.id}-{kind}.jpg"
                files[name] = data
                item["files"][name] = hashlib.sha256(data).hexdigest()
            entries.append(item)
        chain = verify_log(s)
        excerpt, proof = excerpt_proof(s, case.ref)
        manifest = {"case": case.to_json(), "exported_at": now.isoformat(), "exported_by": actor,
                    "sightings": entries,
                    "audit": {"entries": len(excerpt), "chain_verified": chain.ok,
                              "chain_entries_checked": chain.checked, "audit_key_id": proof["key_id"],
                              "checkpoint_size": proof["checkpoint"]["size"],
                              "note": "audit.jsonl holds this case's entries; audit-proof.json proves each belongs "
                                      "to the installation's log at the signed checkpoint, and signs this file."}}
        manifest_bytes = json.dumps(manifest, indent=2, default=str).encode()
        proof["manifest_signature"] = sign_document(s, manifest_bytes)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", manifest_bytes)
        z.writestr("audit.jsonl", "".join(json.dumps(e, sort_keys=True, default=str) + "\n" for e in excerpt))
        z.writestr("audit-proof.json", json.dumps(proof, indent=1, sort_keys=True))
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


class PackageError(FacesearchError):
    """An export package that cannot be read (not a zip, or parts missing)."""


_MAX_PART_BYTES = 256 * 1024 * 1024  # a part bigger than this is no package of ours: refuse, don't inflate it


def _read_part(z: zipfile.ZipFile, name: str, where: str) -> bytes:
    try:
        info = z.getinfo(name)
    except KeyError:
        raise PackageError(where, f"no {name} in the package") from None
    if info.file_size > _MAX_PART_BYTES:
        raise PackageError(where, f"{name} is {info.file_size} bytes uncompressed; refusing to read it")
    return z.read(info)


@dataclass(frozen=True)
class PackageVerification:
    """An export checked: its audit excerpt against the signed checkpoint, and every file against the manifest."""

    audit: ExcerptVerification
    files_checked: int
    file_problems: list[str]

    @property
    def ok(self) -> bool:
        return self.audit.ok and not self.file_problems

    def to_json(self) -> dict[str, object]:
        return {"ok": self.ok, "audit": self.audit.to_json(), "files_checked": self.files_checked,
                "file_problems": self.file_problems}


def verify_package(path: Path, trusted_key_id: str | None) -> PackageVerification:
    """Check an export without the database: the audit entries are in the log the checkpoint signs (with the
    key ``trusted_key_id`` names, when given) and each evidence file has the SHA-256 the manifest gives."""
    where = str(path)
    try:
        with zipfile.ZipFile(path) as z:
            manifest_bytes = _read_part(z, "manifest.json", where)
            manifest = json.loads(manifest_bytes)
            entries = [json.loads(raw) for raw in _read_part(z, "audit.jsonl", where).splitlines() if raw.strip()]
            proof = json.loads(_read_part(z, "audit-proof.json", where))
            problems, checked = [], 0
            if not isinstance(proof, dict) or not document_signature_valid(
                    proof, manifest_bytes, proof.get("manifest_signature")):
                problems.append("manifest.json: its signature does not verify (changed after export)")
            for sighting in manifest.get("sightings", []):
                for name, digest in sighting.get("files", {}).items():
                    checked += 1
                    try:
                        data = _read_part(z, name, where)
                    except PackageError as exc:
                        problems.append(exc.reason)
                        continue
                    if hashlib.sha256(data).hexdigest() != digest:
                        problems.append(f"{name}: its SHA-256 differs from the manifest's (changed after export)")
    except (OSError, zipfile.BadZipFile) as exc:
        raise PackageError(where, f"not a readable zip ({exc})") from None
    except (ValueError, AttributeError, TypeError) as exc:
        raise PackageError(where, f"not a facesearch export ({exc})") from None
    if not isinstance(proof, dict) or not all(isinstance(e, dict) for e in entries):
        raise PackageError(where, "not a facesearch export (audit parts are not JSON objects)")
    return PackageVerification(verify_excerpt(entries, proof, trusted_key_id), checked, problems)
