"""Site-calibration data made from the shared AT&T faces (40 people, 10 photos each), as a deployer's table."""

from __future__ import annotations

from pathlib import Path

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
