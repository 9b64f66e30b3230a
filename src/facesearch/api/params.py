"""Request parameters shared by the API and the console: ids, uploads, and server-side media paths."""

from pathlib import Path
from typing import Annotated

from fastapi import HTTPException, UploadFile
from fastapi import Path as PathParam

from facesearch.files import resolve_under

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


def media_path(raw: str, root: Path) -> tuple[Path | None, str]:
    """``raw`` resolved, when it names something under the media folder ``root``; else why not. The scan
    checks each file again, by the same rule, as it opens it."""
    path, problem = resolve_under(Path(raw), root)
    if path is None:
        return None, f"{raw if raw.isprintable() else repr(raw)}: {problem}"
    if not path.exists():
        return None, f"{raw}: no such file or folder"
    return path, ""
