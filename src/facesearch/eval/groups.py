"""Group labels for demographic differentials: which images belong to which group.

Two formats, both plain text:

1. A table (``.csv`` or ``.tsv``, chosen by the extension; UTF-8): a header row whose first column
   names the image and whose other columns are attributes, then one row per image::

       image,sex,age_band
       Aaron_Eckhart/Aaron_Eckhart_0001.jpg,male,40-60
       Claudia_Coslovich_0001.jpg,female,20-40

2. A folder of lists, one per value of a single attribute named after the folder: ``<value>.txt`` or
   ``<value>_names.txt``, one image per line. ``../shared/data/lfw-gender/`` (``female_names.txt``,
   ``male_names.txt``) is one such folder; its attribute is ``lfw-gender``.

An image is named by its path under the data folder or by its file name alone (LFW file names are
unique). An empty value leaves the image out of that attribute. Images the data set lacks, images
given two values of one attribute (left out of it), and lines that are not UTF-8 (read as Latin-1
instead) are reported as problems; the rest is used.

The labels describe the data set, for measuring how error rates differ between groups; facesearch never
infers them from faces.
"""

from __future__ import annotations

import csv
import io
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from facesearch.errors import FacesearchError


class GroupFileError(FacesearchError):
    """A group-label file cannot be used at all (missing, empty, no image column)."""


@dataclass
class GroupLabels:
    """``labels[attribute][image] = value`` for images of the data set, and what could not be used."""

    source: str
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def counts(self) -> dict[str, dict[str, int]]:
        return {attr: dict(sorted(Counter(values.values()).items())) for attr, values in self.labels.items()}

    def to_json(self) -> dict[str, object]:
        return {"source": self.source, "images": self.counts(), "problems": self.problems}


def _decode(data: bytes, name: str, problems: list[str]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        problems.append(f"{name}: not UTF-8 (byte {exc.start}); read as Latin-1")
        return data.decode("latin-1")


def _rows(path: Path, problems: list[str]) -> list[tuple[str, dict[str, str]]]:
    """(image, {attribute: value}) for every row of a table or every line of a folder of lists."""
    if path.is_dir():
        lists = sorted(p for p in path.iterdir() if p.suffix == ".txt")
        if not lists:
            raise GroupFileError(str(path), "a folder of group lists needs <value>.txt files")
        attribute = path.name
        out = []
        for file in lists:
            value = file.stem.removesuffix("_names")
            for line in _decode(file.read_bytes(), str(file), problems).splitlines():
                if line.strip():
                    out.append((line.strip(), {attribute: value}))
        return out
    try:
        text = _decode(path.read_bytes(), str(path), problems)
    except OSError as exc:
        raise GroupFileError(str(path), f"cannot read ({exc.strerror})") from exc
    delimiter = "\t" if path.suffix.lower() in (".tsv", ".tab") else ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter)
    header = next(reader, None)
    if not header or len(header) < 2:
        raise GroupFileError(str(path), "expected a header row: image, then one column per attribute")
    attributes = [h.strip() for h in header[1:]]
    out = []
    for number, row in enumerate(reader, start=2):
        if not row or not row[0].strip():
            continue
        if len(row) != len(header):
            problems.append(f"{path}:{number}: {len(row)} columns, the header has {len(header)}; row skipped")
            continue
        out.append((row[0].strip(), {a: v.strip() for a, v in zip(attributes, row[1:], strict=True) if v.strip()}))
    return out


def read_groups(path: Path, images: list[str]) -> GroupLabels:
    """The labels in ``path`` for ``images`` (paths under the data folder), problems reported, not fatal."""
    if not path.exists():
        raise GroupFileError(str(path), "no such file or folder")
    result = GroupLabels(str(path))
    rows = _rows(path, result.problems)
    if not rows:
        raise GroupFileError(str(path), "no labelled images")
    by_name: dict[str, list[str]] = defaultdict(list)
    for image in images:
        by_name[image].append(image)
        by_name[Path(image).name].append(image)
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    missing = []
    for name, values in rows:
        matches = by_name.get(name) or by_name.get(Path(name).name) or []
        if not matches:
            missing.append(name)
            continue
        for attribute, value in values.items():
            seen[attribute][matches[0]].add(value)
    if missing:
        result.problems.append(f"{len(missing)} labelled images are not in the data set (e.g. "
                               f"{', '.join(missing[:3])}); left out")
    for attribute, per_image in seen.items():
        clash = sorted(i for i, v in per_image.items() if len(v) > 1)
        if clash:
            result.problems.append(f"{len(clash)} images have two values of {attribute!r} (e.g. "
                                   f"{', '.join(clash[:3])}); left out of {attribute!r}")
        result.labels[attribute] = {i: next(iter(v)) for i, v in per_image.items() if len(v) == 1}
    return result
