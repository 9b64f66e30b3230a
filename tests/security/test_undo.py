"""Undo, audited: a person (or one enrolment photo) taken off a case's watchlist loses their templates at once,
in the database and in the sealed index on disk, only by an officer assigned to the case; cameras disabled
(searches refused, naming the camera) and removed (refused while in use, with the reason)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from casework import UNTIL, World, make_world
from sqlalchemy import func, select

from facesearch.audit.actions import AuditAction
from facesearch.cases.service import CameraDisabled, activate_case, create_case, require_searchable
from facesearch.gallery.service import load_index, photo_purpose, template_purpose
from facesearch.store.schema import (
    AuditEventRow,
    CameraRow,
    CaseTargetRow,
    EnrolmentPhotoRow,
    IdentityRow,
    SightingRow,
    TemplateRow,
)
from facesearch.video.cameras import add_camera

PROFILE, DIM = "test-profile", 8


@pytest.fixture()
def world(tmp_path: Path) -> World:
    return make_world(f"sqlite:///{tmp_path / 'undo.db'}", tmp_path)


def _enrol(world: World, case_ids: list[int], photos: int = 2) -> int:
    """A person with ``photos`` templates (and enrolment photos), targeted by ``case_ids``: as enrolment stores them."""
    now = datetime.now(UTC)
    rng = np.random.default_rng(len(case_ids) * 10 + photos)
    with world.sessions.begin() as s:
        identity = IdentityRow(name="Wrong Name", reference={}, created_at=now, created_by="user:olga")
        s.add(identity)
        s.flush()
        for case_id in case_ids:
            s.add(CaseTargetRow(case_id=case_id, identity_id=identity.id))
        for i in range(photos):
            digest = f"{identity.id:032d}{i:032d}"
            vector = rng.standard_normal(DIM).astype(np.float32)
            row = TemplateRow(identity_id=identity.id, profile=PROFILE, dim=DIM, source_sha256=digest, quality={},
                              created_at=now, sealed=world.ctx.sealer.seal_vector(
                                  vector / np.linalg.norm(vector), template_purpose(identity.id, digest, PROFILE)))
            s.add(row)
            s.flush()
            s.add(EnrolmentPhotoRow(template_id=row.id, sealed=world.ctx.sealer.seal(b"jpeg", photo_purpose(row.id))))
        return identity.id


def _searched(world: World, identity_id: int) -> set[int]:
    """The identities a search of the watchlist would find: through the sealed index cache, as identify loads it."""
    index = load_index(world.sessions, world.ctx.sealer, PROFILE, DIM, identity_ids={identity_id},
                       cache=world.ctx.index_cache())
    return {int(i) for i in index.identity_ids.tolist()}


def _templates(world: World, identity_id: int) -> tuple[int, int]:
    with world.sessions() as s:
        mine = TemplateRow.identity_id == identity_id
        templates = s.scalar(select(func.count()).select_from(TemplateRow).where(mine))
        photos = s.scalar(select(func.count()).select_from(EnrolmentPhotoRow).join(
            TemplateRow, TemplateRow.id == EnrolmentPhotoRow.template_id).where(TemplateRow.identity_id == identity_id))
        return int(templates or 0), int(photos or 0)


def _entries(world: World, action: AuditAction) -> list[AuditEventRow]:
    with world.sessions() as s:
        return list(s.scalars(select(AuditEventRow).where(AuditEventRow.action == action)))


def test_removing_a_person_deletes_their_templates_at_once_and_is_audited(world: World) -> None:
    person = _enrol(world, [1])
    assert _searched(world, person) == {person}
    cached = world.ctx.index_cache().path(PROFILE)
    assert cached.is_file()
    answer = world.client.delete(f"/v1/cases/C1/people/{person}", headers=world.key("olga"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"case": "C1", "identity_id": person, "photo": None, "templates_deleted": 2,
                             "photos_deleted": 2, "kept_by_other_cases": 0}
    assert _templates(world, person) == (0, 0)
    assert not cached.exists()  # the sealed index kept no copy of the vectors
    assert _searched(world, person) == set()
    with world.sessions() as s:
        assert s.get(CaseTargetRow, (1, person)) is None
    [entry] = _entries(world, AuditAction.IDENTITY_REMOVE)
    assert (entry.actor, entry.case_id, entry.subject) == ("key:olga-key", "C1", f"identity:{person}")
    assert entry.details["templates_deleted"] == 2 and "Wrong" not in str(entry.details)
    again = world.client.delete(f"/v1/cases/C1/people/{person}", headers=world.key("olga"))
    assert again.status_code == 404 and "not on C1's watchlist" in again.json()["error"]


def test_a_person_another_live_case_searches_keeps_the_templates_it_needs(world: World) -> None:
    other = create_case(world.sessions, title="U", purpose="victim", actor="user:olga", valid_until=UNTIL,
                        legal_basis="x", authorisation_ref="y", authorised_by="z")
    person = _enrol(world, [1, int(other.ref[1:])])
    answer = world.client.delete(f"/v1/cases/C1/people/{person}", headers=world.key("olga"))
    assert answer.status_code == 200 and answer.json()["kept_by_other_cases"] == 1
    assert _templates(world, person) == (2, 2)
    [entry] = _entries(world, AuditAction.IDENTITY_REMOVE)
    assert entry.details["kept_for_cases"] == [other.ref]


def test_removing_one_photo_deletes_its_templates_only(world: World) -> None:
    person = _enrol(world, [1], photos=3)
    _searched(world, person)
    bad = world.client.delete(f"/v1/cases/C1/people/{person}/photos/4", headers=world.key("olga"))
    assert bad.status_code == 404 and "has 3 enrolment photo(s)" in bad.json()["error"]
    answer = world.client.delete(f"/v1/cases/C1/people/{person}/photos/2", headers=world.key("olga"))
    assert answer.status_code == 200, answer.text
    assert answer.json()["templates_deleted"] == 1 and answer.json()["photos_deleted"] == 1
    assert _templates(world, person) == (2, 2)
    with world.sessions() as s:
        left = set(s.scalars(select(TemplateRow.source_sha256).where(TemplateRow.identity_id == person)))
    assert left == {f"{person:032d}{0:032d}", f"{person:032d}{2:032d}"}
    # The same request again, naming the photo it meant: photo 2 is now another photo, so it is refused.
    again = world.client.delete(f"/v1/cases/C1/people/{person}/photos/2?sha256={person:032d}{1:032d}",
                                headers=world.key("olga"))
    assert again.status_code == 409 and "is no longer the photo you saw" in again.json()["error"]
    assert _templates(world, person) == (2, 2)
    assert not world.ctx.index_cache().path(PROFILE).exists()
    [entry] = _entries(world, AuditAction.IDENTITY_PHOTO_REMOVE)
    assert entry.details["photo"] == 2 and entry.details["left"] == 2


def test_removal_is_refused_to_everyone_but_officers_assigned_to_the_case(world: World) -> None:
    person = _enrol(world, [1])
    for path in (f"/v1/cases/C1/people/{person}", f"/v1/cases/C1/people/{person}/photos/1"):
        assert world.client.delete(path).status_code == 401
        assert world.client.delete(path, headers={"Authorization": "Bearer nope"}).status_code == 401
        for name in ("adam", "rita", "ava", "lib"):  # roles that may not enrol
            refused = world.client.delete(path, headers=world.key(name))
            assert refused.status_code == 403 and "may not identities.enrol" in refused.json()["error"]
        otto = world.client.delete(path, headers=world.key("otto"))  # an officer, not assigned to C1
        assert otto.status_code == 403 and "not assigned" in otto.json()["error"]
    browser, _ = world.person("olga")
    assert browser.delete(f"/v1/cases/C1/people/{person}").status_code == 403  # a session needs its CSRF token
    assert _templates(world, person) == (2, 2)
    assert _entries(world, AuditAction.IDENTITY_REMOVE) == []


def test_a_photo_of_a_person_an_unassigned_case_also_searches_is_not_removed(world: World) -> None:
    theirs = create_case(world.sessions, title="V", purpose="victim", actor="user:otto", valid_until=UNTIL,
                         legal_basis="x", authorisation_ref="y", authorised_by="z")
    person = _enrol(world, [1, int(theirs.ref[1:])])
    answer = world.client.delete(f"/v1/cases/C1/people/{person}/photos/1", headers=world.key("olga"))
    assert answer.status_code == 403 and "not assigned" in answer.json()["error"]
    assert _templates(world, person) == (2, 2)


def _camera_case(world: World) -> str:
    add_camera(world.ctx, "cam-1", name="Door", actor="user:adam", url="rtsp://u:secret@10.0.0.1/s")
    case = create_case(world.sessions, title="W", purpose="victim", actor="user:olga", valid_until=UNTIL,
                       legal_basis="x", authorisation_ref="y", authorised_by="z", cameras=["cam-1"])
    activate_case(world.sessions, case.ref, actor="user:olga")
    return case.ref


def test_a_disabled_camera_is_not_searched_and_says_so(world: World) -> None:
    ref = _camera_case(world)
    admin = world.key("adam")
    for name in ("olga", "rita", "ava"):
        assert world.client.post("/v1/cameras/cam-1/disable", headers=world.key(name)).status_code == 403
    answer = world.client.post("/v1/cameras/cam-1/disable", headers=admin)
    assert answer.status_code == 200 and answer.json()["status"] == "disabled"
    assert world.client.post("/v1/cameras/cam-1/disable", headers=admin).status_code == 200  # twice: one entry
    assert len(_entries(world, AuditAction.CAMERA_DISABLE)) == 1
    clip = world.ctx.settings.home / "media" / "clip.mp4"
    clip.parent.mkdir(parents=True, exist_ok=True)
    clip.write_bytes(b"0")
    scan = world.client.post("/v1/scans", json={"case": ref, "paths": [str(clip)], "camera": "cam-1"},
                             headers=world.key("olga"))
    assert scan.status_code == 400, scan.text
    assert "camera cam-1 is disabled" in scan.json()["error"]
    [refusal] = _entries(world, AuditAction.SEARCH_REFUSED)
    assert "disabled" in str(refusal.details["reason"])
    with world.sessions() as s:  # the one rule identify, scans and watches (each second) all check
        with pytest.raises(CameraDisabled, match="camera cam-1 is disabled"):
            require_searchable(s, ref, camera="cam-1", actor="user:olga")
    assert world.client.post("/v1/cameras/cam-1/enable", headers=admin).json()["status"] == "enabled"
    assert len(_entries(world, AuditAction.CAMERA_ENABLE)) == 1
    assert world.client.post("/v1/cameras/nowhere/disable", headers=admin).status_code == 404


def test_a_camera_in_use_is_not_removed_and_a_removed_one_keeps_its_sightings(world: World) -> None:
    ref = _camera_case(world)
    admin = world.key("adam")
    assert world.client.delete("/v1/cameras/cam-1", headers=world.key("olga")).status_code == 403
    refused = world.client.delete("/v1/cameras/cam-1", headers=admin)
    assert refused.status_code == 409
    assert f"in use by case {ref}" in refused.json()["error"] and "disable" in refused.json()["error"]
    world.client.post(f"/v1/cases/{ref}/close", headers=world.key("olga"))
    now = datetime.now(UTC)
    with world.sessions.begin() as s:
        s.add(SightingRow(case_id=int(ref[1:]), identity_id=_enrol(world, [1], 1), camera_id="cam-1", source="x",
                          track=1, start_s=0, end_s=1, best_s=0, time_source="unknown", score=0.9, fmr=1e-6,
                          threshold=0.5, box=[0, 0, 1, 1], status="candidate", created_at=now))
    removed = world.client.delete("/v1/cameras/cam-1", headers=admin)
    assert removed.status_code == 200 and removed.json()["status"] == "removed", removed.text
    with world.sessions() as s:
        row = s.get(CameraRow, "cam-1")
        assert row is not None and row.status == "removed" and row.url_sealed is None
        assert s.scalar(select(SightingRow.camera_id)) == "cam-1"
    assert "cam-1" not in [c["id"] for c in world.client.get("/v1/cameras", headers=admin).json()]
    assert world.client.delete("/v1/cameras/cam-1", headers=admin).status_code == 409  # removed already
    [entry] = _entries(world, AuditAction.CAMERA_REMOVE)
    assert entry.details == {"stream_address_deleted": True}


def test_the_commands_say_what_they_did_and_why_they_refused(tmp_path: Path) -> None:
    import json
    import os
    import subprocess
    import sys

    from owned_keys import add_people, as_person

    home = tmp_path / "home"

    def run(*args: str, person: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "FACESEARCH_HOME": str(home), **as_person(person)}
        env.pop("FACESEARCH_KEY", None)
        env.pop("FACESEARCH_DATABASE_URL", None)
        return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                              env=env, timeout=300, check=False)

    assert run("init", person="olga").returncode == 0
    add_people(home, {"olga": "officer"})  # and adam, the first administrator
    assert run("camera", "add", "cam-1", "--name", "Door", person="adam").returncode == 0
    created = run("case", "create", "--title", "T", "--purpose", "victim", "--legal-basis", "x",
                  "--authorisation-ref", "y", "--authorised-by", "z", "--cameras", "cam-1",
                  "--valid-until", UNTIL.isoformat(), person="olga")
    assert created.returncode == 0, created.stderr
    refused = run("camera", "remove", "cam-1", person="adam")
    assert refused.returncode != 0 and "in use by case C1" in refused.stderr, refused.stderr
    assert run("camera", "disable", "cam-1", person="olga").returncode != 0  # an officer may not
    disabled = run("camera", "disable", "cam-1", person="adam")
    assert disabled.returncode == 0 and "cam-1: disabled" in disabled.stdout, disabled.stderr
    listed = json.loads(run("camera", "list", "--json", person="adam").stdout)
    assert listed[0]["status"] == "disabled"
    missing = run("case", "remove-person", "C1", "--person", "7", person="olga")
    assert missing.returncode != 0 and "not on C1's watchlist" in missing.stderr, missing.stderr
    assert run("case", "remove-person", "C1", "--person", "7", person="adam").returncode != 0


def test_the_console_case_page_lists_the_watchlist_with_a_remove_button(world: World) -> None:
    import re

    person = _enrol(world, [1])
    browser = world.client.__class__(world.client.app)
    page = browser.post("/console/login", data={"username": "olga", "password": "correct horse battery"})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    shown = browser.get("/console/cases/C1")
    assert "Wrong Name" in shown.text and f"/console/cases/C1/people/{person}/remove" in shown.text
    done = browser.post(f"/console/cases/C1/people/{person}/remove", data={"csrf_token": token},
                        follow_redirects=False)
    assert done.status_code == 303, done.text
    assert _templates(world, person) == (0, 0)
    assert "Nobody is on the watchlist" in browser.get("/console/cases/C1").text
    otto = world.client.__class__(world.client.app)
    otto.post("/console/login", data={"username": "otto", "password": "correct horse battery"})
    assert "Watchlist" not in otto.get("/console/cases/C1").text  # not assigned: the record only, no people
