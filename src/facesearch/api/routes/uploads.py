"""Uploaded files as the routes take them: read within the installation's size limit, photos decoded."""

from typing import Any

from fastapi import UploadFile

from facesearch.api.params import read_upload
from facesearch.context import Context


def upload(ctx: Context, file: UploadFile) -> bytes:
    return read_upload(file, ctx.settings.max_upload_bytes)


def photo(ctx: Context, file: UploadFile) -> Any:
    """An uploaded photo decoded (size, pixel count and type checked), errors naming the upload."""
    return ctx.engine().load(upload(ctx, file), source=file.filename or "upload").pixels
