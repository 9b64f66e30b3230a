"""Issue 13, item 5: two-person review that cannot be bypassed.

The fewest reviewers is the installation's (a case may raise it, never lower it); only people signed in
with their own account confirm or reject (no API key, through the API, the console or the CLI); a key is
its maker's and acts with at most their role, so an admin gains no role through a key; actors are
namespaced (``user:rita``, ``key:olga-key``); one person counts once however many credentials they hold;
the CLI acts as an account, never as the operating-system login (``USER=rita`` confirms nothing)."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from casework import PASSWORD, PEOPLE, UNTIL, World, make_world
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import ROLES
from facesearch.audit import log as audit
from facesearch.cases.service import CaseError, create_case
from facesearch.errors import ForbiddenError
from facesearch.review.service import review
from facesearch.store.schema import ApiKeyRow, CaseRow, ReviewRow, SightingRow, UserRow
from owned_keys import run_cli as cli

CASE = {"title": "T", "purpose": "victim", "valid_until": UNTIL.isoformat(), "legal_basis": "x",
        "authorisation_ref": "y", "authorised_by": "z"}


@pytest.fixture()
def world(database_url: str, tmp_path: Path) -> World:
    return make_world(database_url, tmp_path)


def decide(world: World, person: str, sighting: int, decision: str = "confirm") -> tuple[int, dict[str, object]]:
    browser, csrf = world.person(person)
    answer = browser.post(f"/v1/sightings/{sighting}/review", json={"decision": decision}, headers=csrf)
    return answer.status_code, answer.json()


# -- the fewest reviewers is the installation's -------------------------------------------------------------------

def test_a_case_may_raise_the_installations_minimum_of_reviewers_but_never_lower_it(database_url: str,
                                                                                      tmp_path: Path) -> None:
    world = make_world(database_url, tmp_path, min_reviewers=3)
    olga, csrf = world.person("olga")
    for fewer in (1, 2):
        refused = olga.post("/v1/cases", json={**CASE, "reviewers_required": fewer}, headers=csrf)
        assert refused.status_code == 400 and refused.json()["kind"] == "bad_input", refused.text
        assert refused.json()["error"].startswith("reviewers_required: ")
        assert "at least 3" in refused.json()["error"]
    assert olga.post("/v1/cases", json=CASE, headers=csrf).json()["reviewers_required"] == 3  # the default
    assert olga.post("/v1/cases", json={**CASE, "reviewers_required": 4}, headers=csrf).json()[
        "reviewers_required"] == 4
    with pytest.raises(CaseError, match="reviewers_required"):  # the one rule, whichever interface
        create_case(world.sessions, title="T", purpose="victim", actor="user:olga", valid_until=UNTIL,
                    reviewers_required=2, min_reviewers=3)
    # The console's form reads the same rule, and offers the minimum.
    assert 'value="3" min="3"' in olga.get("/console/cases/new").text


def test_the_default_installation_refuses_a_case_reviewed_by_one_person(world: World) -> None:
    olga, csrf = world.person("olga")
    refused = olga.post("/v1/cases", json={**CASE, "reviewers_required": 1}, headers=csrf)
    assert refused.status_code == 400 and "reviewers_required" in refused.json()["error"]
    assert olga.post("/v1/cases", json=CASE, headers=csrf).json()["reviewers_required"] == 2


def test_a_case_stored_with_one_reviewer_still_takes_the_installations_minimum(world: World) -> None:
    with world.sessions.begin() as s:  # a case made before the rule (or written into the database)
        s.execute(update(CaseRow).where(CaseRow.id == 1).values(reviewers_required=1))
    sighting = world.sighting("C1")
    status, body = decide(world, "rita", sighting)
    assert status == 200 and (body["status"], body["required"]) == ("candidate", 2)
    status, body = decide(world, "rob", sighting)
    assert status == 200 and body["status"] == "confirmed"


# -- only people decide -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_no_api_key_confirms_or_rejects_whatever_its_role(world: World, role: str) -> None:
    sighting = world.sighting("C1")
    owner = next(name for name, r in PEOPLE.items() if r == role)
    for decision in ("confirm", "reject"):
        answer = world.client.post(f"/v1/sightings/{sighting}/review", json={"decision": decision},
                                   headers=world.key(owner))
        assert answer.status_code == 403, answer.text
    with world.sessions() as s:
        assert s.scalars(select(ReviewRow)).all() == []
    # The console takes people only: a key there is sent to sign in, and decides nothing.
    form = world.client.post(f"/console/review/{sighting}", data={"decision": "confirm", "csrf_token": "x"},
                             headers=world.key(owner), follow_redirects=False)
    assert form.status_code == 303 and form.headers["location"] == "/console/login"


def test_no_credentials_decide_nothing(world: World) -> None:
    sighting = world.sighting("C1")
    assert world.client.post(f"/v1/sightings/{sighting}/review", json={"decision": "confirm"}).status_code == 401


def test_the_service_itself_refuses_a_key_as_reviewer(world: World) -> None:
    sighting = world.sighting("C1")
    with pytest.raises(ForbiddenError, match="API key"):
        review(world.sessions, sighting, reviewer="key:rita-key", decision="confirm")


def test_the_console_records_a_persons_decision_under_their_account(world: World) -> None:
    sighting = world.sighting("C1")
    browser, csrf = world.person("rita")
    done = browser.post(f"/console/review/{sighting}", data={"decision": "confirm",
                                                           "csrf_token": csrf["X-CSRF-Token"]},
                        follow_redirects=False)
    assert done.status_code == 303 and "error=0" in done.headers["location"]
    with world.sessions() as s:
        assert [r.reviewer for r in s.scalars(select(ReviewRow))] == ["user:rita"]


# -- a key is its maker's, with at most their role ----------------------------------------------------------------

@pytest.mark.parametrize("role", ROLES)
def test_nobody_mints_a_key_for_a_role_they_do_not_hold(world: World, role: str) -> None:
    person = next(name for name, r in PEOPLE.items() if r == role)
    browser, csrf = world.person(person)
    for other in ROLES:
        answer = browser.post("/v1/apikeys", json={"name": f"{person}-as-{other}", "role": other}, headers=csrf)
        if other == role:
            assert answer.status_code == 201 and answer.json()["role"] == role
        else:
            assert answer.status_code == 403, answer.text
    # A key makes no key (a stolen key must not outlive its revocation through another).
    assert world.client.post("/v1/apikeys", json={"name": "copy"}, headers=world.key(person)).status_code == 403
    with pytest.raises(ForbiddenError):
        accounts.add_api_key(world.sessions, "sneaky", "officer" if role != "officer" else "admin", owner=person)


def test_an_admin_cannot_search_or_review_through_a_key(world: World) -> None:
    adam, csrf = world.person("adam")
    mine = adam.post("/v1/apikeys", json={"name": "adam-bot"}, headers=csrf).json()
    assert mine["role"] == "admin"
    bearer = {"Authorization": f"Bearer {mine['key']}"}
    assert world.client.post("/v1/cases", json=CASE, headers=bearer).status_code == 403
    assert world.client.post("/v1/identify", headers=bearer).status_code == 403
    assert world.client.post("/v1/sightings/1/review", json={"decision": "confirm"}, headers=bearer).status_code == 403
    assert adam.post("/v1/apikeys", json={"name": "officer-bot", "role": "officer"}, headers=csrf).status_code == 403
    assert adam.post("/v1/apikeys", json={"name": "rev-bot", "role": "reviewer"}, headers=csrf).status_code == 403
    # The console's key form makes the admin's own key too, whatever role is sent.
    form = adam.post("/console/accounts/keys", data={"name": "sneaky-officer", "role": "officer",
                                                      "csrf_token": csrf["X-CSRF-Token"]})
    assert form.status_code == 400 and "acts with its owner" in form.text


def test_a_key_dies_with_its_owner_and_with_their_role(world: World) -> None:
    olga_key = world.key("olga")
    assert world.client.get("/v1/cases", headers=olga_key).status_code == 200
    accounts.set_user_disabled(world.sessions, "olga", True, actor="user:adam")
    assert world.client.get("/v1/cases", headers=olga_key).status_code == 401
    accounts.set_user_disabled(world.sessions, "olga", False, actor="user:adam")
    assert world.client.get("/v1/cases", headers=olga_key).status_code == 200
    with world.sessions.begin() as s:  # her role changes: the officer's key does not carry on as an officer
        s.execute(update(UserRow).where(UserRow.username == "olga").values(role="reviewer"))
    assert world.client.get("/v1/cases", headers=olga_key).status_code == 401
    with world.sessions.begin() as s:  # a key from before keys had owners works no more
        s.execute(update(ApiKeyRow).where(ApiKeyRow.name == "rob-key").values(owner=None))
    assert world.client.get("/v1/cases", headers=world.key("rob")).status_code == 401
    listed = {k.name: k.owner for k in accounts.list_api_keys(world.sessions)}
    assert listed["rita-key"] == "rita" and listed["rob-key"] is None


# -- actors are namespaced; one person counts once ----------------------------------------------------------------

def test_actors_are_namespaced_in_the_log_and_the_review_records(world: World) -> None:
    sighting = world.sighting("C1")
    assert decide(world, "rita", sighting)[0] == 200
    assert world.client.post("/v1/cases", json=CASE, headers=world.key("olga")).status_code == 201
    with world.sessions() as s:
        entries = list(audit.events(s))
        assert [r.reviewer for r in s.scalars(select(ReviewRow))] == ["user:rita"]
    assert next(e for e in entries if e.action == "sighting.confirm").actor == "user:rita"
    assert [e.actor for e in entries if e.action == "case.create"][-1] == "key:olga-key"
    assert next(e for e in entries if e.action == "account.key.add").actor == "user:adam"
    assert any(e.action == "account.sign_in" and e.actor == "user:rita" for e in entries)


def test_one_person_counts_once_however_many_credentials(world: World) -> None:
    sighting = world.sighting("C1")
    assert decide(world, "rita", sighting)[0] == 200
    second = make_second_browser(world, "rita")
    again = second.post(f"/v1/sightings/{sighting}/review", json={"decision": "confirm"}, headers=second.csrf)
    assert again.status_code == 409 and "rita has reviewed it already" in again.json()["error"]
    assert world.client.post(f"/v1/sightings/{sighting}/review", json={"decision": "confirm"},
                             headers=world.key("rita")).status_code == 403
    with world.sessions() as s:
        assert s.get_one(SightingRow, sighting).status == "candidate"
    assert decide(world, "rob", sighting)[1]["status"] == "confirmed"


def test_a_decision_recorded_before_actors_had_kinds_counts_for_the_same_person(world: World) -> None:
    sighting = world.sighting("C1")
    with world.sessions.begin() as s:
        s.add(ReviewRow(sighting_id=sighting, reviewer="rita", decision="confirm", seen={}, at=datetime.now(UTC)))
    status, body = decide(world, "rita", sighting)
    assert status == 409 and "rita has reviewed it already" in str(body["error"])


def test_nobody_reviews_whom_they_enrolled_through_any_credential(world: World) -> None:
    # rob enrolled this person through a key of his (when he was an officer, say): as a reviewer he may
    # not confirm it, signed in or otherwise.
    sighting = world.sighting("C1", enrolled_by="key:rob-key")
    status, body = decide(world, "rob", sighting)
    assert status == 400 and body["kind"] == "refused" and "rob enrolled" in str(body["error"])
    assert decide(world, "rita", sighting)[0] == 200


def test_two_reviewers_at_once_make_one_confirmed_sighting(world: World) -> None:
    sighting = world.sighting("C1")
    for person in ("rita", "rob"):
        world.person(person)
    results: dict[str, tuple[int, dict[str, object]]] = {}
    threads = [threading.Thread(target=lambda p=p: results.__setitem__(p, decide(world, p, sighting)))
               for p in ("rita", "rob")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(code for code, _ in results.values()) == [200, 200], results
    assert {body["status"] for _, body in results.values()} >= {"confirmed"}


def test_one_person_in_two_browsers_at_once_counts_once(world: World) -> None:
    sighting = world.sighting("C1")
    first, second = world.person("rita"), make_second_browser(world, "rita")
    results: list[int] = []

    def confirm(browser: Any, csrf: dict[str, str]) -> None:
        answer = browser.post(f"/v1/sightings/{sighting}/review", json={"decision": "confirm"}, headers=csrf)
        results.append(answer.status_code)

    threads = [threading.Thread(target=confirm, args=first),
               threading.Thread(target=confirm, args=(second, second.csrf))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [200, 409]
    with world.sessions() as s:
        assert len(s.scalars(select(ReviewRow)).all()) == 1


def make_second_browser(world: World, name: str) -> Any:
    """Another browser of ``name``'s, signed in on its own (its CSRF header as ``.csrf``)."""
    browser: Any = TestClient(world.client.app)
    answer = browser.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    browser.csrf = {"X-CSRF-Token": answer.json()["csrf_token"]}
    return browser


