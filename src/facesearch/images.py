"""Reading images from every kind of input into RGB uint8 arrays, with one-line errors.

Accepts a path, raw bytes, a PIL image, or a numpy array whose channel order is stated (``"rgb"`` or
``"bgr"``; a 3-channel array is ambiguous, so guessing is refused). EXIF orientation is applied.
Greyscale, palette, alpha, 16-bit and CMYK images are converted. Sizes are checked *before* pixels
are decoded, so a decompression bomb costs nothing; a JPEG far larger than face work needs may be decoded
reduced (``reduce=True``, see ``FACE_SIDE``).
"""

from __future__ import annotations

import io
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from facesearch.errors import ImageError

log = logging.getLogger(__name__)

Channels = Literal["rgb", "bgr"]

DEFAULT_MAX_PIXELS = 100_000_000
# How much of a large JPEG face work needs. The detector looks at an image shrunk to 640 px on its longer
# side, so the smallest face it can find spans about 1/40 of that side (16 px at 640). With 6000 px kept on
# the longer side, every face it can find is still at least 150 px across in the decoded pixels: as large as
# the largest recognizer input (dlib's 150 px chip), so embeddings and quality measures are those of a full
# decode. A JPEG is therefore decoded at 1/2, 1/4 or 1/8 scale (libjpeg's DCT scaling, which never builds the
# full image) only while its longer side stays at or above this, or when that is the only way to bring it
# under the pixel cap; anything smaller, and every other format, is decoded at full resolution.
FACE_SIDE = 6000
DEFAULT_MAX_BYTES = 200 * 1024 * 1024
# The file types a folder scan picks up; anything else in a folder is not an image we were asked about.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".heic", ".heif", ".avif", ".pgm",
     ".ppm", ".pnm", ".jfif"}
)

try:  # HEIC/HEIF photos from phones; optional so that a broken libheif never stops JPEG work.
    from pillow_heif import register_heif_opener

    register_heif_opener()
except Exception:  # pragma: no cover - depends on the platform's wheel
    log.debug("pillow-heif unavailable: HEIC files will be reported as unreadable")

# Pillow's own bomb check warns (or raises at 2x); we check sizes ourselves with a clear message.
Image.MAX_IMAGE_PIXELS = None
ImageFile.LOAD_TRUNCATED_IMAGES = False


