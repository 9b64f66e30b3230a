"""Files: written whole or not at all, hashed without reading them into memory, and kept inside the folder a
server may read (``resolve_under``: the API's check of a scan path and the scan's check as it opens a file)."""

from __future__ import annotations

import hashlib
import os
import stat
import tempfile
from pathlib import Path


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def private_dir(path: Path) -> bool:
    """Make ``path`` (and any missing parents) a folder its owner alone can enter (0700, whatever the umask);
    returns whether it was made now. An existing folder is left as it is (``facesearch init`` tightens it)."""
    if path.is_dir():
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        return False  # another process made it first
    os.chmod(path, 0o700)  # mkdir's mode passes through the umask
    return True


def restrict(path: Path, mode: int) -> int | None:
    """Take away from group and others what ``mode`` does not give them, on a file or folder this process's
    user owns; returns the old mode when it changed, ``None`` when nothing changed (or it is someone else's)."""
    st = path.stat()
    old = stat.S_IMODE(st.st_mode)
    if st.st_uid != os.getuid() or not old & 0o077 & ~mode:
        return None
    os.chmod(path, (old & ~0o077) | (mode & 0o077))
    return old


def atomic_write(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write via a temporary file and rename, so that a killed process never leaves half a file.

    The file gets ``mode`` whatever the umask: by default its owner alone may read it (reports, exports,
    the sealed index); files meant for others (model files, the console's script) pass 0o644."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def resolve_under(path: Path, media_root: Path) -> tuple[Path | None, str]:
    """``path`` with its links followed, when that lies under ``media_root`` (resolved); else why not."""
    try:
        real = path.resolve()
    except (OSError, RuntimeError, ValueError):  # a loop of links, a NUL byte
        return None, "not a usable path"
    if not real.is_relative_to(media_root):
        return None, f"outside the media folder {media_root} (FACESEARCH_MEDIA_ROOT)"
    return real, ""