# -- the CLI acts as an account -----------------------------------------------------------------------------------

def as_person(name: str) -> dict[str, str]:
    return {"FACESEARCH_USER": name, "FACESEARCH_PASSWORD": PASSWORD}


def test_the_cli_acts_as_an_account_never_as_the_login_name(tmp_path: Path) -> None:
    from support.audit import open_audited

    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    # A fresh installation: the first administrator is made without signing in, and only an administrator.
    early = cli(home, "user", "add", "olga", "--role", "officer", "--password-stdin", stdin=PASSWORD + "\n")
    assert early.returncode == 2 and "no administrator yet" in early.stderr
    assert cli(home, "user", "add", "adam", "--role", "admin", "--password-stdin",
               stdin=PASSWORD + "\n").returncode == 0
    late = cli(home, "user", "add", "eve", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert late.returncode == 2 and "FACESEARCH_USER" in late.stderr  # from now on, an administrator signs in
    for name, role in (("olga", "officer"), ("rita", "reviewer"), ("rob", "reviewer")):
        made = cli(home, "user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n",
                   env=as_person("adam"))
        assert made.returncode == 0, made.stderr
    made = cli(home, "case", "create", "--title", "T", "--purpose", "victim", "--valid-until", UNTIL.date().isoformat(),
               "--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z", env=as_person("olga"))
    assert made.returncode == 0, made.stderr
    for name in ("rita", "rob"):
        assert cli(home, "case", "assign", "C1", name, env=as_person("adam")).returncode == 0
    world = World(None, open_audited(f"sqlite:///{home / 'facesearch.db'}")[1], None)  # type: ignore[arg-type]
    sighting = world.sighting("C1")

    # USER=rita is nobody: nothing is confirmed, and the message says how to sign in.
    forged = cli(home, "review", "confirm", str(sighting), env={"USER": "rita", "LOGNAME": "rita"})
    assert forged.returncode == 2 and "FACESEARCH_USER" in forged.stderr
    wrong = cli(home, "review", "confirm", str(sighting), env={"FACESEARCH_USER": "rita",
                                                              "FACESEARCH_PASSWORD": "not her password"})
    assert wrong.returncode == 2 and "wrong name or password" in wrong.stderr
    key = json.loads(cli(home, "apikey", "add", "rita-bot", "--json", env=as_person("rita")).stdout)
    assert key["role"] == "reviewer"
    by_key = cli(home, "review", "confirm", str(sighting), env={"FACESEARCH_API_KEY": key["key"]})
    assert by_key.returncode == 2 and "API key may not sightings.review" in by_key.stderr
    with world.sessions() as s:
        assert s.scalars(select(ReviewRow)).all() == []
    # Signed in as herself, rita confirms; a second credential of hers adds nothing; rob makes two.
    first = cli(home, "review", "confirm", str(sighting), "--json", env=as_person("rita"))
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["confirmations"] == 1
    assert cli(home, "review", "confirm", str(sighting), env=as_person("rita")).returncode == 2
    second = cli(home, "review", "confirm", str(sighting), "--json", env=as_person("rob"))
    assert json.loads(second.stdout)["status"] == "confirmed"
    # A key of the admin's is the admin's: it cannot be minted as an officer's.
    refused = cli(home, "apikey", "add", "ops", "--role", "officer", env=as_person("adam"))
    assert refused.returncode == 2 and "owner's role only" in refused.stderr
    with world.sessions() as s:
        entries = list(audit.events(s))
        reviewers = [r.reviewer for r in s.scalars(select(ReviewRow))]
    assert reviewers == ["user:rita", "user:rob"]
    actors = {(e.action, e.actor) for e in entries}
    assert ("sighting.confirm", "user:rita") in actors and ("case.create", "user:olga") in actors
    assert ("account.user.add", "user:adam") in actors
    assert any(a == "account.user.add" and actor.startswith("local:") for a, actor in actors)  # the bootstrap
    assert ("account.sign_in.failed", "rita") in actors or any(
        e.action == "account.sign_in.failed" for e in entries)
    assert not any(actor in ("rita", "rob", "olga", "adam") for a, actor in actors if a != "account.sign_in.failed")