@dataclass(frozen=True)
class LoadedImage:
    """An image ready for the detector: ``pixels`` is ``(h, w, 3)`` uint8 RGB, C-contiguous."""

    pixels: NDArray[np.uint8]
    source: str
    scale: float = 1.0  # decoded pixels per pixel of the file: below 1 when a large JPEG was decoded reduced

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)``."""
        return int(self.pixels.shape[0]), int(self.pixels.shape[1])


# A decoded image passes through ``load_image`` untouched: decode once, hand the result down.
ImageInput = str | os.PathLike[str] | bytes | Image.Image | NDArray[np.generic] | LoadedImage


def describe(image: ImageInput) -> str:
    """A short name for an input, used in messages."""
    if isinstance(image, str | os.PathLike):
        return os.fspath(image)
    if isinstance(image, bytes):
        return f"<{len(image)} bytes>"
    if isinstance(image, Image.Image):
        return f"<PIL image {image.width}x{image.height} {image.mode}>"
    if isinstance(image, LoadedImage):
        return image.source
    return f"<array {getattr(image, 'shape', '?')}>"


def load_image(
    image: ImageInput,
    *,
    channels: Channels | None = None,
    source: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_bytes: int = DEFAULT_MAX_BYTES,
    reduce: bool = False,
) -> LoadedImage:
    """Read any supported input into a ``LoadedImage`` (one already loaded is returned as it is).

    Raises ``ImageError`` with a one-line reason for anything that is not a readable image. ``reduce``: a
    JPEG larger than face work needs is decoded at a reduced scale (``FACE_SIDE``), and one over
    ``max_pixels`` is accepted when a reduced decode fits; ``scale`` then says by how much.

    Example:
        >>> load_image("photo.jpg").pixels.shape
        (480, 640, 3)
        >>> load_image(frame_from_opencv, channels="bgr")
    """
    if isinstance(image, LoadedImage):
        return image
    name = source or describe(image)
    if isinstance(image, np.ndarray):
        return LoadedImage(_from_array(image, channels, name, max_pixels), name)
    if isinstance(image, Image.Image):
        _check_pixels(image.width, image.height, name, max_pixels)
        return LoadedImage(_from_pil(image, name), name)
    if isinstance(image, bytes):
        data = image
    elif isinstance(image, str | os.PathLike):
        data = read_file(Path(image), name, max_bytes)
    else:
        raise ImageError(name, f"unsupported input type {type(image).__name__}: give a path, bytes, "
                         "a PIL image or a numpy array")
    pixels, scale = _decode(data, name, max_pixels, reduce)
    return LoadedImage(pixels, name, scale)


def probe(data: bytes, name: str, max_pixels: int) -> tuple[str, int, int]:
    """An image's format, width and height, read from its header alone; ``ImageError`` naming ``name`` when it
    is not an image or has more than ``max_pixels`` pixels. Nothing is decoded."""
    if len(data) == 0:
        raise ImageError(name, "empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            _check_pixels(img.width, img.height, name, max_pixels)
            return str(img.format), img.width, img.height
    except UnidentifiedImageError:
        raise ImageError(name, f"not an image (unrecognised format; starts with {data[:8]!r})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(name, f"cannot read the image header ({str(exc) or type(exc).__name__})") from None


def reduction(width: int, height: int, max_pixels: int) -> int:
    """The JPEG scale denominator (1, 2, 4 or 8) for a ``width`` x ``height`` image: halve while the longer
    side stays at or above ``FACE_SIDE``, then further while the result is over ``max_pixels``."""
    factor = 1
    while factor < 8 and max(width, height) // (factor * 2) >= FACE_SIDE:
        factor *= 2
    while factor < 8 and -(-width // factor) * -(-height // factor) > max_pixels:
        factor *= 2
    return factor


def read_file(path: Path, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """A file's bytes, or ``ImageError`` naming it and why (missing, empty, too large, a folder)."""
    try:
        size = path.stat().st_size
        if path.is_dir():
            raise ImageError(name, "is a directory, not an image file")
        if size == 0:
            raise ImageError(name, "empty file (0 bytes)")
        if size > max_bytes:
            raise ImageError(name, f"file too large ({size / 2**20:.0f} MiB; the limit is {max_bytes / 2**20:.0f} MiB)")
        return path.read_bytes()
    except FileNotFoundError:
        raise ImageError(name, "no such file") from None
    except PermissionError:
        raise ImageError(name, "permission denied") from None
    except IsADirectoryError:
        raise ImageError(name, "is a directory, not an image file") from None
    except OSError as exc:
        raise ImageError(name, f"cannot read file ({exc.strerror or exc})") from None


def _check_pixels(width: int, height: int, name: str, max_pixels: int) -> None:
    if width <= 0 or height <= 0:
        raise ImageError(name, f"image has no pixels ({width}x{height})")
    if width * height > max_pixels:
        raise ImageError(
            name,
            f"image too large: {width}x{height} pixels ({width * height / 1e6:.0f} megapixels; the limit is "
            f"{max_pixels / 1e6:.0f}), refused as a possible decompression bomb",
        )


