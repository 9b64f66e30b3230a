"""The case page's watchlist thumbnails, the removal of one enrolment photo, the sightings' faces, and the
timeline (people, status colours, an axis to the end of the recording), through the ASGI test client against
a temporary database; people, photos and sightings are made directly, no model is run."""

from __future__ import annotations

import io
import os
import re
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from fastapi.testclient import TestClient
from PIL import Image
from sqlalchemy import inspect, select, text

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import ROLES
from facesearch.api.app import create_app
from facesearch.audit.actions import AuditAction
from facesearch.cases.access import assign
from facesearch.cases.service import create_case
from facesearch.context import Context
from facesearch.gallery.service import photo_purpose
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.db import _alembic_config, open_engine
from facesearch.store.schema import (
    AuditEventRow,
    CaseTargetRow,
    EnrolmentPhotoRow,
    EvidenceRow,
    IdentityRow,
    ScannedFileRow,
    SightingRow,
    TemplateRow,
)
from facesearch.video.case_report import STATUS_COLOURS, timeline_svg
from facesearch.video.sightings import Sighting, evidence_purpose
from support.audit import open_audited

PASSWORD = "correct horse battery"
NOW = datetime.now(UTC)


def _jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (360, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, format="JPEG")
    return out.getvalue()


def _person(s: Any, sealer: Sealer, case_id: int, name: str, photos: list[tuple[str, tuple[int, int, int]]],
            profiles: tuple[str, ...] = ("p1",)) -> int:
    """A person on case ``case_id``'s watchlist with a template (per profile) and an enrolment photo each."""
    person = IdentityRow(name=name, reference={}, created_at=NOW, created_by="user:officer")
    s.add(person)
    s.flush()
    for profile in profiles:
        for digest, colour in photos:
            template = TemplateRow(identity_id=person.id, profile=profile, dim=4, sealed=b"x" * 8,
                                   source_sha256=digest, quality={}, created_at=NOW)
            s.add(template)
            s.flush()
            sealed = sealer.seal(_jpeg(colour), photo_purpose(template.id))
            s.add(EnrolmentPhotoRow(template_id=template.id, sealed=sealed))
    s.add(CaseTargetRow(case_id=case_id, identity_id=person.id))
    return int(person.id)


def _sighting(s: Any, sealer: Sealer, identity: int, source: str, start: float, end: float, status: str) -> int:
    row = SightingRow(case_id=1, identity_id=identity, camera_id="cam-1", source=source, track=1, start_s=start,
                      end_s=end, best_s=start, started_at=None, ended_at=None, time_source="given", score=0.9,
                      fmr=1e-6, threshold=0.8, box=[0, 0, 1, 1], status=status, created_at=NOW)
    s.add(row)
    s.flush()
    crop = _jpeg((10, 200, 10), (112, 112))
    s.add(EvidenceRow(sighting_id=row.id, kind="crop", sealed=sealer.seal(crop, evidence_purpose(row.id, "crop")),
                      sha256="0" * 64))
    return int(row.id)


