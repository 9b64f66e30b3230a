"""Encryption at rest for templates and evidence: AES-256-GCM with a key the user holds.

The key comes from ``FACESEARCH_KEY`` (32 bytes, URL-safe base64) or from ``<home>/key``, a file that
``create_key_file`` writes with mode 0600. Every sealed value carries a key id (the first 8 bytes of
the key's SHA-256) and a fresh 96-bit nonce, and binds its *purpose* (for example the template's
row id) as associated data, so a ciphertext moved to another row fails to open. Opening with the
wrong key raises ``KeyMismatchError`` naming both key ids: never garbage embeddings.
"""

from __future__ import annotations

import base64
import hashlib
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from numpy.typing import NDArray

from facesearch.errors import FacesearchError
from facesearch.files import private_dir

KEY_BYTES = 32
NONCE_BYTES = 12
KEY_ID_BYTES = 8
_MAGIC = b"FSv1"
KEY_ENV = "FACESEARCH_KEY"


class EncryptionKeyError(FacesearchError):
    """The key is missing, malformed or unsafe."""


class KeyMismatchError(FacesearchError):
    """A value was sealed with another key, or was changed after sealing."""


class WrongKeyError(KeyMismatchError):
    """A value was sealed with another key: the installation runs with the wrong key (nothing is damaged)."""


def _key_id(key: bytes) -> bytes:
    return hashlib.sha256(key).digest()[:KEY_ID_BYTES]


@dataclass(frozen=True)
class Sealer:
    """Seals and opens byte strings and float32 vectors with one AES-256-GCM key."""

    key: bytes

    def __post_init__(self) -> None:
        if len(self.key) != KEY_BYTES:
            raise EncryptionKeyError("key", f"expected {KEY_BYTES} bytes, got {len(self.key)}")

    @property
    def key_id(self) -> str:
        return _key_id(self.key).hex()

    def seal(self, plaintext: bytes, purpose: str) -> bytes:
        nonce = secrets.token_bytes(NONCE_BYTES)
        body = AESGCM(self.key).encrypt(nonce, plaintext, purpose.encode())
        return _MAGIC + _key_id(self.key) + nonce + body

    def open(self, sealed: bytes, purpose: str) -> bytes:
        head = len(_MAGIC) + KEY_ID_BYTES + NONCE_BYTES
        if len(sealed) < head + 16 or not sealed.startswith(_MAGIC):
            raise KeyMismatchError(purpose, "not a value sealed by facesearch (damaged or truncated)")
        key_id = sealed[len(_MAGIC) : len(_MAGIC) + KEY_ID_BYTES]
        if key_id != _key_id(self.key):
            raise WrongKeyError(
                purpose, f"sealed with key {key_id.hex()}, but the key in use is {self.key_id}: wrong key"
            )
        nonce = sealed[len(_MAGIC) + KEY_ID_BYTES : head]
        try:
            return AESGCM(self.key).decrypt(nonce, sealed[head:], purpose.encode())
        except InvalidTag:
            raise KeyMismatchError(purpose, "authentication failed: the value was changed or moved") from None

    def seal_vector(self, vector: NDArray[np.float32], purpose: str) -> bytes:
        return self.seal(np.ascontiguousarray(vector, dtype="<f4").tobytes(), purpose)

    def open_vector(self, sealed: bytes, purpose: str) -> NDArray[np.float32]:
        return np.frombuffer(self.open(sealed, purpose), dtype="<f4").astype(np.float32)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).decode()


def decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode())
    except (ValueError, TypeError):
        raise EncryptionKeyError(source, "not URL-safe base64") from None
    if len(key) != KEY_BYTES:
        raise EncryptionKeyError(source, f"expected a {KEY_BYTES}-byte key, got {len(key)} bytes")
    return key


def create_key_file(path: Path) -> Path:
    """Write a new random key readable by its owner only (in a folder made 0700 when it is made here); never
    overwrites an existing key."""
    private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise EncryptionKeyError(str(path), "a key already exists; refusing to overwrite it") from None
    with os.fdopen(fd, "w") as f:
        f.write(encode_key(secrets.token_bytes(KEY_BYTES)) + "\n")
    return path


def load_key(home: Path, environ: dict[str, str] | None = None) -> Sealer:
    """The sealer for this installation: ``FACESEARCH_KEY`` if set, else ``<home>/key``."""
    env = os.environ if environ is None else environ
    if env.get(KEY_ENV):
        return Sealer(decode_key(env[KEY_ENV], KEY_ENV))
    path = home / "key"
    if not path.is_file():
        raise EncryptionKeyError(str(path), f"no key: run 'facesearch init' or set {KEY_ENV}")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise EncryptionKeyError(str(path), f"key file is readable by others (mode {mode:o}); chmod 600 it")
    return Sealer(decode_key(path.read_text(), str(path)))
