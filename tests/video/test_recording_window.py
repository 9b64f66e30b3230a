"""Two limits per case: the validity (when searches may run) and the recording window (which recordings a
search may cover). The README's case flow, followed literally, finds a person in a recording made before the
case opened; a recording older than the window is refused, saying so; a case may narrow the window, never
widen it."""

from __future__ import annotations

import json
import os
import shutil
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from facesearch.api.app import create_app
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from owned_keys import add_people, key_for
from owned_keys import run_as as run
from support.audit import open_audited

AUTHORISED = ("--legal-basis", "Police Act s. 12", "--authorisation-ref", "AUTH-7", "--authorised-by", "J. Judge")


def _aged_copy(video: Path, folder: Path, days: float) -> Path:
    """A copy of the Hamilton clip whose file was last modified ``days`` ago (its only recording time)."""
    folder.mkdir(parents=True, exist_ok=True)
    copy = folder / "short_hamilton_clip.mp4"
    shutil.copyfile(video / "short_hamilton_clip.mp4", copy)
    then = time.time() - days * 86400
    os.utime(copy, (then, then))
    return copy


@pytest.fixture(scope="module")
def readme_case(tmp_path_factory: pytest.TempPathFactory, people: Path) -> Path:
    """The README's case flow, word for word where it can be: create (valid from now), enrol, activate,
    register the camera."""
    home = tmp_path_factory.mktemp("home")
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})
    valid_until = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%d")
    created = run(home, "case", "create", "--title", "Missing: J. Doe", "--purpose", "missing-person", *AUTHORISED,
                  "--valid-until", valid_until, "--cameras", "cam-1,cam-2")
    assert created.returncode == 0, created.stderr
    assert "covers recordings from" in created.stdout  # the window, shown with the validity
    photo = str(people / "lin-manuel-miranda.png")
    enrolled = run(home, "enroll", "--case", "C1", "--name", "Lin-Manuel Miranda", photo)
    assert enrolled.returncode == 0, enrolled.stderr
    assert run(home, "case", "activate", "C1").returncode == 0
    added = run(home, "camera", "add", "cam-2", "--name", "Platform 2", person="adam")
    assert added.returncode == 0, added.stderr
    return home


def test_the_readme_flow_finds_the_person_in_a_recording_made_before_the_case(readme_case: Path, video: Path,
                                                                              tmp_path: Path) -> None:
    shown = json.loads(run(readme_case, "case", "show", "C1", "--json").stdout)
    valid_from = datetime.fromisoformat(shown["valid_from"])
    assert datetime.fromisoformat(shown["recorded_from"]) == valid_from - timedelta(days=30)
    assert shown["recorded_until"] == shown["valid_until"]

    clip = _aged_copy(video, tmp_path / "recordings", days=3)
    scanned = run(readme_case, "scan", str(clip.parent), "--case", "C1", "--camera", "cam-2", "--json")
    assert scanned.returncode == 0, scanned.stdout + scanned.stderr
    report = json.loads(scanned.stdout)
    assert report["files"][0]["status"] == "scanned" and report["files"][0]["time_source"] == "file modified"

    found = json.loads(run(readme_case, "sightings", "--case", "C1", "--json").stdout)
    assert found and {s["name"] for s in found} == {"Lin-Manuel Miranda"}
    for s in found:  # the time came from the file's modification: weak evidence, and said so
        assert s["time_source"] == "file modified" and s["time_weak"] is True
        assert datetime.fromisoformat(s["started_at"]) < valid_from - timedelta(days=2)
    table = run(readme_case, "sightings", "--case", "C1")
    assert table.returncode == 0 and "weak" in table.stdout


def test_a_recording_older_than_the_window_is_refused_with_the_reason(readme_case: Path, video: Path,
                                                                     tmp_path: Path) -> None:
    clip = _aged_copy(video, tmp_path / "old", days=40)
    scanned = run(readme_case, "scan", str(clip), "--case", "C1", "--camera", "cam-2", "--json")
    outcome = json.loads(scanned.stdout)["files"][0]
    assert scanned.returncode != 0 and outcome["status"] == "failed"
    assert "outside C1's recording window" in outcome["problem"] and "file modified" in outcome["problem"]