@pytest.fixture()
def site(tmp_path: Path) -> dict[str, Any]:
    """C1 (the officer's, the reviewer assigned): Ann with photos 1 and 2 (two profiles each), Ben with one, and
    three sightings of Ann (one recording of known length, one without); C2 (officer2's): Quinn, one photo."""
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    for role in ROLES:
        accounts.add_user(sessions, role, PASSWORD, role, actor="setup")
    accounts.add_user(sessions, "officer2", PASSWORD, "officer", actor="setup")
    for who in ("user:officer", "user:officer2"):
        create_case(sessions, title="T", purpose="victim", valid_until=NOW + timedelta(days=3), actor=who)
    assign(sessions, "C1", "reviewer", actor="user:admin")
    sealer = Sealer(os.urandom(32))
    with sessions.begin() as s:
        ann = _person(s, sealer, 1, "Ann Example", [("a" * 64, (200, 0, 0)), ("b" * 64, (0, 0, 200))],
                      profiles=("p1", "p2"))
        ben = _person(s, sealer, 1, "Ben Example", [("c" * 64, (0, 200, 0))])
        quinn = _person(s, sealer, 2, "Quinn Other", [("d" * 64, (9, 9, 9))])
        sightings = [_sighting(s, sealer, ann, "/media/a.mp4", 10.0, 14.0, "candidate"),
                     _sighting(s, sealer, ann, "/media/a.mp4", 30.0, 31.0, "confirmed"),
                     _sighting(s, sealer, ben, "/media/b.mp4", 5.0, 8.0, "rejected")]
        s.add(ScannedFileRow(case_id=1, path="/media/a.mp4", camera_id="cam-1", size=1, mtime_ns=1, frames=10,
                             sightings=2, problem=None, finished_at=NOW, duration_s=120.0))
        s.add(ScannedFileRow(case_id=1, path="/media/b.mp4", camera_id="cam-1", size=1, mtime_ns=1, frames=10,
                             sightings=1, problem=None, finished_at=NOW, duration_s=None))  # scanned before 0014
    app = create_app(Context(Settings(home=tmp_path), sessions, sealer), run_jobs=False)
    return {"app": app, "sessions": sessions, "ann": ann, "ben": ben, "quinn": quinn, "sightings": sightings}


def _client(app: Any, user: str) -> tuple[TestClient, str]:
    client = TestClient(app)
    page = client.post("/console/login", data={"username": user, "password": PASSWORD})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    return client, token.group(1) if token else ""


def _thumb(ref: str, identity: int | str, photo: int | str) -> str:
    return f"/console/cases/{ref}/people/{identity}/photos/{photo}.jpg"


def _remove(ref: str, identity: int | str, photo: int | str) -> str:
    return f"/console/cases/{ref}/people/{identity}/photos/{photo}/remove"


def _shown_sha(page: str, ref: str, identity: int, photo: int) -> str:
    """The photo the page's remove button for photo ``photo`` names (its SHA-256's first characters)."""
    found = re.search(re.escape(_remove(ref, identity, photo)) + r'">.*?name="photo_sha256" value="([0-9a-f]+)"', page)
    assert found, "no remove button for that photo"
    return found.group(1)


def _photos_left(sessions: Any, identity: int) -> int:
    with sessions() as s:
        return len(set(s.scalars(select(TemplateRow.source_sha256).where(TemplateRow.identity_id == identity))))


# Who gets a thumbnail of a C1 person: the officer and reviewer assigned to it; nobody else, whatever their role.
THUMB_STATUS = {"officer": 200, "reviewer": 200, "officer2": 403, "admin": 403, "auditor": 403, "library": 403}


@pytest.mark.parametrize("user", sorted(THUMB_STATUS))
def test_a_thumbnail_goes_only_to_people_assigned_to_the_case(site: dict[str, Any], user: str) -> None:
    client, _ = _client(site["app"], user)
    answer = client.get(_thumb("C1", site["ann"], 1), follow_redirects=False)
    assert answer.status_code == THUMB_STATUS[user], answer.text[:200]
    if answer.status_code == 200:
        assert answer.headers["content-type"] == "image/jpeg"
        assert answer.headers["cache-control"] == "no-store"
        with Image.open(io.BytesIO(answer.content)) as img:
            assert max(img.size) <= 160 and img.getpixel((5, 5))[0] > 150  # photo 1 is Ann's red one, made small
    else:
        assert "image" not in answer.headers.get("content-type", "") and b"\xff\xd8" not in answer.content[:4]


