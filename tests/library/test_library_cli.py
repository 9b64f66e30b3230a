"""``facesearch library`` as a user runs it: an index killed with SIGKILL part way resumes where it
stopped (nothing embedded twice, nothing lost), and the commands report in JSON and with exit codes."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from facesearch.store.schema import LibraryFaceRow, LibraryPhotoRow
from owned_keys import add_people, as_person, run_as
from support.audit import open_audited
from support.cli import cli_env, run

PHOTOS = 96  # three batches of 32: the kill lands after the first is written and before the last


def photo_folder(lfw: Path, folder: Path) -> None:
    """``PHOTOS`` LFW photos, of people with four or more, four each."""
    folder.mkdir()
    taken = 0
    for person in sorted(p for p in lfw.iterdir() if p.is_dir()):
        images = sorted(person.glob("*.jpg"))
        if len(images) < 4:
            continue
        for image in images[:4]:
            shutil.copy(image, folder / image.name)
        taken += 4
        if taken == PHOTOS:
            return


def counts(url: str) -> tuple[int, int, int]:
    """Photos, faces, and faces that appear twice (same photo and place)."""
    _, sessions = open_audited(url)
    with sessions() as s:
        photos = s.scalar(select(func.count()).select_from(LibraryPhotoRow)) or 0
        faces = s.scalar(select(func.count()).select_from(LibraryFaceRow)) or 0
        distinct = s.scalar(select(func.count()).select_from(
            select(LibraryFaceRow.photo_id, LibraryFaceRow.face_index).distinct().subquery())) or 0
    return photos, faces, faces - distinct


def lib(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``facesearch ARGS`` signed in as lena, whose role is the photo library's."""
    return run_as(home, *args, person="lena")


def test_a_killed_index_resumes_without_doing_anything_twice(tmp_path: Path, lfw: Path) -> None:
    home, folder = tmp_path / "home", tmp_path / "Pictures"
    assert run(home, "init").returncode == 0
    add_people(home, {"lena": "library"})  # the CLI acts as an account: lena, of the library role
    photo_folder(lfw, folder)
    url = f"sqlite:///{home / 'facesearch.db'}"
    env = {k: v for k, v in cli_env(home).items() if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD",
                                                              "FACESEARCH_API_KEY")}
    process = subprocess.Popen([sys.executable, "-m", "facesearch.cli", "library", "index", str(folder), "--json"],
                               env={**env, **as_person("lena")}, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and process.poll() is None:
            if counts(url)[0] >= 32:
                break
            time.sleep(0.02)
        assert process.poll() is None, "the index finished before it could be killed"
        process.send_signal(signal.SIGKILL)
    finally:
        process.wait(timeout=60)
    photos_before, _, twice = counts(url)
    assert 32 <= photos_before < PHOTOS and twice == 0
    assert photos_before % 32 == 0  # whole batches only: a batch is one transaction

    resumed = lib(home, "library", "index", str(folder), "--json")
    assert resumed.returncode == 0, resumed.stderr
    summary = json.loads(resumed.stdout)
    assert summary["unchanged"] == photos_before and summary["indexed"] == PHOTOS - photos_before
    photos, faces, twice = counts(url)
    assert photos == PHOTOS and twice == 0 and faces >= PHOTOS
    listed = json.loads(lib(home, "library", "people", "--json").stdout)
    assert len(listed["people"]) >= 20  # 24 people, four photos each; a few may split
    assert sum(p["faces"] for p in listed["people"]) >= 80

    (folder / "notes.jpg").write_text("not a photo")
    again = lib(home, "library", "index", str(folder))
    assert again.returncode == 3  # some input failed, the rest was processed
    assert f"{folder / 'notes.jpg'}: not an image" in again.stderr
    assert "97 photos, 0 indexed now, 96 unchanged" in again.stdout
    missing = lib(home, "library", "show", "P99999")
    assert missing.returncode == 2 and "P99999: no such person in the library" in missing.stderr
    bad_ref = lib(home, "library", "name", "Maria", "x")
    assert bad_ref.returncode == 2 and "Maria: not a person id" in bad_ref.stderr
    first = listed["people"][0]["id"]
    sheet = lib(home, "library", "contact-sheet", first, "--out", str(tmp_path / "sheet.jpg"))
    assert sheet.returncode == 0 and (tmp_path / "sheet.jpg").read_bytes()[:2] == b"\xff\xd8"
