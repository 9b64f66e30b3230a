"""Encryption at rest: round trips, wrong keys, moved or damaged values, key files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import numpy as np
import pytest

from facesearch.store.crypto import (
    EncryptionKeyError,
    KeyMismatchError,
    Sealer,
    create_key_file,
    encode_key,
    load_key,
)


def test_vectors_round_trip_and_are_not_stored_in_clear() -> None:
    sealer = Sealer(os.urandom(32))
    v = np.random.default_rng(0).normal(size=320).astype(np.float32)
    sealed = sealer.seal_vector(v, "template:17")
    assert v.tobytes() not in sealed
    np.testing.assert_array_equal(sealer.open_vector(sealed, "template:17"), v)
    assert sealer.seal_vector(v, "template:17") != sealed  # a fresh nonce every time


def test_wrong_key_is_a_clear_error_not_garbage() -> None:
    sealed = Sealer(os.urandom(32)).seal(b"secret", "template:1")
    other = Sealer(os.urandom(32))
    with pytest.raises(KeyMismatchError, match="wrong key"):
        other.open(sealed, "template:1")


def test_moved_or_changed_values_fail_to_open() -> None:
    sealer = Sealer(os.urandom(32))
    sealed = sealer.seal(b"secret", "template:1")
    with pytest.raises(KeyMismatchError, match="changed or moved"):
        sealer.open(sealed, "template:2")
    damaged = bytearray(sealed)
    damaged[-1] ^= 1
    with pytest.raises(KeyMismatchError, match="changed or moved"):
        sealer.open(bytes(damaged), "template:1")
    with pytest.raises(KeyMismatchError, match="damaged or truncated"):
        sealer.open(sealed[:10], "template:1")


def test_key_file_is_private_and_never_overwritten(tmp_path: Path) -> None:
    path = create_key_file(tmp_path / "home" / "key")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    first = load_key(tmp_path / "home", environ={})
    with pytest.raises(EncryptionKeyError, match="refusing to overwrite"):
        create_key_file(path)
    assert load_key(tmp_path / "home", environ={}).key == first.key
    path.chmod(0o644)
    with pytest.raises(EncryptionKeyError, match="readable by others"):
        load_key(tmp_path / "home", environ={})


def test_key_from_the_environment(tmp_path: Path) -> None:
    key = os.urandom(32)
    assert load_key(tmp_path, environ={"FACESEARCH_KEY": encode_key(key)}).key == key
    with pytest.raises(EncryptionKeyError, match="FACESEARCH_KEY: expected a 32-byte key"):
        load_key(tmp_path, environ={"FACESEARCH_KEY": encode_key(b"short")})
    with pytest.raises(EncryptionKeyError, match="facesearch init"):
        load_key(tmp_path, environ={})
