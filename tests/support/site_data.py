"""Site-calibration data made from the shared AT&T faces (40 people, 10 photos each), as a deployer's table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

ATT = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "att_faces"


def att_csv(path: Path, *, people: range = range(1, 41), photos: range = range(1, 11), ids: bool = True) -> Path:
    """A table of AT&T photos: the person's id when ``ids``, and a group column splitting the people in halves."""
    rows = ["image,person,half" if ids else "image,half"]
    for k in people:
        for j in photos:
            half = "first" if k <= 20 else "second"
            rows.append(f"{ATT}/s{k}/{j}.pgm,s{k},{half}" if ids else f"{ATT}/s{k}/{j}.pgm,{half}")
    path.write_text("\n".join(rows) + "\n")
    return path


LFW = ATT.parent / "lfw"
LFW_GENDER = ATT.parent / "lfw-gender"


def lfw_gender_halves(*, people_step: int = 1, per_person: int | None = None) -> tuple[Any, Any]:
    """LFW split by person into two halves (alternate people in name order), each image labelled with the
    perceived gender of ``lfw-gender`` (images in both lists or neither carry no group): one half to calibrate
    on, the other to check on. ``people_step``: every n-th person only; ``per_person``: at most so many photos."""
    from facesearch.eval.site_data import SiteData, SiteImage

    labels: dict[str, set[str]] = {}
    for value in ("female", "male"):
        for name in (LFW_GENDER / f"{value}_names.txt").read_text().split():
            labels.setdefault(name, set()).add(value)
    people = sorted(d for d in LFW.iterdir() if d.is_dir())[::people_step]
    halves: tuple[list[Any], list[Any]] = ([], [])
    for k, folder in enumerate(people):
        for photo in sorted(folder.glob("*.jpg"))[:per_person]:
            value = labels.get(photo.name, set())
            groups = {"gender": next(iter(value))} if len(value) == 1 else {}
            halves[k % 2].append(SiteImage(photo, f"id:{folder.name}", groups))
    return tuple(SiteData(f"LFW half {k + 1}", images, True) for k, images in enumerate(halves))  # type: ignore[return-value]
