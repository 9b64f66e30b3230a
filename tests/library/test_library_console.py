"""The library in the web console and over the API: a person with the ``library`` role sees the people
grid, names, merges, splits, takes a face out and forgets; camera-mode roles see none of it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.engine import Engine
from facesearch.library.ingest import index_library
from facesearch.library.people import list_people, person_faces
from facesearch.store.crypto import Sealer
from owned_keys import key_for
from support.audit import open_audited
from support.context import context_for
from support.library import copy_photos, people_by_identity

PASSWORD = "correct horse battery"


def signed_in(app: object, user: str) -> tuple[TestClient, str, str]:
    client = TestClient(app)  # type: ignore[arg-type]
    page = client.post("/console/login", data={"username": user, "password": PASSWORD})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    return client, token, str(page.url)


def test_people_grid_and_corrections_in_the_console(engine: Engine, lfw: Path, tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    sealer = Sealer(os.urandom(32))
    folder = tmp_path / "Pictures"
    copy_photos(lfw, folder, {"Colin_Powell": 5, "Tony_Blair": 5})
    ctx = context_for(sessions, sealer, engine, tmp_path)
    index_library(ctx, folder, actor="setup")
    found = people_by_identity(sessions)
    powell, blair = found["Colin_Powell"][0], found["Tony_Blair"][0]
    accounts.add_user(sessions, "mia", PASSWORD, "library", actor="setup")
    accounts.add_user(sessions, "olga", PASSWORD, "officer", actor="setup")
    app = create_app(ctx, run_jobs=False)

    mia, token, landed = signed_in(app, "mia")
    assert landed.endswith("/console/library")  # the library role lands on its own page
    grid = mia.get("/console/library").text
    assert f'href="/console/library/{powell}"' in grid and 'href="/console/cases"' not in grid
    sample = re.search(r'src="(/console/library/faces/F\d+\.jpg)"', grid).group(1)  # type: ignore[union-attr]
    image = mia.get(sample)
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"

    person_page = mia.get(f"/console/library/{powell}").text
    opened = re.search(r'href="(/console/library/photos/F(\d+)\.jpg)"', person_page)
    assert opened is not None
    photo = mia.get(opened.group(1))
    assert photo.status_code == 200 and photo.content[:2] == b"\xff\xd8" and b"Exif" not in photo.content[:64]
    api_key = key_for(sessions, "viewer", "library")
    same = TestClient(app).get(f"/v1/library/faces/F{opened.group(2)}/photo.jpg",
                               headers={"Authorization": f"Bearer {api_key}"})
    assert same.status_code == 200 and same.content == photo.content
    _, faces_now = person_faces(sessions, powell)
    gone_photo = Path(next(f.path for f in faces_now if f.id == int(opened.group(2))))
    kept = gone_photo.read_bytes()
    gone_photo.unlink()
    missing = mia.get(opened.group(1))
    assert missing.status_code == 400 and "no longer on disk" in missing.json()["error"]
    gone_photo.write_bytes(kept)
    assert mia.post(f"/console/library/{powell}/name", data={"csrf_token": token, "name": "Colin"}).status_code == 200
    assert "Colin" in mia.get("/console/library").text
    forged = mia.post(f"/console/library/{powell}/name", data={"csrf_token": "x", "name": "Eve"})
    assert forged.status_code == 403

    merged = mia.post(f"/console/library/{powell}/merge", data={"csrf_token": token, "other": blair})
    assert "merged in: 5 faces moved" in merged.text
    split = mia.post(f"/console/library/{powell}/split", data={"csrf_token": token})
    assert "Split into" in split.text
    assert people_by_identity(sessions)["Colin_Powell"][0] == powell

    _, faces = person_faces(sessions, powell)
    taken = mia.post(f"/console/library/{powell}/not/F{faces[0].id}", data={"csrf_token": token})
    assert f"F{faces[0].id} removed" in taken.text
    assert faces[0].id not in {f.id for f in person_faces(sessions, powell)[1]}
    gone = mia.post(f"/console/library/{powell}/forget", data={"csrf_token": token})
    assert "forgotten" in gone.text and powell not in {p.ref for p in list_people(sessions, everyone=True).people}

    # Camera-mode roles see none of the library, in the console or over the API.
    olga, _, _ = signed_in(app, "olga")
    assert olga.get("/console/library").status_code == 403
    assert 'href="/console/library"' not in olga.get("/console").text
    key = key_for(sessions, "album-app", "library")
    api = TestClient(app)
    listed = api.get("/v1/library/people?everyone=true", headers={"Authorization": f"Bearer {key}"}).json()
    assert {p["id"] for p in listed["people"]} == {p.ref for p in list_people(sessions, everyone=True).people}
