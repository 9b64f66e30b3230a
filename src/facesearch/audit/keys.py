"""The audit key: one Ed25519 key, kept outside the database and apart from the data key.

From its 32-byte seed come two things: a MAC key (HKDF-SHA256) that keys every entry's link in the chain,
so that nobody without the seed can write an entry that verifies or recompute the chain after an edit; and
the Ed25519 signature on checkpoints, which anyone holding only the *public* key (an auditor, a court) can
check without being able to forge one.

The seed comes from ``FACESEARCH_AUDIT_KEY`` (URL-safe base64) or from ``<home>/audit-key`` (mode 0600),
written once by ``facesearch init``. Losing it does not lose data: the log stays readable and its links
stay checkable against the checkpoints' public key, but nothing new can be appended to the same chain.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import stat
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from facesearch.errors import FacesearchError
from facesearch.files import private_dir

AUDIT_KEY_ENV = "FACESEARCH_AUDIT_KEY"
AUDIT_KEY_FILE = "audit-key"
_SEED_BYTES = 32


class AuditKeyError(FacesearchError):
    """The audit key is missing, malformed or unsafe."""


def public_key_id(public_key: bytes) -> str:
    """A short, stable name for a public key: the first 16 hex digits of its SHA-256 (what people compare)."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def verify_signature(public_key: bytes, signature: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


@dataclass(frozen=True)
class AuditKey:
    """The seed, and what is derived from it."""

    seed: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if len(self.seed) != _SEED_BYTES:
            raise AuditKeyError("audit key", f"expected {_SEED_BYTES} bytes, got {len(self.seed)}")

    @classmethod
    def generate(cls) -> AuditKey:
        return cls(secrets.token_bytes(_SEED_BYTES))

    @property
    def _private(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.seed)

    @cached_property
    def public_key(self) -> bytes:
        return self._private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)

    @cached_property
    def key_id(self) -> str:
        return public_key_id(self.public_key)

    @cached_property
    def mac_key(self) -> bytes:
        # A separate key for the MAC, so that the signing seed is never used directly as an HMAC key.
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"facesearch audit chain v1").derive(
            self.seed)

    def mac(self, message: bytes) -> str:
        return hmac.new(self.mac_key, message, hashlib.sha256).hexdigest()

    def sign(self, message: bytes) -> bytes:
        return self._private.sign(message)

    def encoded(self) -> str:
        return base64.urlsafe_b64encode(self.seed).decode()


def decode_audit_key(text: str, source: str) -> AuditKey:
    try:
        seed = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        raise AuditKeyError(source, "not URL-safe base64") from None
    if len(seed) != _SEED_BYTES:
        raise AuditKeyError(source, f"expected a {_SEED_BYTES}-byte audit key, got {len(seed)} bytes")
    return AuditKey(seed)


def audit_key_path(home: Path) -> Path:
    return home / AUDIT_KEY_FILE


def audit_key_present(home: Path, environ: dict[str, str] | None = None) -> bool:
    env = os.environ if environ is None else environ
    return bool(env.get(AUDIT_KEY_ENV)) or audit_key_path(home).exists()


def create_audit_key_file(home: Path) -> Path:
    """Write a new audit key readable by its owner only; never overwrites one."""
    path = audit_key_path(home)
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise AuditKeyError(str(path), "an audit key already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w") as f:
        os.fchmod(f.fileno(), 0o600)
        f.write(AuditKey.generate().encoded() + "\n")
    return path


def load_audit_key(home: Path, environ: dict[str, str] | None = None) -> AuditKey:
    """This installation's audit key: ``FACESEARCH_AUDIT_KEY`` if set, else ``<home>/audit-key``."""
    env = os.environ if environ is None else environ
    if env.get(AUDIT_KEY_ENV):
        return decode_audit_key(env[AUDIT_KEY_ENV], AUDIT_KEY_ENV)
    path = audit_key_path(home)
    if not path.is_file():
        raise AuditKeyError(str(path), f"no audit key: run 'facesearch init' or set {AUDIT_KEY_ENV}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise AuditKeyError(str(path), f"audit key file is readable by others (mode {mode:o}); chmod 600 it")
    return decode_audit_key(path.read_text(), str(path))
