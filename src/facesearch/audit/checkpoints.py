"""Signed checkpoints of the audit log, kept outside the database.

A checkpoint says "the log had ``size`` entries, the newest with hash ``head``, and the Merkle root of all of
them was ``root``, at ``at``", signed with the audit key (Ed25519). One is appended after every commit that
wrote to the log, to ``<home>/audit-checkpoints/checkpoints.jsonl`` by default: a folder of its own, so that it
can be a different disk, a write-once mount or a synced folder. An optional command receives each one on its
standard input to ship it elsewhere (a remote syslog, an object store with retention lock, a notary).

Whoever can rewrite the database cannot also rewrite checkpoints they cannot sign, nor those already shipped:
a cut tail, a deleted head, an emptied log or a replaced database file then disagree with the newest
checkpoint, and ``audit verify`` names which (the anchor is AWS CloudTrail's signed digest files and
Certificate Transparency's signed tree heads, RFC 9162).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shlex
import subprocess
import threading
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from facesearch.audit.chain import canonical_json
from facesearch.audit.keys import AuditKey, verify_signature
from facesearch.files import private_dir

log = logging.getLogger(__name__)

CHECKPOINT_FILE = "checkpoints.jsonl"
_DOMAIN = b"facesearch audit checkpoint v1\n"  # a signature over a checkpoint is never valid for anything else


@dataclass(frozen=True)
class Checkpoint:
    """The log's state at one moment, and the audit key's signature over it."""

    size: int  # entries 0 .. size-1
    head: str  # the hash of entry size-1
    root: str  # the Merkle root over the entries (``merkle``)
    at: str  # ISO 8601, UTC
    key_id: str
    signature: str = ""  # base64

    def signed_part(self) -> bytes:
        body = {"v": 1, "size": self.size, "head": self.head, "root": self.root, "at": self.at, "key_id": self.key_id}
        return _DOMAIN + canonical_json(body)

    def signed(self, key: AuditKey) -> Checkpoint:
        return Checkpoint(**{**asdict(self), "signature": base64.b64encode(key.sign(self.signed_part())).decode()})

    def signature_valid(self, public_key: bytes) -> bool:
        try:
            signature = base64.b64decode(self.signature, validate=True)
        except (binascii.Error, ValueError):
            return False
        return verify_signature(public_key, signature, self.signed_part())

    def to_json(self) -> dict[str, object]:
        return {"v": 1, **asdict(self)}

    @classmethod
    def from_json(cls, value: object) -> Checkpoint:
        """Parse one checkpoint; ``ValueError`` naming what is wrong with it."""
        if not isinstance(value, dict):
            raise ValueError("not a JSON object")
        try:
            checkpoint = cls(size=value["size"], head=value["head"], root=value["root"], at=value["at"],
                             key_id=value["key_id"], signature=value["signature"])
        except KeyError as exc:
            raise ValueError(f"no {exc.args[0]!r} field") from None
        if not isinstance(checkpoint.size, int) or isinstance(checkpoint.size, bool) or checkpoint.size < 1:
            raise ValueError("'size' is not a positive integer")
        for name in ("head", "root", "at", "key_id", "signature"):
            if not isinstance(getattr(checkpoint, name), str):
                raise ValueError(f"{name!r} is not a string")
        return checkpoint


def new_checkpoint(key: AuditKey, size: int, head: str, root: str) -> Checkpoint:
    moment = datetime.now(UTC).isoformat(timespec="microseconds")
    return Checkpoint(size=size, head=head, root=root, at=moment, key_id=key.key_id).signed(key)


@dataclass(frozen=True)
class CheckpointLine:
    """One line of the checkpoint file: a checkpoint, or why the line is not one."""

    number: int
    checkpoint: Checkpoint | None
    problem: str = ""


class CheckpointLog:
    """The append-only checkpoint file, and the optional command that ships each checkpoint elsewhere."""

    def __init__(self, folder: Path, command: str | None = None) -> None:
        self.folder = folder
        self.path = folder / CHECKPOINT_FILE
        self._command = shlex.split(command) if command else None
        self._lock = threading.Lock()
        self._pending: Checkpoint | None = None
        self._shipping = False

    def append(self, checkpoint: Checkpoint) -> None:
        """Add one line (O_APPEND: lines from several processes never interleave).

        No fsync: the entries are committed (and synced) before their checkpoint is written, so a crash can only
        lose the newest checkpoints, which then lag the log (reported as a note, never as tampering), and an
        attacker on the machine reads the same page cache a sync would have written. A second fsync per
        audited commit would cost about 40% of the write rate (benchmarks/audit_log.py)."""
        data = (json.dumps(checkpoint.to_json(), sort_keys=True) + "\n").encode()
        with self._lock:
            private_dir(self.folder)
            fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                size = os.fstat(fd).st_size
                if size and os.pread(fd, 1, size - 1) != b"\n":
                    data = b"\n" + data  # a line torn by a crash stays alone on its line
                os.write(fd, data)
            finally:
                os.close(fd)
        if self._command:
            self._ship(checkpoint)

    def lines(self) -> list[CheckpointLine]:
        """Every line, parsed; a missing file is no lines."""
        try:
            text = self.path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return []
        out = []
        for number, raw in enumerate(text.splitlines(), 1):
            if not raw.strip():
                continue
            try:
                out.append(CheckpointLine(number, Checkpoint.from_json(json.loads(raw))))
            except ValueError as exc:  # json.JSONDecodeError is a ValueError
                out.append(CheckpointLine(number, None, f"not a checkpoint ({exc})"))
        return out

    def exists(self) -> bool:
        return self.path.is_file() and self.path.stat().st_size > 0

    def _ship(self, checkpoint: Checkpoint) -> None:
        # One shipment at a time, in the background; if the command is slower than the log, only the newest
        # checkpoint waits (each one covers every entry before it).
        with self._lock:
            self._pending = checkpoint
            if self._shipping:
                return
            self._shipping = True
        threading.Thread(target=self._ship_pending, name="audit-checkpoint-ship", daemon=True).start()

    def _ship_pending(self) -> None:
        assert self._command is not None
        while True:
            with self._lock:
                checkpoint, self._pending = self._pending, None
                if checkpoint is None:
                    self._shipping = False
                    return
            try:
                subprocess.run(self._command, input=json.dumps(checkpoint.to_json()).encode(), timeout=30,
                               check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            except (OSError, subprocess.SubprocessError) as exc:
                log.error("audit checkpoint %d: the shipping command failed (%s)", checkpoint.size, exc)
