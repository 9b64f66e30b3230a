"""Finding a library's photos on disk, and telling copies apart from new photos.

A walk follows symbolic links (people link albums into their Pictures folder) but enters each real
directory once, so a link that points back up the tree is reported as a loop instead of walked forever.
Copies: a file with the same bytes as an indexed one is an exact copy. A re-encoded or resized copy is
found in two steps: its 64-bit difference hash within ``NEAR_COPY_BITS`` of an indexed photo's makes it
a candidate, and the two pictures, shrunk to 32x32 grey and normalised, must then correlate at
``SAME_PICTURE`` or more. The hash alone is not enough: on LFW, whose photos are all centred faces,
photos of different people fall within 3 bits of each other (they correlate at 0.57-0.79, while a
JPEG re-encoded at quality 30, a 70-pixel thumbnail or a blurred copy correlate at 0.99 or more).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image, UnidentifiedImageError

PHOTO_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
NEAR_COPY_BITS = 6  # of 64: candidates only; a re-encoded JPEG differs by 0-2 bits
SAME_PICTURE = 0.95  # correlation of the 32x32 grey thumbnails that confirms a copy


@dataclass(frozen=True)
class DiskPhoto:
    """A photo file found by the walk: its resolved-free path (as walked), size and modification time."""

    path: str
    size: int
    mtime_ns: int


@dataclass
class WalkResult:
    """Photos under a root, and what could not be walked (symlink loops, unreadable directories)."""

    photos: list[DiskPhoto] = field(default_factory=list)
    problems: dict[str, str] = field(default_factory=dict)


def walk_photos(root: Path) -> WalkResult:
    """Every photo file under ``root``, in sorted order, each directory entered once."""
    result = WalkResult()
    seen: set[tuple[int, int]] = set()

    def visit(directory: Path) -> None:
        try:
            info = directory.stat()
        except OSError as exc:
            result.problems[str(directory)] = f"cannot read the directory ({exc.strerror})"
            return
        if (info.st_dev, info.st_ino) in seen:
            result.problems[str(directory)] = "symbolic link loop (this directory is already being indexed)"
            return
        seen.add((info.st_dev, info.st_ino))
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError as exc:
            result.problems[str(directory)] = f"cannot list the directory ({exc.strerror})"
            return
        for entry in entries:
            path = Path(entry.path)
            try:
                if entry.is_dir(follow_symlinks=True):
                    visit(path)
                elif entry.is_file(follow_symlinks=True) and path.suffix.lower() in PHOTO_SUFFIXES:
                    stat = entry.stat(follow_symlinks=True)
                    result.photos.append(DiskPhoto(str(path), stat.st_size, stat.st_mtime_ns))
                elif entry.is_symlink() and not path.exists():
                    result.problems[str(path)] = "broken symbolic link"
            except OSError as exc:  # a link loop that points at itself, permissions
                result.problems[str(path)] = f"cannot read ({exc.strerror or exc})"

    visit(root)
    return result


@dataclass(frozen=True)
class Fingerprint:
    """What tells copies apart: the bytes' SHA-256 and the picture's difference hash (``None`` when the
    file cannot be decoded: then the engine reports why)."""

    sha256: str
    dhash: int | None


def fingerprint(path: str) -> Fingerprint:
    data = Path(path).read_bytes()
    return Fingerprint(hashlib.sha256(data).hexdigest(), difference_hash(path))


def difference_hash(path: str) -> int | None:
    """64-bit dHash of the picture: whether each of 8x8 cells is brighter than its right neighbour.

    JPEGs are decoded at reduced size (``draft``), so this costs a fraction of a full decode.
    """
    try:
        with Image.open(path) as image:
            image.draft("L", (64, 64))
            grey = image.convert("L").resize((9, 8), Image.Resampling.BILINEAR)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    cells = np.asarray(grey, np.int16)
    bits = (cells[:, 1:] > cells[:, :-1]).ravel()
    return int(sum(1 << i for i, b in enumerate(bits) if b))


def near_copies(dhash: int, known: NDArray[np.uint64]) -> list[int]:
    """Indices of known hashes within ``NEAR_COPY_BITS`` of ``dhash``, closest first: candidates only."""
    if len(known) == 0:
        return []
    diff = np.bitwise_xor(known, np.uint64(dhash))
    bits = np.unpackbits(diff.view(np.uint8).reshape(-1, 8), axis=1).sum(axis=1)
    close = np.flatnonzero(bits <= NEAR_COPY_BITS)
    return close[np.argsort(bits[close], kind="stable")].tolist()


def _thumbnail(path: str) -> NDArray[np.float64] | None:
    try:
        with Image.open(path) as image:
            image.draft("L", (64, 64))
            grey = np.asarray(image.convert("L").resize((32, 32), Image.Resampling.BILINEAR), np.float64)
    except (OSError, UnidentifiedImageError, ValueError, Image.DecompressionBombError):
        return None
    return (grey - grey.mean()) / (grey.std() + 1e-6)


def same_picture(a: str, b: str) -> bool:
    """Whether two files show the same picture (re-encoded, resized or lightly edited)."""
    ta, tb = _thumbnail(a), _thumbnail(b)
    return ta is not None and tb is not None and float((ta * tb).mean()) >= SAME_PICTURE
