"""Issue 13, item 6: need to know.

Officers and reviewers are assigned to cases (the creating officer at once, the others by an admin,
audited); nobody reads a case, its people, sightings, evidence, jobs or export without assignment, through
the API, the console or the CLI alike, because the services apply one rule (``cases.access``). Admins and
auditors see every case's record and nothing in it; the library role sees nothing of cases. Closed cases
keep following retention."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from casework import PASSWORD, PEOPLE, UNTIL, World, make_world
from sqlalchemy import select, update

from facesearch.accounts.roles import ROLES
from facesearch.audit import log as audit
from facesearch.cases import access
from facesearch.cases.service import CaseNotAssigned, close_case, list_cases
from facesearch.cases.watchlist import check_searchable
from facesearch.errors import ForbiddenError
from facesearch.retention import run_retention
from facesearch.store.schema import CaseAssignmentRow, SightingRow
from facesearch.video.jobs import JobRunner
from facesearch.video.sightings import review_queue, sightings_after
from support.cli import cli_env

ROLE_OF = PEOPLE  # adam admin, olga officer (C1's creator), rita and rob reviewers (assigned), ava auditor,
# lib library, otto an officer and rhea a reviewer assigned to nothing, kim a sign-in kiosk
ASSIGNED = {"olga", "rita", "rob"}


@pytest.fixture()
def world(database_url: str, tmp_path: Path) -> World:
    made = make_world(database_url, tmp_path)
    made.sighting("C1")
    return made


def reads(world: World, headers: dict[str, str], client: object | None = None) -> dict[str, int]:
    """The status of every read of case C1 and what it holds."""
    c = client or world.client
    paths = {"case": "/v1/cases/C1", "sightings": "/v1/sightings?case=C1", "people": "/v1/identities?case=C1",
             "scans": "/v1/scans"}
    out = {k: c.get(p, headers=headers).status_code for k, p in paths.items()}  # type: ignore[attr-defined]
    out["export"] = c.post("/v1/exports?case=C1", headers=headers).status_code  # type: ignore[attr-defined]
    listed = c.get("/v1/cases", headers=headers)  # type: ignore[attr-defined]
    out["listed"] = int(listed.status_code == 200 and "C1" in [x["id"] for x in listed.json()])
    return out


@pytest.mark.parametrize("person", sorted(PEOPLE))
def test_only_assigned_people_read_a_case_and_what_it_holds(world: World, person: str) -> None:
    role = ROLE_OF[person]
    by_key = reads(world, world.key(person))
    browser, csrf = world.person(person)
    by_session = reads(world, csrf, browser)
    for seen in (by_key, by_session):
        if person in ASSIGNED:
            assert seen["case"] == 200 and seen["sightings"] == 200 and seen["listed"] == 1, seen
            assert seen["people"] == 200 and seen["scans"] == 200
            # exports: officers only (the matrix); let through, the officer is told C1 has nothing confirmed
            assert seen["export"] == (409 if role == "officer" else 403)
        elif role in ("officer", "reviewer"):  # not assigned: refused, and C1 is not even listed
            assert seen["case"] == 403 and seen["sightings"] == 403 and seen["listed"] == 0, seen
            assert seen["people"] == 403
            assert seen["export"] == 403
        elif role in ("admin", "auditor"):  # oversight: the case's record, nothing in it
            assert seen["case"] == 200 and seen["listed"] == 1, seen
            assert seen["sightings"] == 403 and seen["export"] == 403 and seen["people"] == 403
        else:  # the library and sign-in roles see nothing of camera mode
            assert set(seen.values()) <= {0, 403}, seen


def test_no_credentials_read_nothing(world: World) -> None:
    assert set(reads(world, {}).values()) == {401, 0}


def test_the_creating_officer_is_assigned_and_nobody_else_is(world: World) -> None:
    olga, csrf = world.person("olga")
    made = olga.post("/v1/cases", json={"title": "T2", "purpose": "victim", "valid_until": UNTIL.isoformat()},
                     headers=csrf).json()
    adam = world.key("adam")
    assert [a["username"] for a in world.client.get(f"/v1/cases/{made['id']}/assignments", headers=adam).json()] \
        == ["olga"]
    assert world.client.get(f"/v1/cases/{made['id']}", headers=world.key("otto")).status_code == 403
    assert world.client.get(f"/v1/cases/{made['id']}", headers=world.key("rita")).status_code == 403


@pytest.mark.parametrize("role", ROLES)
def test_only_admins_assign_and_unassign(world: World, role: str) -> None:
    person = next(name for name, r in PEOPLE.items() if r == role)
    headers = world.key(person)
    assigned = world.client.post("/v1/cases/C1/assignments", json={"username": "otto"}, headers=headers)
    listed = world.client.get("/v1/cases/C1/assignments", headers=headers)
    removed = world.client.delete("/v1/cases/C1/assignments/otto", headers=headers)
    if role == "admin":
        assert assigned.status_code == 201 and "otto" in [a["username"] for a in assigned.json()]
        assert listed.status_code == 200 and removed.status_code == 200
    else:
        assert {assigned.status_code, listed.status_code, removed.status_code} == {403}
    assert world.client.post("/v1/cases/C1/assignments", json={"username": "otto"}).status_code == 401


def test_assignments_are_audited_and_take_effect_at_once(world: World) -> None:
    otto, _ = world.person("otto")  # signed in before being assigned: the session sees the change at once
    assert otto.get("/v1/sightings?case=C1").status_code == 403
    adam = world.key("adam")
    assert world.client.post("/v1/cases/C1/assignments", json={"username": "otto"}, headers=adam).status_code == 201
    assert otto.get("/v1/sightings?case=C1").status_code == 200
    assert world.client.delete("/v1/cases/C1/assignments/otto", headers=adam).status_code == 200
    assert otto.get("/v1/sightings?case=C1").status_code == 403
    with world.sessions() as s:
        entries = [e for e in audit.events(s) if e.action in ("case.assign", "case.unassign")]
    assert [(e.action, e.actor, e.case_id, e.subject) for e in entries][-2:] == [
        ("case.assign", "key:adam-key", "C1", "user:otto"), ("case.unassign", "key:adam-key", "C1", "user:otto")]


def test_only_officers_and_reviewers_are_assigned(world: World) -> None:
    adam = world.key("adam")
    for person in ("ava", "lib", "adam"):
        refused = world.client.post("/v1/cases/C1/assignments", json={"username": person}, headers=adam)
        assert refused.status_code == 400 and "only officers and reviewers" in refused.json()["error"]
    assert world.client.post("/v1/cases/C1/assignments", json={"username": "nobody"}, headers=adam).status_code == 404
    assert world.client.post("/v1/cases/C9/assignments", json={"username": "otto"}, headers=adam).status_code == 404


def test_unassigned_officers_cannot_search_write_or_scan_the_case(world: World) -> None:
    otto = world.key("otto")
    for path in ("/v1/cases/C1/activate", "/v1/cases/C1/close"):
        assert world.client.post(path, headers=otto).status_code == 403
    scan = world.client.post("/v1/scans", json={"case": "C1", "paths": ["x.mp4"]}, headers=otto)
    assert scan.status_code in (400, 403)  # the path is refused first when it lies outside the media folder
    with pytest.raises(CaseNotAssigned):  # the search rule: refused, and audited as a refused search
        check_searchable(world.sessions, "C1", camera=None, actor="user:otto")
    with world.sessions() as s:
        refused = [e for e in audit.events(s) if e.action == "search.refused"]
    assert refused[-1].actor == "user:otto" and "not assigned" in str(refused[-1].details["reason"])


def test_lists_and_streams_show_assigned_cases_only(world: World) -> None:
    olga, csrf = world.person("olga")
    second = olga.post("/v1/cases", json={"title": "T2", "purpose": "victim", "valid_until": UNTIL.isoformat()},
                       headers=csrf).json()["id"]
    world.sighting(second)
    with world.sessions() as s:
        assert {x.case for x in review_queue(s, actor="user:rita")} == {"C1"}  # rita is on C1 only
        assert review_queue(s, actor="user:rhea") == []
        assert {x.case for x in sightings_after(s, 0, actor="user:olga")} == {"C1", second}
        assert {x.case for x in sightings_after(s, 0, actor="user:rita")} == {"C1"}
        assert sightings_after(s, 0, actor="user:ava") == []
    assert [c.ref for c in list_cases(world.sessions, actor="user:rita")] == ["C1"]
    assert [c.ref for c in list_cases(world.sessions, actor="user:rhea")] == []
    assert [c.ref for c in list_cases(world.sessions, actor="user:ava")] == ["C1", second]
    jobs = JobRunner(world.ctx)
    jobs.submit_scan("C1", ["/nowhere"], camera=None, actor="user:olga")
    assert [j.case for j in jobs.list(actor="user:rita")] == ["C1"]
    assert jobs.list(actor="user:rhea") == []
    with pytest.raises(ForbiddenError):
        jobs.get(1, actor="user:otto")


def test_the_console_follows_the_same_rule(world: World) -> None:
    rita, _ = world.person("rita")
    rhea, _ = world.person("rhea")
    assert "C1" in rita.get("/console").text and "C1" not in rhea.get("/console").text.split("<main>")[-1]
    assert rita.get("/console/cases/C1").status_code == 200
    assert rhea.get("/console/cases/C1").status_code == 403
    assert "J. Doe" in rita.get("/console/review").text
    assert "J. Doe" not in rhea.get("/console/review").text
    assert rhea.get("/console/enrolment/1.jpg").status_code == 403
    assert rhea.get("/console/evidence/1/frame.jpg").status_code == 403
    # An admin assigns from the case page (a minimal control), and sees who is assigned; nobody else does.
    adam, csrf = world.person("adam")
    page = adam.get("/console/cases/C1").text
    assert "Assigned" in page and "rita" in page
    done = adam.post("/console/cases/C1/assign", data={"username": "rhea", "csrf_token": csrf["X-CSRF-Token"]},
                     follow_redirects=False)
    assert done.status_code == 303
    assert rhea.get("/console/cases/C1").status_code == 200
    adam.post("/console/cases/C1/unassign/rhea", data={"csrf_token": csrf["X-CSRF-Token"]}, follow_redirects=False)
    assert rhea.get("/console/cases/C1").status_code == 403
    assert "Unassign" not in rita.get("/console/cases/C1").text
    assert rita.post("/console/cases/C1/assign", data={"username": "rhea", "csrf_token": "x"},
                     follow_redirects=False).status_code == 403


def test_a_disabled_person_sees_nothing_even_through_an_internal_call(world: World) -> None:
    from facesearch.accounts import service as accounts

    accounts.set_user_disabled(world.sessions, "rita", True, actor="user:adam")
    with world.sessions() as s, pytest.raises(ForbiddenError):
        access.check(s, "user:rita", 1)


def test_closed_cases_keep_following_retention(world: World) -> None:
    close_case(world.sessions, "C1", actor="user:olga")
    old = datetime.now(UTC) - timedelta(days=400)
    with world.sessions.begin() as s:
        s.execute(update(SightingRow).values(created_at=old))
    report = run_retention(world.sessions, actor="system", retention_days=30)
    assert report.sightings_purged == 1
    with world.sessions() as s:
        assert s.scalars(select(SightingRow)).all() == []
        assert len(s.scalars(select(CaseAssignmentRow)).all()) == 3  # the record of who worked on it stays
    assert world.client.get("/v1/sightings?case=C1", headers=world.key("rita")).json() == []
    assert world.client.get("/v1/cases/C1", headers=world.key("rhea")).status_code == 403


def cli(home: Path, *args: str, person: str | None = None, stdin: str | None = None
        ) -> subprocess.CompletedProcess[str]:
    env = cli_env(home)
    for name in ("FACESEARCH_USER", "FACESEARCH_PASSWORD", "FACESEARCH_API_KEY"):
        env.pop(name, None)
    if person:
        env |= {"FACESEARCH_USER": person, "FACESEARCH_PASSWORD": PASSWORD}
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True, env=env,
                          input=stdin, timeout=300, check=False)


def test_the_cli_assigns_and_shows_each_person_their_cases(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    bootstrap = cli(home, "user", "add", "adam", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert bootstrap.returncode == 0
    for name, role in (("olga", "officer"), ("rita", "reviewer"), ("otto", "officer")):
        assert cli(home, "user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n",
                   person="adam").returncode == 0
    created = cli(home, "case", "create", "--title", "T", "--purpose", "victim", "--valid-until",
                  UNTIL.date().isoformat(), person="olga")
    assert created.returncode == 0, created.stderr
    assert json.loads(cli(home, "case", "list", "--json", person="rita").stdout) == []
    refused = cli(home, "case", "assign", "C1", "rita", person="olga")
    assert refused.returncode == 2 and "may not cases.assign" in refused.stderr
    assigned = cli(home, "case", "assign", "C1", "rita", "--json", person="adam")
    assert [a["username"] for a in json.loads(assigned.stdout)] == ["olga", "rita"]
    assert [c["id"] for c in json.loads(cli(home, "case", "list", "--json", person="rita").stdout)] == ["C1"]
    assert cli(home, "sightings", "--case", "C1", "--json", person="rita").returncode == 0
    otto = cli(home, "sightings", "--case", "C1", person="otto")
    assert otto.returncode == 2 and "otto is not assigned" in otto.stderr
    assert cli(home, "review", "queue", "--case", "C1", person="otto").returncode == 2
    assert cli(home, "case", "unassign", "C1", "rita", person="adam").returncode == 0
    assert json.loads(cli(home, "case", "list", "--json", person="rita").stdout) == []
    nobody = cli(home, "case", "list")
    assert nobody.returncode == 2 and "FACESEARCH_USER" in nobody.stderr
