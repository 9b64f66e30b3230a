"""The API with the real models: enrol by upload with quality feedback, verify and identify uploads
(with their limits), and a scan run as a background job that two reviewers then confirm."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from facesearch.api.app import create_app
from facesearch.cases.access import assign
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from owned_keys import key_for
from support.audit import open_audited


def test_enrol_search_scan_and_review_through_the_api(tmp_path: Path, engine: Engine, people: Path,
                                                      video: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")
    settings = Settings(home=tmp_path, media_root=video, max_upload_bytes=2_000_000)
    app = create_app(Context(settings, sessions, Sealer(os.urandom(32)), make_engine=lambda: engine))
    key = {r: key_for(sessions, f"{r}-{n}", r)
           for n, r in enumerate(("officer", "reviewer", "auditor"))}
    key_for(sessions, "reviewer-2", "reviewer")  # a second reviewer (reviewer-2-owner)
    officer = {"Authorization": f"Bearer {key['officer']}"}
    with TestClient(app) as client:  # the lifespan starts the job worker
        now = datetime.now(UTC)
        case = client.post("/v1/cases", headers=officer, json={
            "title": "Hamilton", "purpose": "victim", "valid_from": (now - timedelta(days=1)).isoformat(),
            "valid_until": (now + timedelta(days=5)).isoformat(), "legal_basis": "x", "authorisation_ref": "y",
            "authorised_by": "z"}).json()
        for name, photo in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")):
            enrolled = client.post("/v1/identities", headers=officer, data={"name": name, "case": case["id"]},
                                   files=[("photos", (photo, (people / photo).read_bytes(), "image/png"))])
            assert enrolled.status_code == 201 and enrolled.json()["photos"][0]["accepted"], enrolled.text
        small = client.post("/v1/identities", headers=officer, data={"name": "Far away"},
                            files=[("photos", ("small.jpg", (people / "obama-240p.jpg").read_bytes(), "image/jpeg"))])
        assert small.status_code == 400 and "too small" in small.json()["error"]  # quality feedback, one line
        assert client.post(f"/v1/cases/{case['id']}/activate", headers=officer).status_code == 200
        listed = client.get(f"/v1/identities?case={case['id']}", headers=officer).json()
        assert [(p["name"], p["templates"]) for p in listed] == [("Lin-Manuel Miranda", 1), ("Alex Lacamoire", 1)]

        same = client.post("/v1/verify", headers=officer, files={
            "a": ("a.jpg", (people / "obama.jpg").read_bytes()), "b": ("b.jpg", (people / "obama2.jpg").read_bytes())})
        assert same.status_code == 200 and same.json()["same"] is True
        junk = client.post("/v1/verify", headers=officer, files={"a": ("a.jpg", b"not an image"),
                                                                 "b": ("b.jpg", (people / "obama.jpg").read_bytes())})
        assert (junk.status_code == 400 and "a.jpg" not in junk.json()["error"]) or junk.status_code == 400
        big = client.post("/v1/verify", headers=officer, files={"a": ("big.bin", b"\0" * 2_000_001),
                                                                "b": ("b.jpg", b"x")})
        assert big.status_code == 413 and "big.bin: larger than 2,000,000 bytes" in big.json()["error"]
        found = client.post("/v1/identify", headers=officer, data={"case": case["id"]},
                            files={"photo": ("x.png", (people / "lin-manuel-miranda.png").read_bytes())})
        assert found.json()["faces"][0]["candidates"][0]["name"] == "Lin-Manuel Miranda"

        outside = client.post("/v1/scans", headers=officer, json={"case": case["id"], "paths": ["/etc"]})
        assert outside.status_code == 400 and "outside the media folder" in outside.json()["error"]
        clip = str(video / "short_hamilton_clip.mp4")
        no_time = client.post("/v1/scans", headers=officer, json={"case": case["id"], "paths": [clip], "start": "noon"})
        assert no_time.status_code == 400 and "noon: not a date" in no_time.json()["error"]
        for bad in (2, 5000, "many"):  # the smallest face searched: the CLI's --min-face, by the same rule
            refused = client.post("/v1/scans", headers=officer, json={"case": case["id"], "paths": [clip],
                                                                      "min_face": bad})
            assert refused.status_code in (400, 422) and "min_face" in refused.text, refused.text
        # The recording's start as the operator knows it (the CLI's --start, the console's "Recording started").
        began = (now - timedelta(hours=3)).replace(microsecond=0)
        job = client.post("/v1/scans", headers=officer, json={"case": case["id"], "paths": [clip],
                                                               "start": began.isoformat()}).json()
        for _ in range(600):
            state = client.get(f"/v1/scans/{job['id']}", headers=officer).json()
            if state["status"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.2)
        assert state["status"] == "done", state
        assert state["result"]["sightings"] == 2
        assert state["params"]["min_face"] == 24 and state["result"]["files"][0]["smallest_face_px"] == 24

        listed = client.get(f"/v1/sightings?case={case['id']}", headers=officer)
        for sighting in listed.json():  # seconds into the recording, from the start given
            offset = datetime.fromisoformat(sighting["started_at"]) - began
            assert sighting["time_source"] == "given", sighting
            assert abs(offset.total_seconds() - sighting["start"]) < 0.01, sighting
        close_up = max(listed.json(), key=lambda x: x["end"] - x["start"])["id"]
        # Reviewers decide in person (signed in, never by key), on a case they are assigned to.
        by_key = client.post(f"/v1/sightings/{close_up}/review", json={"decision": "confirm"},
                             headers={"Authorization": f"Bearer {key['reviewer']}"})
        assert by_key.status_code == 403
        people_signed_in = []
        for person in ("reviewer-1-owner", "reviewer-2-owner"):
            assign(sessions, case["id"], person, actor="user:admin")
            browser = TestClient(app)
            csrf = browser.post("/v1/auth/login", json={"username": person, "password": "correct horse battery"}
                                ).json()["csrf_token"]
            people_signed_in.append((browser, {"X-CSRF-Token": csrf}))
            decided = browser.post(f"/v1/sightings/{close_up}/review", json={"decision": "confirm"},
                                   headers={"X-CSRF-Token": csrf})
            assert decided.status_code == 200, decided.text
        assert decided.json()["status"] == "confirmed"
        browser, csrf_header = people_signed_in[0]
        again = browser.post(f"/v1/sightings/{close_up}/review", json={"decision": "reject"}, headers=csrf_header)
        assert again.status_code == 409 and "already confirmed" in again.json()["error"]
