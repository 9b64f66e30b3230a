"""Uploaded files as the routes take them: read within the installation's size limit, photos decoded once.

A photo's pixels are counted from its header before anything is decoded (``max_upload_pixels``): a small
PNG that claims 10000 x 9999 pixels is refused at the cost of reading its header. A larger JPEG is decoded
at a reduced scale when that fits (``images.FACE_SIDE`` says why faces lose nothing). The decoded photo is
what the services get: nothing decodes an upload a second time.
"""

from fastapi import UploadFile

from facesearch.api.params import read_photo, read_upload
from facesearch.context import Context
from facesearch.images import LoadedImage, load_image


def upload(ctx: Context, file: UploadFile) -> bytes:
    return read_upload(file, ctx.settings.max_upload_bytes)


def photo_of(ctx: Context, data: bytes, name: str) -> LoadedImage:
    """Uploaded bytes decoded (pixel count and type checked from the header first), errors naming ``name``."""
    return load_image(data, source=name, max_pixels=ctx.settings.max_upload_pixels,
                      max_bytes=ctx.settings.max_upload_bytes, reduce=True)


def photo(ctx: Context, file: UploadFile) -> LoadedImage:
    """An uploaded photo decoded, errors naming the upload."""
    return photo_of(ctx, upload(ctx, file), file.filename or "upload")


def checked(ctx: Context, file: UploadFile) -> bytes:
    """An uploaded photo's bytes, its header read and its pixels counted (nothing decoded): for services that
    decode it themselves, once."""
    return read_photo(file, ctx.settings.max_upload_bytes, ctx.settings.max_upload_pixels)
