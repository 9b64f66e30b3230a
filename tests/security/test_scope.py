"""Scope: a scan started through the API or the console reads under the media folder only, each file checked
as it is opened (a link out of the folder is refused, also one swapped in after the scan was asked for); a
case limited to cameras is searched on a registered camera it allows, never without one, and a refusal is
audited.

No real model is needed: the engine below finds no face anywhere, which is enough to tell a file that was
opened and searched from one that was refused before it was opened.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.audit import log as audit
from facesearch.audit.verification import verify as verify_log
from facesearch.cases.access import assign
from facesearch.cases.identify import identify
from facesearch.cases.service import CaseError, CaseRefused, activate_case, create_case
from facesearch.context import Context
from facesearch.detect.retinaface import DetectorConfig
from facesearch.errors import ErrorKind, NotFoundError
from facesearch.faces import Faces
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.video.cameras import add_camera
from facesearch.video.jobs import JobRunner
from facesearch.video.scan import list_videos, scan
from facesearch.video.scan_report import FileStatus
from facesearch.video.watch import watch
from owned_keys import key_for
from support.audit import open_audited

AUTH = {"legal_basis": "x", "authorisation_ref": "y", "authorised_by": "z"}
PASSWORD = "correct horse battery"


class NoFaceEngine:
    """Just enough of an engine to open and search footage: it is calibrated and finds nobody."""

    profile = "stub"
    embedding_size = 8
    recognizers: tuple[Any, ...] = ()
    weights: tuple[float, ...] = ()
    detector = SimpleNamespace(config=DetectorConfig())
    video_detector = SimpleNamespace(config=DetectorConfig(), reliable_face_px=24)
    calibration = SimpleNamespace(threshold_for_fmr=lambda _fmr: (0.5, False), fmr=lambda s: [1e-6] * len(s),
                                  operating_threshold=lambda _fmr, **_why: (0.5, False))

    def detect(self, images: list[Any], config: Any = None) -> list[Faces]:
        return [Faces.empty() for _ in images]

    detect_video = detect

    def load(self, data: bytes, source: str = "") -> None:
        return None

    def analyze(self, data: bytes, source: str = "") -> Faces:
        return Faces.empty()


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'scope.db'}")
    (tmp_path / "media").mkdir()
    settings = Settings(home=tmp_path / "home", media_root=tmp_path / "media")
    return Context(settings, sessions, Sealer(os.urandom(32)), make_engine=NoFaceEngine)


def active_case(ctx: Context, cameras: list[str] | None = None) -> str:
    now = datetime.now(UTC)
    case = create_case(ctx.sessions, title="Scope", purpose="victim", actor="officer", cameras=cameras,
                       valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=3), **AUTH)
    activate_case(ctx.sessions, case.ref, actor="officer")
    return case.ref


def refusals(ctx: Context) -> list[Any]:
    with ctx.sessions() as s:
        assert verify_log(s).ok
        return [e for e in audit.events(s) if e.action == "search.refused"]


def outcomes(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {Path(f["path"]).name: (f["status"], f["problem"]) for f in report["files"]}


def test_a_link_out_of_the_media_folder_is_refused_by_a_scan_job_and_the_folder_still_scanned(
        ctx: Context, tmp_path: Path, video: Path) -> None:
    media, outside = tmp_path / "media", tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(video / "short_hamilton_clip.mp4", media / "inside.mp4")
    shutil.copyfile(video / "short_hamilton_clip.mp4", outside / "secret.mp4")
    (outside / "deeper").mkdir()
    shutil.copyfile(video / "short_hamilton_clip.mp4", outside / "deeper" / "more.mp4")
    (media / "link.mp4").symlink_to(outside / "secret.mp4")  # a file link out of the folder
    (media / "away").symlink_to(outside / "deeper")  # a folder link out of the folder
    (media / "sub").mkdir()
    (media / "sub" / "up.mp4").symlink_to("../../outside/secret.mp4")  # relative, from a subfolder
    (media / "alias.mp4").symlink_to(media / "inside.mp4")  # a link that stays inside is fine
    ref = active_case(ctx)
    key = key_for(ctx.sessions, "bot", "officer")
    assign(ctx.sessions, ref, "bot-owner", actor="setup")  # need to know: the officer's case
    app = create_app(ctx, run_jobs=False)
    with TestClient(app) as client:
        submitted = client.post("/v1/scans", headers={"Authorization": f"Bearer {key}"},
                                json={"case": ref, "paths": [str(media)]})
        assert submitted.status_code == 202, submitted.text
        app.state.jobs._run(submitted.json()["id"])  # the worker's step, here in the test's thread
        job = client.get(f"/v1/scans/{submitted.json()['id']}", headers={"Authorization": f"Bearer {key}"}).json()
    assert job["status"] == "done", job
    files = outcomes(job["result"])
    assert files["inside.mp4"][0] == files["alias.mp4"][0] == "scanned"
    for name in ("link.mp4", "up.mp4", "away"):
        status, problem = files[name]
        assert status == "failed" and problem is not None and "outside the media folder" in problem, (name, problem)
    assert "not followed" in str(files["away"][1])
    assert set(files) == {"inside.mp4", "alias.mp4", "link.mp4", "up.mp4", "away"}  # nothing from outside
    with ctx.sessions() as s:
        end = [e for e in audit.events(s) if e.action == "scan.end"][-1]
    assert len(end.details["files_failed"]) == 3 and end.details["files_scanned"] == 2


def test_a_link_swapped_in_after_the_scan_was_submitted_is_refused_when_the_job_opens_it(
        ctx: Context, tmp_path: Path, video: Path) -> None:
    media, outside = tmp_path / "media", tmp_path / "outside"
    outside.mkdir()
    shutil.copyfile(video / "short_hamilton_clip.mp4", outside / "secret.mp4")
    (media / "a.mp4").write_bytes(b"an innocent recording")
    ref = active_case(ctx)
    jobs = JobRunner(ctx)
    job = jobs.submit_scan(ref, [str(media / "a.mp4")], camera=None, actor="officer")  # checked: it is inside
    (media / "a.mp4").unlink()
    (media / "a.mp4").symlink_to(outside / "secret.mp4")  # and now it leads out
    jobs._run(job.id)
    done = jobs.get(job.id, actor="system")
    assert done.status == "done" and done.result is not None
    [(status, problem)] = outcomes(done.result).values()
    assert status == "failed" and problem is not None and "outside the media folder" in problem

    # A link swapped in while the scan is under way, after the folder was walked: refused as it is opened.
    (media / "a.mp4").unlink()
    shutil.copyfile(video / "short_hamilton_clip.mp4", media / "a.mp4")
    (media / "b.mp4").write_bytes(b"listed while still inside")

    def swap(outcome: Any) -> None:
        if outcome.path.endswith("a.mp4"):
            (media / "b.mp4").unlink()
            (media / "b.mp4").symlink_to(outside / "secret.mp4")

    report = scan(ctx, [media], ref, actor="officer", media_root=media, on_file=swap)
    assert [(Path(f.path).name, f.status, "outside the media folder" in str(f.problem)) for f in report.files] == [
        ("a.mp4", FileStatus.SCANNED, False), ("b.mp4", FileStatus.FAILED, True)]
    (media / "b.mp4").unlink()
    # A person at their own shell (no media root) scans their own files, links and all, as before.
    (media / "a.mp4").unlink()
    (media / "a.mp4").symlink_to(outside / "secret.mp4")
    assert list_videos([media]) == ([media / "a.mp4"], [])


def test_a_case_limited_to_cameras_refuses_searches_without_a_registered_camera_it_allows(
        ctx: Context, tmp_path: Path, people: Path) -> None:
    ref = active_case(ctx, cameras=["cam-1", "cam-2"])
    add_camera(ctx, "cam-1", name="Door", actor="setup")  # cam-2 is allowed by the case but never registered
    add_camera(ctx, "cam-9", name="Elsewhere", actor="setup")
    photo = (people / "obama.jpg").read_bytes()
    clip = tmp_path / "media" / "x.mp4"
    clip.write_bytes(b"never opened")

    with pytest.raises(CaseRefused, match=r"limited to cameras cam-1, cam-2: name one"):
        identify(ctx, ref, photo, actor="reviewer")
    with pytest.raises(CaseError, match="cam-2: no such camera") as unknown:
        identify(ctx, ref, photo, actor="reviewer", camera="cam-2")
    assert isinstance(unknown.value, NotFoundError) and unknown.value.kind == ErrorKind.NOT_FOUND
    with pytest.raises(CaseRefused, match="camera 'cam-9' is not allowed"):
        identify(ctx, ref, photo, actor="reviewer", camera="cam-9")
    assert identify(ctx, ref, photo, actor="reviewer", camera="cam-1").faces == []  # allowed and registered

    with pytest.raises(CaseRefused, match="limited to cameras"):
        scan(ctx, [clip], ref, actor="officer")
    with pytest.raises(NotFoundError, match="cam-2: no such camera"):
        scan(ctx, [clip], ref, actor="officer", camera="cam-2")
    with pytest.raises(NotFoundError, match="cam-2: no such camera"):
        watch(ctx, ref, "cam-2", "rtsp://127.0.0.1:1/x", actor="officer", stop=threading.Event(), max_failures=1)

    refused = refusals(ctx)
    assert [(e.case_id, e.details["camera"]) for e in refused] == [
        (ref, None), (ref, "cam-2"), (ref, "cam-9"), (ref, None), (ref, "cam-2"), (ref, "cam-2")]
    assert "limited to cameras" in str(refused[0].details["reason"])
    assert "no such camera" in str(refused[1].details["reason"])

    # A case that names no camera may still not be searched on a camera nobody registered.
    open_ref = active_case(ctx)
    with pytest.raises(NotFoundError, match="cam-404: no such camera"):
        identify(ctx, open_ref, photo, actor="reviewer", camera="cam-404")
    assert identify(ctx, open_ref, photo, actor="reviewer").faces == []


def test_the_api_and_the_console_refuse_such_searches_and_scans_before_queueing_them(
        ctx: Context, people: Path) -> None:
    ref = active_case(ctx, cameras=["cam-1", "cam-2"])
    add_camera(ctx, "cam-1", name="Door", actor="setup")
    (ctx.settings.resolved_media_root / "x.mp4").write_bytes(b"never opened")
    media = str(ctx.settings.resolved_media_root)
    officer = {"Authorization": f"Bearer {key_for(ctx.sessions, 'bot', 'officer')}"}
    assign(ctx.sessions, ref, "bot-owner", actor="setup")  # need to know: the officer's case
    accounts.add_user(ctx.sessions, "olga", PASSWORD, "officer", actor="setup")
    assign(ctx.sessions, ref, "olga", actor="setup")
    photo = {"photo": ("x.jpg", (people / "obama.jpg").read_bytes(), "image/jpeg")}
    app = create_app(ctx, run_jobs=False)
    with TestClient(app) as client:
        bare = client.post("/v1/identify", headers=officer, data={"case": ref}, files=photo)
        assert bare.status_code == 400 and bare.json()["kind"] == "refused", bare.text
        assert "limited to cameras cam-1, cam-2: name one" in bare.json()["error"]
        unknown = client.post("/v1/identify", headers=officer, data={"case": ref, "camera": "cam-2"}, files=photo)
        assert unknown.status_code == 404 and unknown.json()["kind"] == "not_found", unknown.text
        assert client.post("/v1/identify", headers=officer, data={"case": ref, "camera": "cam-1"},
                           files=photo).status_code == 200

        bare = client.post("/v1/scans", headers=officer, json={"case": ref, "paths": [media]})
        assert bare.status_code == 400 and bare.json()["kind"] == "refused", bare.text
        unknown = client.post("/v1/scans", headers=officer, json={"case": ref, "paths": [media], "camera": "cam-2"})
        assert unknown.status_code == 404 and unknown.json()["kind"] == "not_found", unknown.text
        for bad in ("../cam-1", "cam 1", "", "x" * 101):
            malformed = client.post("/v1/scans", headers=officer, json={"case": ref, "paths": [media], "camera": bad})
            assert malformed.status_code == 422, (bad, malformed.text)
        assert client.get("/v1/scans", headers=officer).json() == []  # nothing was queued
        queued = client.post("/v1/scans", headers=officer, json={"case": ref, "paths": [media], "camera": "cam-1"})
        assert queued.status_code == 202 and queued.json()["params"]["camera"] == "cam-1", queued.text

        page = client.post("/console/login", data={"username": "olga", "password": PASSWORD})
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        form = {"csrf_token": token, "case": ref, "paths": media}
        bare_form = client.post("/console/scans", data=form)
        assert "not started" in bare_form.text and "limited to cameras cam-1, cam-2: name one" in bare_form.text
        assert "not started" in client.post("/console/scans", data={**form, "camera": "cam-2"}).text
        assert "not started" in client.post("/console/scans", data={**form, "camera": "cam 1!"}).text
        assert len(client.get("/v1/scans", headers=officer).json()) == 1

    refused = refusals(ctx)
    assert [(e.actor, e.details["camera"]) for e in refused] == [
        ("key:bot", None), ("key:bot", "cam-2"), ("key:bot", None), ("key:bot", "cam-2"), ("user:olga", None),
        ("user:olga", "cam-2")]  # actors by kind: a program's key, a person
    assert refused[2].details["source"] == media
