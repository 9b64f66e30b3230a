"""Request parameters shared by the API and the console: ids, uploads, and server-side media paths."""

from pathlib import Path
from typing import Annotated

from fastapi import HTTPException, UploadFile
from fastapi import Path as PathParam

from facesearch.files import resolve_under
from facesearch.images import probe

# Database ids: a bigger number is refused (422) instead of overflowing the database driver.
RowId = Annotated[int, PathParam(ge=1, le=2**62)]


def read_upload(file: UploadFile, limit: int) -> bytes:
    """An uploaded file, refused (413) past ``limit`` bytes before it is all read, or (400) when empty."""
    data = file.file.read(limit + 1)
    if len(data) > limit:
        raise HTTPException(413, f"{file.filename}: larger than {limit:,} bytes")
    if not data:
        raise HTTPException(400, f"{file.filename}: empty file")
    return data


def read_photo(file: UploadFile, max_bytes: int, max_pixels: int) -> bytes:
    """An uploaded photo's bytes (as ``read_upload``), its pixels counted from its header: ``ImageError``
    naming it past ``max_pixels``, before anything is decoded."""
    data = read_upload(file, max_bytes)
    probe(data, file.filename or "upload", max_pixels)
    return data


def media_path(raw: str, root: Path) -> tuple[Path | None, str]:
    """``raw`` resolved (a relative path under ``root``), when it names something under the media folder
    ``root``; else why not. The scan
    checks each file again, by the same rule, as it opens it."""
    given = Path(raw)
    # A relative path names something in the media folder, never in the server's working folder.
    path, problem = resolve_under(given if given.is_absolute() else root / given, root)
    if path is None:
        return None, f"{raw if raw.isprintable() else repr(raw)}: {problem}"
    try:
        exists = path.exists()
    except OSError:  # a name longer than 255 bytes (ENAMETOOLONG), a path the file system cannot look up
        return None, f"{raw[:120]}{'…' if len(raw) > 120 else ''}: not a usable path (a name longer than 255 bytes?)"
    if not exists:
        return None, f"{raw}: no such file or folder"
    return path, ""
