"""LFW's View 2 pairs file: 10 folds of 300 same-person and 300 different-person pairs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facesearch.errors import FacesearchError


@dataclass(frozen=True)
class Pair:
    a: str  # image path relative to the LFW root: Name/Name_0001.jpg
    b: str
    same: bool
    fold: int


def lfw_image(name: str, number: int) -> str:
    return f"{name}/{name}_{number:04d}.jpg"


def read_pairs(path: Path) -> list[Pair]:
    """Parse a pairs file; raises ``FacesearchError`` naming the line at fault."""
    try:
        lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    except OSError as exc:
        raise FacesearchError(str(path), f"cannot read pairs file ({exc.strerror or exc})") from None
    if not lines:
        raise FacesearchError(str(path), "empty pairs file")
    try:
        folds, per_fold = int(lines[0][0]), int(lines[0][1])
    except (ValueError, IndexError):
        raise FacesearchError(str(path), "line 1: expected '<folds> <pairs per class>', e.g. '10 300'") from None
    pairs: list[Pair] = []
    for k, parts in enumerate(lines[1:]):
        fold = k // (2 * per_fold)
        try:
            if len(parts) == 3:
                pairs.append(Pair(lfw_image(parts[0], int(parts[1])), lfw_image(parts[0], int(parts[2])), True, fold))
            elif len(parts) == 4:
                pairs.append(Pair(lfw_image(parts[0], int(parts[1])), lfw_image(parts[2], int(parts[3])), False, fold))
            else:
                raise ValueError
        except ValueError:
            raise FacesearchError(str(path), f"line {k + 2}: expected 'name i j' or 'name1 i name2 j'") from None
    if len(pairs) != folds * 2 * per_fold:
        raise FacesearchError(str(path), f"expected {folds * 2 * per_fold} pairs ({folds} folds), found {len(pairs)}")
    return pairs
