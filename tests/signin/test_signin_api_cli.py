"""Face sign-in through the API and the CLI: who may verify (every role, no credentials), the answer's shape,
a lockout as 429 with Retry-After, oversized and malformed captures, two clients at once; and the commands an
administrator and a kiosk type, with their exit codes."""

from __future__ import annotations

import os
import threading
import time as clock
from pathlib import Path
from typing import Any
from unittest import mock

from fastapi.testclient import TestClient

from facesearch.accounts.roles import ROLES
from facesearch.api.app import create_app
from facesearch.audit import log as audit
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.settings import Settings
from facesearch.signin import service as signin
from facesearch.store.crypto import Sealer
from owned_keys import add_people, key_for, run_as
from support.audit import open_audited
from support.clips import moved_photo_clip


def test_the_api_verifies_for_the_signin_role_only_and_locks_out(tmp_path: Path, engine: Engine,
                                                                 people: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")
    ctx = Context(Settings(home=tmp_path, max_upload_bytes=3_000_000), sessions, Sealer(os.urandom(32)),
                  make_engine=lambda: engine)
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    keys = {role: key_for(sessions, f"{role}-key", role) for role in ROLES}
    photo = (people / "obama2.jpg").read_bytes()
    url = "/v1/signin/Barack Obama/verify"

    def send(client: TestClient, role: str | None, data: bytes = photo, **form: Any) -> Any:
        headers = {} if role is None else {"Authorization": f"Bearer {keys[role]}"}
        return client.post(url, headers=headers, files={"capture": ("capture.jpg", data)},
                           data={k: str(v) for k, v in form.items()})

    with TestClient(create_app(ctx)) as client:
        assert send(client, None).status_code == 401
        for role in ROLES:
            answer = send(client, role)
            if role in ("signin", "admin"):
                assert answer.status_code == 200 and answer.json()["accepted"] is True, answer.text
                body = answer.json()
                assert body["capture"] == "photo" and body["target_fmr"] == 1e-4
                assert [x["layer"] for x in body["liveness"]["layers"]] == ["capture", "active", "passive"]
            else:
                assert answer.status_code == 403, (role, answer.text)
        clip = send(client, "signin", moved_photo_clip(people / "obama2.jpg"), challenge="left")
        assert clip.status_code == 200 and clip.json()["accepted"] is False and clip.json()["matched"] is True
        assert any(r.startswith("active:") for r in clip.json()["reasons"])
        for bad, status, words in ((b"junk" * 100, 400, "neither a photo nor a video clip"),
                                   (b"\0" * 3_000_001, 413, "larger than 3,000,000 bytes")):
            refused = send(client, "signin", bad)
            assert refused.status_code == status and words in refused.json()["error"], refused.text
        for form in ({"target_fmr": "0.5"}, {"target_fmr": "many"}, {"challenge": "up"}, {"challenge": "x" * 50}):
            refused = send(client, "signin", **form)
            assert refused.status_code in (400, 422), (form, refused.text)
        nobody = client.post("/v1/signin/Nobody/verify", headers={"Authorization": f"Bearer {keys['signin']}"},
                             files={"capture": ("c.jpg", photo)})
        assert nobody.status_code == 404
        too_long = client.post("/v1/signin/" + "x" * 301 + "/verify", files={"capture": ("c.jpg", photo)},
                               headers={"Authorization": f"Bearer {keys['signin']}"})
        assert too_long.status_code in (404, 422)

        # Kiosks at once, someone else's face: five attempts are judged, the rest refused as locked out. (The moved
        # photo and the junk capture counted as failures too; his own face clears the count first.)
        assert send(client, "signin").json()["accepted"] is True
        biden = (people / "biden.jpg").read_bytes()
        codes: list[int] = []

        def attempt() -> None:
            codes.append(send(client, "signin", biden).status_code)

        threads = [threading.Thread(target=attempt) for _ in range(7)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert sorted(codes) == [200] * 5 + [429] * 2, codes
        locked = send(client, "signin")
        assert locked.status_code == 429 and int(locked.headers["Retry-After"]) > 0
        assert "locked after" in locked.json()["error"]

        # Enrolment and removal: an administrator's, through the API too.
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        photos = [("photos", ("b.jpg", (people / "biden.jpg").read_bytes(), "image/jpeg"))]
        for role in ("signin", "officer", None):
            headers = {} if role is None else {"Authorization": f"Bearer {keys[role]}"}
            denied = client.post("/v1/signin", headers=headers, data={"name": "Joe Biden"}, files=photos)
            assert denied.status_code == (401 if role is None else 403)
        made = client.post("/v1/signin", headers=admin, data={"name": "Joe Biden", "consent_ref": "F-2"}, files=photos)
        assert made.status_code == 201 and made.json()["person"]["templates"] == 1, made.text
        again = client.post("/v1/signin", headers=admin, data={"name": "joe biden"}, files=photos)
        assert again.status_code == 409
        junk = client.post("/v1/signin", headers=admin, data={"name": "Junk"}, files=[("photos", ("j.jpg", b"xx"))])
        assert junk.status_code == 400 and "j.jpg" in junk.json()["error"]
        listed = client.get("/v1/signin", headers=admin).json()
        assert [(p["name"], p["templates"]) for p in listed] == [("Barack Obama", 1), ("Joe Biden", 1)]
        assert listed[0]["locked_until"] is not None  # still locked out from the attempts above
        gone = client.delete("/v1/signin/Joe Biden", headers=admin)
        assert gone.status_code == 200 and gone.json()["removed"]["templates"] == 1
        assert client.delete("/v1/signin/Joe Biden", headers=admin).status_code == 404


def test_the_server_chooses_the_challenge_and_the_client_cannot_change_it(tmp_path: Path, engine: Engine,
                                                                          people: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")
    ctx = Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32)), make_engine=lambda: engine)
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    keys = {role: key_for(sessions, f"{role}-key", role) for role in ROLES}
    kiosk = {"Authorization": f"Bearer {keys['signin']}"}
    clip = moved_photo_clip(people / "obama2.jpg", frames=20)
    with TestClient(create_app(ctx)) as client:
        url = "/v1/signin/Barack Obama/challenge"
        assert client.post(url).status_code == 401
        for role in ROLES:
            answer = client.post(url, headers={"Authorization": f"Bearer {keys[role]}"})
            assert answer.status_code == (200 if role in ("signin", "admin") else 403), (role, answer.text)
        # Two kiosks at once each get their own; over many, both ways come up (the server's random choice).
        issued: list[dict[str, Any]] = []
        threads = [threading.Thread(target=lambda: issued.append(client.post(url, headers=kiosk).json()))
                   for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        issued += [client.post(url, headers=kiosk).json() for _ in range(30)]
        assert len({c["token"] for c in issued}) == len(issued) == 32
        assert {c["direction"] for c in issued} == {"left", "right"}
        # Nobody enrolled of that name: a challenge all the same (whether a name is enrolled is not told here).
        assert client.post("/v1/signin/Nobody/challenge", headers=kiosk).status_code == 200

        def verify(**form: str) -> Any:
            return client.post("/v1/signin/Barack Obama/verify", headers=kiosk, data=form,
                               files={"capture": ("clip.mp4", clip)})

        token = issued[0]
        answered = verify(challenge_token=token["token"])
        assert answered.status_code == 200, answered.text
        with ctx.sessions() as s:
            last = [e.details for e in audit.events(s) if e.action == "signin.attempt"][-1]
        assert last["challenge"] == token["direction"] and last["challenge_issued"] is True
        other_way = "left" if token["direction"] == "right" else "right"
        changed = verify(challenge_token=token["token"], challenge=other_way)
        assert changed.status_code == 400 and f"asks for {token['direction']}" in changed.json()["error"]
        someone_else = client.post("/v1/signin/Joe Biden/challenge", headers=kiosk).json()["token"]
        for forged in (someone_else, token["token"][:-4] + "AAAA", "x" * 40, "x" * 1001):
            refused = verify(challenge_token=forged)
            assert refused.status_code in (400, 422), refused.text
        old = signin.issue_challenge(ctx, "Barack Obama")
        with mock.patch.object(clock, "time", return_value=clock.time() + signin.CHALLENGE_S + 1):
            expired = verify(challenge_token=old.token)
        assert expired.status_code == 400 and "expired" in expired.json()["error"]


def test_an_administrator_enrols_a_kiosk_verifies_and_removal_is_final(tmp_path: Path, people: Path) -> None:
    home = tmp_path / "home"
    assert run_as(home, "init", person=None).returncode == 0
    add_people(home, {"kiosk": "signin", "olga": "officer"})
    enrolled = run_as(home, "signin", "enroll", "Barack Obama", str(people / "obama.jpg"), "--consent-ref", "F-1",
                      person="adam")
    assert enrolled.returncode == 0 and "enrolled for sign-in from 1 photos" in enrolled.stdout, enrolled.stderr
    refused = run_as(home, "signin", "enroll", "Someone", str(people / "biden.jpg"), person="olga")
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    ok = run_as(home, "signin", "verify", "Barack Obama", str(people / "obama2.jpg"), person="kiosk")
    assert ok.returncode == 0 and "accepted" in ok.stdout and "active: not run" in ok.stdout, ok.stderr
    no = run_as(home, "signin", "verify", "Barack Obama", str(people / "biden.jpg"), "--json", person="kiosk")
    assert no.returncode == 1 and '"accepted": false' in no.stdout
    bad = run_as(home, "signin", "verify", "Barack Obama", str(people / "obama2.jpg"), "--fmr", "2",
                 person="kiosk")
    assert bad.returncode == 2 and "target_fmr 2" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    assert run_as(home, "signin", "remove", "Barack Obama", person="kiosk").returncode == 2  # not an admin's key
    assert run_as(home, "signin", "captures", "Barack Obama", person="kiosk").returncode == 2
    none_kept = run_as(home, "signin", "captures", "Barack Obama", "--json", person="adam")
    assert none_kept.returncode == 0 and '"captures": []' in none_kept.stdout, none_kept.stderr
    removed = run_as(home, "signin", "remove", "Barack Obama", person="adam")
    assert removed.returncode == 0 and "1 templates deleted" in removed.stdout
    gone = run_as(home, "signin", "verify", "Barack Obama", str(people / "obama2.jpg"), person="kiosk")
    assert gone.returncode == 2 and "nobody of this name is enrolled" in gone.stderr
    assert run_as(home, "audit", "verify", person="adam").returncode == 0