def test_a_case_may_narrow_its_recording_window_but_not_widen_it(readme_case: Path) -> None:
    now = datetime.now(UTC)
    until = (now + timedelta(days=5)).strftime("%Y-%m-%d")
    start = (now - timedelta(days=7)).strftime("%Y-%m-%d")
    narrowed = run(readme_case, "case", "create", "--title", "Narrow", "--purpose", "victim", *AUTHORISED,
                   "--valid-until", until, "--recorded-from", start, "--recorded-until", until, "--json")
    assert narrowed.returncode == 0, narrowed.stderr
    case = json.loads(narrowed.stdout)
    assert case["recorded_from"].startswith(start) and case["recorded_until"] == case["valid_until"]
    shown = run(readme_case, "case", "show", case["id"])
    assert f"covers recordings from {start} 00:00" in shown.stdout

    too_early = (now - timedelta(days=45)).strftime("%Y-%m-%d")
    widened = run(readme_case, "case", "create", "--title", "Wide", "--purpose", "victim", *AUTHORISED,
                  "--valid-until", until, "--recorded-from", too_early)
    assert widened.returncode != 0 and "recorded_from" in widened.stderr and "30 days" in widened.stderr
    later = (now + timedelta(days=9)).strftime("%Y-%m-%d")
    past_end = run(readme_case, "case", "create", "--title", "Wide", "--purpose", "victim", *AUTHORISED,
                   "--valid-until", until, "--recorded-until", later)
    assert past_end.returncode != 0 and "recorded_until" in past_end.stderr


def test_the_api_creates_a_case_with_its_recording_window(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")

    def no_engine() -> object:
        raise AssertionError("creating a case needs no model")

    app = create_app(Context(Settings(home=tmp_path, recording_lookback_days=10), sessions, Sealer(os.urandom(32)),
                             make_engine=no_engine))  # type: ignore[arg-type]
    officer = {"Authorization": f"Bearer {key_for(sessions, 'officer-1', 'officer')}"}
    now = datetime.now(UTC)
    body = {"title": "T", "purpose": "victim", "valid_from": now.isoformat(),
            "valid_until": (now + timedelta(days=5)).isoformat(), "legal_basis": "x", "authorisation_ref": "y",
            "authorised_by": "z"}
    with TestClient(app) as client:
        made = client.post("/v1/cases", headers=officer, json={
            **body, "recorded_from": (now - timedelta(days=4)).strftime("%Y-%m-%d"),
            "recorded_until": (now + timedelta(days=1)).isoformat()})
        assert made.status_code == 201, made.text
        case = made.json()
        assert case["recorded_from"].startswith((now - timedelta(days=4)).strftime("%Y-%m-%d"))
        assert datetime.fromisoformat(case["recorded_until"]) == now + timedelta(days=1)
        assert client.get(f"/v1/cases/{case['id']}", headers=officer).json()["recorded_from"] == case["recorded_from"]

        default = client.post("/v1/cases", headers=officer, json=body).json()  # this installation: 10 days back
        assert datetime.fromisoformat(default["recorded_from"]) == now - timedelta(days=10)

        wide = client.post("/v1/cases", headers=officer, json={**body, "recorded_from": (now - timedelta(days=11))
                                                               .isoformat()})
        assert wide.status_code == 400 and wide.json()["error"].startswith("recorded_from:"), wide.text


def test_a_case_stored_before_the_window_existed_covers_its_validity_only() -> None:
    """No look-back was authorised for such a case: it covers its validity, as when it was authorised (and not a
    constant look-back that ignored the installation's setting); ``case recording-window`` widens it, authorised."""
    from facesearch.cases.service import recording_window
    from facesearch.store.schema import CaseRow

    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
    old = CaseRow(valid_from=start.replace(tzinfo=None), valid_until=end.replace(tzinfo=None))  # as SQLite returns
    assert recording_window(old) == (start, end)