def test_no_credentials_no_thumbnail_and_no_removal(site: dict[str, Any]) -> None:
    anonymous = TestClient(site["app"])
    for method, path in (("GET", _thumb("C1", site["ann"], 1)), ("POST", _remove("C1", site["ann"], 1))):
        answer = anonymous.request(method, path, data={"csrf_token": "x"} if method == "POST" else None,
                                   follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/console/login", (method, path)
    assert _photos_left(site["sessions"], site["ann"]) == 2


def test_photo_two_is_the_second_photo_whatever_the_number_of_profiles(site: dict[str, Any]) -> None:
    client, _ = _client(site["app"], "officer")
    answer = client.get(_thumb("C1", site["ann"], 2))
    with Image.open(io.BytesIO(answer.content)) as img:
        assert img.getpixel((5, 5))[2] > 150  # blue: the second source, not photo 1's second profile
    assert client.get(_thumb("C1", site["ann"], 3)).status_code == 404


@pytest.mark.parametrize(("ref", "identity", "photo", "status"), [
    ("C1", "abc", "1", 422), ("C1", "1", "x", 422), ("C1", "-1", "1", 422), ("C1", "1", "-2", 422),
    ("C1", "1", "0", 422), ("C1", str(2**70), "1", 422), ("C1", "1", str(2**63), 422),
    ("C999", "1", "1", 404), ("C1", "999", "1", 404), ("C1", "1", "99", 404),
])
def test_malformed_or_unknown_ids_are_refused(site: dict[str, Any], ref: str, identity: str, photo: str,
                                              status: int) -> None:
    client, token = _client(site["app"], "officer")
    assert client.get(_thumb(ref, identity, photo)).status_code == status
    answer = client.post(_remove(ref, identity, photo), data={"csrf_token": token, "photo_sha256": "0" * 16},
                         follow_redirects=False)
    assert answer.status_code == status
    assert _photos_left(site["sessions"], site["ann"]) == 2


def test_a_bad_case_reference_is_refused(site: dict[str, Any]) -> None:
    client, _ = _client(site["app"], "officer")
    answer = client.get(_thumb("not-a-case", site["ann"], 1))
    assert answer.status_code in (400, 404) and "image" not in answer.headers["content-type"]


def test_another_cases_person_is_refused_through_this_case(site: dict[str, Any]) -> None:
    officer, token = _client(site["app"], "officer")
    quinn = site["quinn"]
    assert officer.get(_thumb("C1", quinn, 1)).status_code == 404  # not on C1's watchlist
    assert officer.get(_thumb("C2", quinn, 1)).status_code == 403  # C2 is not the officer's
    form = {"csrf_token": token, "photo_sha256": "0" * 16}
    assert officer.post(_remove("C1", quinn, 1), data=form, follow_redirects=False).status_code == 404
    assert officer.post(_remove("C2", quinn, 1), data=form, follow_redirects=False).status_code == 403
    assert _photos_left(site["sessions"], quinn) == 1
    other, _ = _client(site["app"], "officer2")
    assert other.get(_thumb("C2", quinn, 1)).status_code == 200


def test_removing_a_photo_needs_the_csrf_token_and_the_enrol_role(site: dict[str, Any]) -> None:
    ann, sessions = site["ann"], site["sessions"]
    officer, token = _client(site["app"], "officer")
    shown = _shown_sha(officer.get("/console/cases/C1").text, "C1", ann, 1)
    assert officer.post(_remove("C1", ann, 1), follow_redirects=False).status_code in (403, 422)  # no token
    assert officer.post(_remove("C1", ann, 1), data={"csrf_token": "wrong", "photo_sha256": shown},
                        follow_redirects=False).status_code == 403
    reviewer, reviewer_token = _client(site["app"], "reviewer")
    assert reviewer.post(_remove("C1", ann, 1), data={"csrf_token": reviewer_token, "photo_sha256": shown},
                         follow_redirects=False).status_code == 403
    for user in ("admin", "auditor", "officer2"):
        client, own = _client(site["app"], user)
        assert client.post(_remove("C1", ann, 1), data={"csrf_token": own, "photo_sha256": shown},
                           follow_redirects=False).status_code == 403
    assert _photos_left(sessions, ann) == 2

    assert officer.post(_remove("C1", ann, 1), data={"csrf_token": token},  # which photo it showed: required
                        follow_redirects=False).status_code in (400, 422)
    done = officer.post(_remove("C1", ann, 1), data={"csrf_token": token, "photo_sha256": shown},
                        follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/console/cases/C1"
    assert _photos_left(sessions, ann) == 1
    # A second click on the same button (another tab, a colleague): photo 1 is now another photo, so it is refused.
    again = officer.post(_remove("C1", ann, 1), data={"csrf_token": token, "photo_sha256": shown},
                         follow_redirects=False)
    assert again.status_code == 409 and "is no longer the photo you saw" in again.text
    assert _photos_left(sessions, ann) == 1
    with sessions() as s:
        entry = s.scalars(select(AuditEventRow).where(AuditEventRow.action == AuditAction.IDENTITY_PHOTO_REMOVE)).one()
        assert entry.actor == "user:officer" and entry.case_id == "C1"
        assert len(s.scalars(select(TemplateRow).where(TemplateRow.identity_id == ann)).all()) == 2  # both profiles
    with Image.open(io.BytesIO(officer.get(_thumb("C1", ann, 1)).content)) as img:
        assert img.getpixel((5, 5))[2] > 150  # the blue photo is photo 1 now
    assert officer.get(_thumb("C1", ann, 2)).status_code == 404
    page = officer.get("/console/cases/C1").text
    assert _thumb("C1", ann, 1) in page and _thumb("C1", ann, 2) not in page


def test_two_clients_at_once(site: dict[str, Any]) -> None:
    officer, _ = _client(site["app"], "officer")
    reviewer, _ = _client(site["app"], "reviewer")
    stranger, _ = _client(site["app"], "officer2")
    jobs = [(officer, _thumb("C1", site["ann"], 1)), (reviewer, _thumb("C1", site["ann"], 2)),
            (stranger, _thumb("C1", site["ben"], 1)), (officer, "/console/cases/C1"),
            (reviewer, "/console/cases/C1"), (reviewer, _thumb("C1", site["ben"], 1))] * 3
    with ThreadPoolExecutor(4) as pool:
        codes = list(pool.map(lambda job: (job[0].get(job[1]).status_code, job[0] is stranger), jobs))
    assert all(code == (403 if refused else 200) for code, refused in codes), codes


def test_the_case_page_shows_thumbnails_faces_and_a_labelled_timeline(site: dict[str, Any]) -> None:
    officer, _ = _client(site["app"], "officer")
    page = officer.get("/console/cases/C1")
    assert page.status_code == 200
    html = page.text
    ann, ben = site["ann"], site["ben"]
    for identity, photo in ((ann, 1), (ann, 2), (ben, 1)):
        assert f'src="{_thumb("C1", identity, photo)}"' in html
        assert f'action="{_remove("C1", identity, photo)}"' in html
    assert f'action="/console/cases/C1/people/{ann}/remove"' in html  # the whole person, as before
    for sighting in site["sightings"]:
        assert re.search(rf'<img class="face" src="/console/evidence/{sighting}/crop.jpg"[^>]*loading="lazy"', html)
    svg = html[html.index("<svg"):html.index("</svg>")]
    assert 'width="100%"' in svg
    assert "Ann Example" in svg and "Ben Example" in svg and "cam-1: a.mp4" in svg
    for status, colour in STATUS_COLOURS.items():
        assert f'<text x="{_legend_x(status)}" y="14">{status}</text>' in svg  # the legend
        assert re.search(rf'<rect data-status="{status}"[^>]*fill="{colour}"', svg)
    assert ">120 s</text>" in svg  # a.mp4 is 120 s long: the axis runs to its end, not to 31 s
    # b.mp4 has no recorded length: its line ends at its last sighting (8 s of 120 s).
    assert 'x2="6.67%"' in svg and 'x2="100.00%"' in svg

    reviewer, _ = _client(site["app"], "reviewer")
    seen = reviewer.get("/console/cases/C1").text
    assert _thumb("C1", ann, 1) in seen and _remove("C1", ann, 1) not in seen  # sees, may not remove
    admin, _ = _client(site["app"], "admin")
    record = admin.get("/console/cases/C1")
    assert record.status_code == 200 and "/photos/" not in record.text and "crop.jpg" not in record.text
    stranger, _ = _client(site["app"], "officer2")
    assert stranger.get("/console/cases/C1").status_code == 403


def test_a_sightings_face_is_refused_to_a_stranger(site: dict[str, Any]) -> None:
    first = site["sightings"][0]
    officer, _ = _client(site["app"], "officer")
    assert officer.get(f"/console/evidence/{first}/crop.jpg").status_code == 200
    stranger, _ = _client(site["app"], "officer2")
    assert stranger.get(f"/console/evidence/{first}/crop.jpg").status_code == 403


def _legend_x(status: str) -> int:
    x = 0
    for name in STATUS_COLOURS:
        if name == status:
            return x + 16
        x += 24 + 8 * len(name)
    raise AssertionError(status)


def _made(start: float, end: float, status: str = "candidate", source: str = "/m/a.mp4", name: str = "Ann",
          identity: int = 1) -> Sighting:
    return Sighting(1, "C1", identity, name, None, source, start, end, start, None, None, "given", 0.9, 1e-6, 0.8,
                    status)


def test_the_timeline_falls_back_to_the_last_sighting_without_a_recording_length() -> None:
    items = [_made(2.0, 4.0), _made(6.0, 50.0, "confirmed")]
    without = timeline_svg(items)
    assert ">50.0 s</text>" in without and 'x2="100.00%"' in without
    longer = timeline_svg(items, {"/m/a.mp4": 200.0})
    assert ">200 s</text>" in longer and ">50.0 s</text>" not in longer and 'x2="100.00%"' in longer
    shorter = timeline_svg(items, {"/m/a.mp4": 10.0})  # a length shorter than a sighting: the sighting wins
    assert ">50.0 s</text>" in shorter


def test_the_timeline_labels_each_person_and_escapes_names() -> None:
    svg = timeline_svg([_made(1.0, 2.0, name="Zed <b>Z</b>", identity=7), _made(1.0, 2.0, "rejected", name="Amy",
                                                                                 identity=8)])
    assert "Zed &lt;b&gt;Z&lt;/b&gt;" in svg and "<b>" not in svg and "Amy" in svg
    assert svg.index("Amy") < svg.index("Zed &lt;b&gt;")  # sorted by name
    assert 'data-status="rejected" x="50.00%" y="' in svg and STATUS_COLOURS["rejected"] in svg


def test_migration_0014_adds_a_nullable_length_and_keeps_older_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = open_engine(url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0013")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO cases (title, purpose, valid_from, valid_until, cameras, reviewers_required, "
                          "status, created_at, created_by) VALUES ('T', 'victim', :t, :t, '[]', 2, 'draft', :t, 'x')"),
                     {"t": NOW})
        conn.execute(text("INSERT INTO scanned_files (case_id, path, size, mtime_ns, frames, sightings, "
                          "finished_at) VALUES (1, 'a.mp4', 1, 1, 5, 0, :t)"), {"t": NOW})
    assert "duration_s" not in {c["name"] for c in inspect(engine).get_columns("scanned_files")}
    engine.dispose()
    engine, sessions = open_audited(url)
    assert "duration_s" in {c["name"] for c in inspect(engine).get_columns("scanned_files")}
    with sessions() as s:
        assert s.scalars(select(ScannedFileRow.duration_s)).one() is None
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0013")
    assert "duration_s" not in {c["name"] for c in inspect(engine).get_columns("scanned_files")}
