"""Checking the audit log: the whole log in the database against its keyed links and signed checkpoints, and
one case's excerpt in an export against the checkpoint it carries.

``verify`` answers "is this log the one this installation wrote, whole?": every link (keyed), the head row,
and every signed checkpoint (the entry it names and the Merkle root over everything before it). Entries cut
from the end, a deleted head, an emptied log and a replaced database file each fail with their own reason.

``verify_excerpt`` answers "do these entries belong to the log at checkpoint N?" for someone who holds an
export and the installation's public key id, but neither the database nor the audit key: each entry comes
with its inclusion proof (``merkle``) against the checkpoint's root, and the checkpoint is signed.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from facesearch.audit import log as audit_log
from facesearch.audit.chain import AuditEvent, canonical_json, verify_chain
from facesearch.audit.checkpoints import Checkpoint
from facesearch.audit.keys import AuditKey, public_key_id, verify_signature
from facesearch.audit.merkle import (
    frontier_append,
    frontier_root,
    inclusion_proof,
    leaf_hash,
    tree_levels,
    verify_inclusion,
)


@dataclass(frozen=True)
class AuditVerification:
    """The outcome: ``ok``, or the first fault and why; with what the checkpoints covered."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    key_id: str | None = None
    checkpoints_checked: int = 0
    latest_checkpoint: Mapping[str, Any] | None = None
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "checked": self.checked, "first_bad_seq": self.first_bad_seq, "reason": self.reason,
                "key_id": self.key_id, "checkpoints_checked": self.checkpoints_checked,
                "latest_checkpoint": dict(self.latest_checkpoint) if self.latest_checkpoint else None,
                "notes": list(self.notes)}


def _signed_checkpoints(session: Session, key: AuditKey) -> tuple[list[Checkpoint], list[str], list[str]]:
    """The checkpoints that carry this installation's signature, what is wrong with lines that claim to be
    checkpoints but are not signed by it (problems), and lines that are not checkpoints at all (notes: a process
    killed while appending tears its line; garbage hides nothing, since every signed line still counts)."""
    trail = audit_log.trail_of(session)
    if trail.checkpoints is None:
        return [], [], []
    good, problems, notes = [], [], []
    for line in trail.checkpoints.lines():
        where = f"checkpoint file {trail.checkpoints.path}, line {line.number}"
        cp = line.checkpoint
        if cp is None:
            notes.append(f"{where}: {line.problem}, ignored (a write torn by a crash, or an edit)")
        elif cp.key_id != key.key_id:
            problems.append(f"{where}: signed by audit key {cp.key_id}, not this installation's {key.key_id}")
        elif not cp.signature_valid(key.public_key):
            problems.append(f"{where}: the signature does not verify (the checkpoint was edited or forged)")
        else:
            good.append(cp)
    return good, problems, notes


def verify(session: Session) -> AuditVerification:
    """Check the whole log; the first problem found is the reason given."""
    trail = audit_log.trail_of(session)
    key = trail.key
    # Checkpoints first, then the log: a commit that lands in between adds entries the checkpoints do not
    # know yet (fine), never a checkpoint of entries this read cannot see.
    checkpoints, line_problems, line_notes = _signed_checkpoints(session, key)
    by_size: dict[int, list[Checkpoint]] = {}
    for cp in checkpoints:
        by_size.setdefault(cp.size, []).append(cp)
    latest = max(checkpoints, key=lambda c: c.size, default=None)
    mismatch: list[Checkpoint] = []
    count = 0
    keyed_seen = False

    def tapped() -> Iterator[AuditEvent]:
        nonlocal count, keyed_seen
        frontier: list[str | None] = []
        for event in audit_log.events(session):
            count += 1
            keyed_seen = keyed_seen or event.key_id is not None
            frontier = frontier_append(frontier, leaf_hash(event.leaf_bytes()))
            for cp in by_size.get(count, ()):
                if not mismatch and (cp.head != event.hash or cp.root != frontier_root(frontier)):
                    mismatch.append(cp)
            yield event

    head = audit_log.recorded_head(session)
    chain = verify_chain(tapped(), key, expected_head=head)
    latest_json = None if latest is None else {"size": latest.size, "at": latest.at, "head": latest.head}
    result = {"checked": chain.checked, "key_id": key.key_id, "checkpoints_checked": len(checkpoints),
              "latest_checkpoint": latest_json}

    def failed(reason: str, seq: int | None = None) -> AuditVerification:
        return AuditVerification(False, first_bad_seq=seq, reason=reason, **result)  # type: ignore[arg-type]

    if not chain.ok:
        return failed(chain.reason, chain.first_bad_seq)
    if latest is not None and chain.checked < latest.size:
        if chain.checked == 0:
            return failed(f"the log is empty, but a checkpoint signed at {latest.at} records {latest.size} "
                          "entries: the log was emptied or the database file replaced")
        return failed(f"the log ends at entry {chain.checked - 1}, but a checkpoint signed at {latest.at} records "
                      f"{latest.size} entries: entries were cut from the end", chain.checked - 1)
    if mismatch:
        cp = mismatch[0]
        return failed(f"entries 0 to {cp.size - 1} differ from the checkpoint signed at {cp.at}: the database "
                      "file was replaced or its log rewritten", cp.size - 1)
    if chain.checked and not audit_log.head_row_present(session):
        return failed("the log's head row is missing (deleted): the end of the log cannot be vouched for")
    if line_problems:
        return failed(line_problems[0])
    if trail.checkpoints is not None and keyed_seen and latest is None:
        return failed(f"no signed checkpoint in {trail.checkpoints.path}, but the log has keyed entries: the "
                      "checkpoint file was removed or replaced")
    notes = list(line_notes)
    if latest is not None and latest.size < chain.checked:
        notes.append(f"{chain.checked - latest.size} newest entries have no checkpoint yet")
    if not keyed_seen and chain.checked:
        notes.append("every entry predates the keyed chain (plain SHA-256 links)")
    return AuditVerification(True, notes=tuple(notes), **result)  # type: ignore[arg-type]