def _decode(data: bytes, name: str, max_pixels: int, reduce: bool = False) -> tuple[NDArray[np.uint8], float]:
    if len(data) == 0:
        raise ImageError(name, "empty file (0 bytes)")
    try:
        with Image.open(io.BytesIO(data)) as img:
            # Image.open reads only the header: the size is known before any pixel is decoded.
            width, height = img.width, img.height
            if reduce and img.format == "JPEG" and width > 0 and height > 0:
                factor = reduction(width, height, max_pixels)
                if factor > 1:  # the decoder is told its output size: the full image is never built
                    img.draft(img.mode, (width // factor, height // factor))
            if img.size == (width, height) or img.width * img.height > max_pixels:
                _check_pixels(width, height, name, max_pixels)  # refusals name the file's own size
            img.load()
            return _from_pil(img, name), img.width / width
    except ImageError:
        raise
    except UnidentifiedImageError:
        raise ImageError(name, f"not an image (unrecognised format; starts with {data[:8]!r})") from None
    except Image.DecompressionBombError as exc:  # pragma: no cover - MAX_IMAGE_PIXELS is disabled above
        raise ImageError(name, f"image too large ({exc})") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason or isinstance(exc, EOFError):
            reason = f"truncated or damaged image data ({reason})"
        else:
            reason = f"cannot decode image ({reason})"
        raise ImageError(name, reason) from None


def _from_pil(img: Image.Image, name: str) -> NDArray[np.uint8]:
    try:
        img = ImageOps.exif_transpose(img) or img
    except Exception:  # a damaged EXIF block must not cost us the picture
        log.warning("%s: could not apply EXIF orientation; using the image as stored", name)
    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        return _grey_to_rgb(_scale_to_uint8(np.asarray(img)))
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float32)
        return _grey_to_rgb(_scale_to_uint8(arr))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        # Transparent pixels carry arbitrary colours; show them as white, as viewers do.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    if img.mode != "RGB":
        img = img.convert("RGB")
    return np.ascontiguousarray(np.asarray(img, dtype=np.uint8))


def _scale_to_uint8(arr: NDArray[np.generic]) -> NDArray[np.uint8]:
    """16-bit and float greyscale to 8 bits by the value range of the type (not clipping)."""
    if arr.dtype == np.uint8:
        return arr.astype(np.uint8)
    if np.issubdtype(arr.dtype, np.floating):
        a = np.nan_to_num(arr.astype(np.float32))
        hi = float(a.max()) if a.size else 1.0
        scale = 255.0 if hi <= 1.0 else 255.0 / max(hi, 1.0)
        return np.clip(a * scale + 0.5, 0, 255).astype(np.uint8)
    # Integer images: 16-bit data fills 0..65535; PIL's mode "I" also holds 16-bit PNGs.
    hi = int(arr.max()) if arr.size else 0
    shift = 8 if hi > 255 else 0
    return np.clip(arr.astype(np.int64) >> shift, 0, 255).astype(np.uint8)


def _grey_to_rgb(grey: NDArray[np.uint8]) -> NDArray[np.uint8]:
    return np.ascontiguousarray(np.repeat(grey[:, :, None], 3, axis=2))


def _from_array(
    arr: NDArray[np.generic], channels: Channels | None, name: str, max_pixels: int
) -> NDArray[np.uint8]:
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ImageError(name, f"expected an array of shape (h, w), (h, w, 3) or (h, w, 4), got {arr.shape}")
    _check_pixels(int(arr.shape[1]), int(arr.shape[0]), name, max_pixels)
    if arr.dtype != np.uint8:
        if arr.dtype == np.uint16 or np.issubdtype(arr.dtype, np.floating):
            arr = _scale_to_uint8(arr) if arr.ndim == 2 else np.stack(
                [_scale_to_uint8(arr[:, :, c]) for c in range(arr.shape[2])], axis=2
            )
        else:
            raise ImageError(name, f"unsupported array dtype {arr.dtype}: use uint8, uint16 or float")
    if arr.ndim == 2:
        return _grey_to_rgb(arr.astype(np.uint8))
    if channels not in ("rgb", "bgr"):
        raise ImageError(name, "a colour array needs its channel order stated: channels='rgb' or 'bgr'")
    rgb = arr[:, :, :3]
    if channels == "bgr":
        rgb = rgb[:, :, ::-1]
    return np.ascontiguousarray(rgb, dtype=np.uint8)


def list_images(paths: list[Path], *, recursive: bool = True) -> list[Path]:
    """Expand files and folders into a sorted list of image files (folders by suffix; files as given).

    Symlink loops are not followed twice: each real directory is visited once.
    """
    found: list[Path] = []
    seen_dirs: set[str] = set()
    for p in paths:
        if p.is_dir():
            for root, dirs, files in os.walk(p, followlinks=True):
                real = os.path.realpath(root)
                if real in seen_dirs:
                    dirs[:] = []
                    continue
                seen_dirs.add(real)
                if not recursive:
                    dirs[:] = []
                dirs.sort()
                for f in sorted(files):
                    if Path(f).suffix.lower() in IMAGE_SUFFIXES:
                        found.append(Path(root) / f)
        else:
            found.append(p)
    return found


def to_jpeg(pixels: NDArray[np.uint8], max_side: int | None = None, quality: int = 88) -> bytes:
    """JPEG bytes of an RGB image, shrunk so that its longer side is at most ``max_side``."""
    img = Image.fromarray(pixels)
    if max_side is not None and max(img.size) > max_side:
        img.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
