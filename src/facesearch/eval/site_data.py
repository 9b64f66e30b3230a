"""The deployer's own faces for a site calibration: which images, whose, and in which groups.

Two forms:

1. A folder of images (searched recursively): every image is taken as a different person, unless
   ``folders_are_people`` is set, when the folder an image is in names its person (``Ann/1.jpg``, ``Ann/2.jpg``).
2. A table (``.csv``, or ``.tsv`` by extension; UTF-8), one row per image, with a header. The column
   ``image`` (or the first column) is the image's path, relative to the table's folder or absolute; an
   optional ``person`` column names whose face it is (rows without one are each a different person); every
   other column is a group attribute (``site``, ``age_band``, ...), an empty cell leaving the image out of it::

       image,person,camera_site,age_band
       crops/0001.jpg,,north,18-30
       crops/0002.jpg,p17,south,30-50

Groups are the deployer's labels, for measuring only: facesearch never infers them from faces. Rows that
cannot be used (a missing file, a wrong number of columns) are reported and left out; the rest is used.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

from facesearch.errors import FacesearchError
from facesearch.images import list_images

PERSON_COLUMN = "person"
IMAGE_COLUMN = "image"


class SiteDataError(FacesearchError):
    """The data cannot be used at all (missing, empty, no image column)."""


@dataclass(frozen=True)
class SiteImage:
    path: Path
    person: str  # the deployer's id, or the image's own path when none was given
    groups: dict[str, str] = field(default_factory=dict)


@dataclass
class SiteData:
    source: str
    images: list[SiteImage]
    ids_given: bool  # whether any image shares a person with another: genuine pairs exist
    problems: list[str] = field(default_factory=list)

    @property
    def attributes(self) -> list[str]:
        return sorted({a for image in self.images for a in image.groups})


def read_site_data(path: Path, *, folders_are_people: bool = False) -> SiteData:
    """The images in ``path`` (a folder or a table), with people and groups; problems reported, not fatal."""
    if not path.exists():
        raise SiteDataError(str(path), "no such file or folder")
    if path.is_dir():
        found = list_images([path])
        if not found:
            raise SiteDataError(str(path), "no images in this folder")
        images = [SiteImage(p, str(p.parent.relative_to(path)) if folders_are_people else str(p)) for p in found]
        return SiteData(str(path), images, folders_are_people and len({i.person for i in images}) < len(images))
    problems: list[str] = []
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SiteDataError(str(path), f"cannot read ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SiteDataError(str(path), f"not UTF-8 (byte {exc.start})") from None
    reader = csv.reader(io.StringIO(text), delimiter="\t" if path.suffix.lower() in (".tsv", ".tab") else ",")
    header = [h.strip() for h in next(reader, [])]
    if not header or not header[0]:
        raise SiteDataError(str(path), "expected a header row: image, then optional person and group columns")
    image_col = header.index(IMAGE_COLUMN) if IMAGE_COLUMN in header else 0
    person_col = header.index(PERSON_COLUMN) if PERSON_COLUMN in header else None
    attributes = {i: h for i, h in enumerate(header) if i not in (image_col, person_col) and h}
    images = []
    for number, row in enumerate(reader, start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            problems.append(f"{path}:{number}: {len(row)} columns, the header has {len(header)}; row left out")
            continue
        name = row[image_col].strip()
        image = Path(name) if Path(name).is_absolute() else path.parent / name
        if not image.is_file():
            problems.append(f"{path}:{number}: {name}: no such file; row left out")
            continue
        person = row[person_col].strip() if person_col is not None else ""
        groups = {a: row[i].strip() for i, a in attributes.items() if row[i].strip()}
        images.append(SiteImage(image, f"id:{person}" if person else f"image:{image}", groups))
    if not images:
        raise SiteDataError(str(path), "no usable rows" + (f" ({problems[0]})" if problems else ""))
    ids_given = len({i.person for i in images}) < len(images)
    return SiteData(str(path), images, ids_given, problems)