def excerpt_proof(session: Session, case_id: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A case's entries, and what proves they belong to the log: a checkpoint made now, the public key it can
    be checked with, and each entry's inclusion proof against it."""
    checkpoint = audit_log.checkpoint_now(session)
    leaves = [leaf_hash(e.leaf_bytes()) for e in audit_log.events(session, upto=checkpoint.size)]
    levels = tree_levels(leaves)
    entries = [e for e in audit_log.events(session, case_id=case_id, upto=checkpoint.size)]
    key = audit_log.trail_of(session).key
    proof = {
        "checkpoint": checkpoint.to_json(),
        "public_key": base64.b64encode(key.public_key).decode(),
        "key_id": key.key_id,
        "inclusion": {str(e.seq): inclusion_proof(levels, e.seq) for e in entries},
        "about": "Each entry of audit.jsonl is leaf <seq> of the Merkle tree (RFC 9162: SHA-256 of 0x00 and the "
                 "entry's canonical JSON) whose root the checkpoint names; the checkpoint is signed (Ed25519) by "
                 "the installation's audit key. Check with: facesearch audit verify --export <this zip>.",
    }
    return [e.to_json() for e in entries], proof


_DOCUMENT_DOMAIN = b"facesearch signed document v1\n"  # never valid as a checkpoint signature, nor vice versa


def sign_document(session: Session, document: bytes) -> str:
    """The audit key's signature over a document leaving the system (an export's manifest), base64."""
    signature = audit_log.trail_of(session).key.sign(_DOCUMENT_DOMAIN + document)
    return base64.b64encode(signature).decode()


def document_signature_valid(proof: Mapping[str, Any], document: bytes, signature: object) -> bool:
    """Is ``signature`` the signature of the key in ``proof`` over ``document``?"""
    try:
        public_key = base64.b64decode(str(proof["public_key"]), validate=True)
        raw = base64.b64decode(str(signature), validate=True)
    except (KeyError, ValueError, binascii.Error):
        return False
    return verify_signature(public_key, raw, _DOCUMENT_DOMAIN + document)


@dataclass(frozen=True)
class ExcerptVerification:
    ok: bool
    entries: int
    key_id: str | None
    checkpoint_size: int | None
    reason: str = ""
    trusted: bool = False  # the signing key is the one the verifier trusts (their installation's, or named)

    def to_json(self) -> dict[str, Any]:
        return {"ok": self.ok, "entries": self.entries, "key_id": self.key_id,
                "checkpoint_size": self.checkpoint_size, "reason": self.reason, "trusted": self.trusted}


def verify_excerpt(
    entries: Sequence[Mapping[str, Any]], proof: Mapping[str, Any], trusted_key_id: str | None
) -> ExcerptVerification:
    """Check an export's entries against its signed checkpoint; ``trusted_key_id`` is the key the verifier
    expects (``None``: report which key signed, and leave the comparison to the reader)."""
    def bad(reason: str, key_id: str | None = None, size: int | None = None) -> ExcerptVerification:
        return ExcerptVerification(False, len(entries), key_id, size, reason)

    try:
        checkpoint = Checkpoint.from_json(proof["checkpoint"])
        public_key = base64.b64decode(str(proof["public_key"]), validate=True)
        inclusion = proof["inclusion"]
    except (KeyError, TypeError, ValueError, binascii.Error) as exc:
        return bad(f"the audit proof is malformed ({exc})")
    key_id = public_key_id(public_key)
    if checkpoint.key_id != key_id or not checkpoint.signature_valid(public_key):
        return bad("the checkpoint's signature does not verify with the public key it came with", key_id)
    if trusted_key_id is not None and key_id != trusted_key_id:
        return bad(f"signed by audit key {key_id}, but the trusted key is {trusted_key_id}", key_id, checkpoint.size)
    if not isinstance(inclusion, Mapping):
        return bad("the audit proof's 'inclusion' is not an object", key_id, checkpoint.size)
    for entry in entries:
        seq = entry.get("seq")
        path = inclusion.get(str(seq))
        if not isinstance(seq, int) or not isinstance(path, list):
            return bad(f"entry {seq!r} has no inclusion proof", key_id, checkpoint.size)
        leaf = leaf_hash(canonical_json(entry))
        if not verify_inclusion(leaf, seq, checkpoint.size, [str(p) for p in path], checkpoint.root):
            return bad(f"entry {seq} is not in the log the checkpoint signs (changed, added or moved)", key_id,
                       checkpoint.size)
    return ExcerptVerification(True, len(entries), key_id, checkpoint.size, trusted=trusted_key_id is not None)
