"""Photo-library test helpers: folders of LFW photos, and who each grouped person turned out to be."""

from __future__ import annotations

import shutil
from pathlib import Path

from facesearch.library.people import list_people, person_faces


def copy_photos(lfw: Path, folder: Path, groups: dict[str, int], first: int = 1) -> list[Path]:
    """LFW photos copied under ``folder/<person>/`` (LFW's own file names say who is who)."""
    out = []
    for person, count in groups.items():
        (folder / person).mkdir(parents=True, exist_ok=True)
        for i in range(first, first + count):
            source = lfw / person / f"{person}_{i:04d}.jpg"
            out.append(Path(shutil.copy(source, folder / person / source.name)))
    return out


def who(path: str) -> str:
    return Path(path).name.rsplit("_", 1)[0]


def people_by_identity(sessions: object) -> dict[str, tuple[str, int]]:
    """For each LFW identity, the person holding most of its photos and how many."""
    found: dict[str, tuple[str, int]] = {}
    for person in list_people(sessions, everyone=True).people:  # type: ignore[arg-type]
        _, faces = person_faces(sessions, person.ref)  # type: ignore[arg-type]
        names = [who(f.path) for f in faces]
        top = max(set(names), key=names.count)
        if names.count(top) > found.get(top, ("", 0))[1]:
            found[top] = (person.ref, names.count(top))
        assert len(set(names)) == 1, f"{person.ref} mixes {sorted(set(names))}"  # no wrong merges
    return found
