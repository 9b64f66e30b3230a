"""Face sign-in (issue 17) with the real models: enrol from one photo, accept another photo of the same person
and refuse someone else's, refuse a still photo moved as a clip by the active check, lock a person out after
repeated failures (counted one by one when attempts come at once), delete the templates on removal, and say
in one line what is wrong with a bad capture or a bad setting."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from sqlalchemy import func, select, update

from facesearch.audit import log as audit
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.errors import BadInputError, FacesearchError
from facesearch.gallery.policy import EnrolmentRefused
from facesearch.images import to_jpeg
from facesearch.models.antispoofing import MIN_FACE_PX
from facesearch.settings import Settings
from facesearch.signin import service as signin
from facesearch.signin.capture import MAX_CLIP_FRAMES, CaptureError, read_capture
from facesearch.signin.liveness import (
    FLAT_RESIDUAL,
    MIN_TURN,
    active_layer,
    flat_residual,
    nose_in_face_frame,
    passive_layer,
)
from facesearch.store.crypto import Sealer
from facesearch.store.schema import IdentityRow, SignInPersonRow, SignInTemplateRow
from support.audit import open_audited
from support.clips import camera_photo, moved_photo_clip, printed_photo, screen_replay
from support.context import context_for


@pytest.fixture
def ctx(tmp_path: Path, engine: Engine) -> Any:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 's.db'}")
    return context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)


def installation(home: Path, engine: Engine, **settings: Any) -> Context:
    """A context whose installation has these sign-in settings."""
    _, sessions = open_audited(f"sqlite:///{home / 's.db'}")
    return Context(Settings(home=home, **settings), sessions, Sealer(os.urandom(32)), make_engine=lambda: engine)


def attempts(ctx: Any) -> list[dict[str, Any]]:
    with ctx.sessions() as s:
        return [e.details for e in audit.events(s) if e.action == "signin.attempt"]


def test_the_same_person_is_accepted_and_someone_else_refused(ctx: Any, people: Path) -> None:
    enrolled = signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin", consent_ref="form 17/3")
    assert enrolled.person.templates == 1 and enrolled.person.consent_ref == "form 17/3"
    same = signin.verify(ctx, "barack  OBAMA", (people / "obama2.jpg").read_bytes(), "obama2.jpg", actor="kiosk")
    assert same.accepted and same.matched and same.capture == "photo" and same.target_fmr == 1e-4
    assert same.score >= same.threshold and same.fmr <= 1e-4 and same.failures == 0
    layers = {layer.name: layer.passed for layer in same.liveness.layers}
    assert layers == {"capture": True, "active": None, "passive": True}  # a photo: no motion to judge
    other = signin.verify(ctx, "Barack Obama", (people / "biden.jpg").read_bytes(), "biden.jpg", actor="kiosk")
    assert not other.accepted and not other.matched and other.failures == 1
    assert other.reasons[0].startswith("the face does not match: score")
    strict = signin.verify(ctx, "Barack Obama", (people / "obama2.jpg").read_bytes(), "obama2.jpg", actor="kiosk",
                           target_fmr=1e-6)
    assert strict.threshold > same.threshold and strict.failures in (0, 1)
    assert same.fnmr is not None and strict.fnmr is not None and strict.fnmr > same.fnmr  # what strictness costs
    logged = attempts(ctx)
    assert [d["accepted"] for d in logged] == [True, False, strict.accepted]
    assert all(len(d["capture_sha256"]) == 64 and "liveness" in d for d in logged)
    with ctx.sessions() as s:
        enrol_entry = next(e for e in audit.events(s) if e.action == "signin.enrol")
        assert enrol_entry.details["purpose"] == "authentication" and enrol_entry.details["consent_ref"] == "form 17/3"
        assert s.scalar(select(func.count()).select_from(IdentityRow)) == 0  # never in the gallery or a watchlist
        row = s.scalar(select(SignInPersonRow))
        assert row is not None and row.name == "" and row.name_sealed  # the name sealed at rest


def test_a_still_photo_moved_as_a_clip_is_refused_by_the_active_check(ctx: Any, people: Path) -> None:
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    for swing in (0.0, 0.0015):  # moved flat, and swung about its vertical axis (perspective)
        clip = moved_photo_clip(people / "obama2.jpg", swing=swing)
        result = signin.verify(ctx, "Barack Obama", clip, "photo-held-up.mp4", actor="kiosk")
        assert result.capture == "clip" and result.frames >= 12
        assert result.matched and not result.accepted  # the face is his; it is not alive
        active = next(layer for layer in result.liveness.layers if layer.name == "active")
        assert active.passed is False and "moved as a flat picture does" in active.reasons[0], active.reasons


def test_a_printed_photo_or_a_screen_shown_to_the_camera_is_refused_by_the_passive_check(
        tmp_path: Path, engine: Engine, people: Path) -> None:
    import cv2

    ctx = installation(tmp_path, engine, signin_passive="refuse")
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    photo = np.ascontiguousarray(cv2.imread(str(people / "obama2.jpg"))[:, :, ::-1])
    live = signin.verify(ctx, "Barack Obama", to_jpeg(camera_photo(photo)), "camera.jpg", actor="kiosk")
    assert live.accepted, live.reasons
    for attack in (printed_photo, screen_replay):
        result = signin.verify(ctx, "Barack Obama", to_jpeg(attack(photo)), f"{attack.__name__}.jpg", actor="kiosk")
        passive = next(layer for layer in result.liveness.layers if layer.name == "passive")
        assert not result.accepted, attack.__name__
        assert passive.passed is False and passive.reasons[0].startswith("looks like a print or a screen"), \
            passive.reasons
    logged = attempts(ctx)[-1]["liveness"]["layers"]
    assert {x["layer"]: x["passed"] for x in logged}["passive"] is False


def test_an_installation_may_keep_captures_sealed_and_have_the_passive_check_only_reported(
        tmp_path: Path, engine: Engine, people: Path) -> None:
    import cv2

    ctx = installation(tmp_path, engine, signin_keep_captures=True)
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    printed = to_jpeg(printed_photo(np.ascontiguousarray(cv2.imread(str(people / "obama2.jpg"))[:, :, ::-1])))
    result = signin.verify(ctx, "Barack Obama", printed, "printed.jpg", actor="kiosk")
    passive = next(layer for layer in result.liveness.layers if layer.name == "passive")
    assert passive.passed is False and not passive.enforced and "reported only" in passive.reasons[0]
    assert result.accepted == result.matched and not any(r.startswith("passive") for r in result.reasons)
    junk = b"not a capture" * 10
    with pytest.raises(FacesearchError):
        signin.verify(ctx, "Barack Obama", junk, "junk.bin", actor="kiosk")

    kept = signin.captures(ctx, "Barack Obama")
    assert [k.bytes > len(d) for k, d in zip(kept, (printed, junk), strict=True)] == [True, True]
    folder = tmp_path / "signin-captures"
    stored = sorted(folder.rglob("*.sealed"))
    assert len(stored) == 2 and all(printed[:64] not in p.read_bytes() for p in stored)  # sealed, not as sent
    assert [d["capture_kept"] for d in attempts(ctx)] == [k.file for k in kept]
    written = signin.export_captures(ctx, "Barack Obama", tmp_path / "out", actor="admin")
    assert sorted(p.read_bytes() for p in written) == sorted([printed, junk])
    stored[0].write_bytes(stored[0].read_bytes()[:-1] + b"x")  # a kept capture changed on disk
    with pytest.raises(FacesearchError):
        signin.export_captures(ctx, "Barack Obama", tmp_path / "out2", actor="admin")
    signin.remove(ctx, "Barack Obama", actor="admin")
    assert not any(folder.rglob("*"))
    with ctx.sessions() as s:
        actions = [(e.action, e.details) for e in audit.events(s)]
    assert "signin.captures_export" in [a for a, _ in actions]
    assert next(d for a, d in actions if a == "signin.remove")["captures_deleted"] == 2


def test_an_installation_may_sign_in_from_clips_only(tmp_path: Path, engine: Engine, people: Path) -> None:
    ctx = installation(tmp_path, engine, signin_clips_only=True)
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    with pytest.raises(BadInputError, match="signs in from clips only"):
        signin.verify(ctx, "Barack Obama", (people / "obama2.jpg").read_bytes(), "obama2.jpg", actor="kiosk")
    assert attempts(ctx)[-1]["accepted"] is False and "clips only" in attempts(ctx)[-1]["problem"]
    clip = signin.verify(ctx, "Barack Obama", moved_photo_clip(people / "obama2.jpg"), "c.mp4", actor="kiosk")
    assert clip.capture == "clip"


def test_nothing_of_a_capture_is_kept_by_default(ctx: Any, people: Path) -> None:
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    signin.verify(ctx, "Barack Obama", (people / "obama2.jpg").read_bytes(), "obama2.jpg", actor="kiosk")
    assert not (ctx.settings.home / "signin-captures").exists() and signin.captures(ctx, "Barack Obama") == []
    assert attempts(ctx)[0]["capture_kept"] is None


def test_the_passive_check_judges_only_faces_big_enough_for_its_model() -> None:
    assert passive_layer([0.01, 0.9, 0.02], [MIN_FACE_PX + 50] * 3).passed is True  # the median decides
    assert passive_layer([0.9, 0.9, 0.02], [MIN_FACE_PX + 50] * 3).passed is False
    small = passive_layer([0.99, 0.99], [MIN_FACE_PX - 60, MIN_FACE_PX - 80])
    assert small.passed is None and small.reasons[0].startswith(f"not judged: the face is {MIN_FACE_PX - 60:.0f} px")
    # Only the frames with a big enough face count.
    assert passive_layer([0.99, 0.05], [MIN_FACE_PX - 1, MIN_FACE_PX]).passed is True


def _head(yaw_deg: float, depth: float = 1.0) -> np.ndarray:
    """The five landmarks of a head turned ``yaw_deg`` to its own left, projected (a camera 8 units away). The
    points: right eye, left eye, nose tip, right and left mouth corners, the nose ``0.6 * depth`` in front."""
    points = np.array([[-0.5, 0, 0], [0.5, 0, 0], [0, 0.45, -0.6 * depth], [-0.35, 0.9, -0.1 * depth],
                       [0.35, 0.9, -0.1 * depth]])
    a = np.deg2rad(yaw_deg)
    turn = np.array([[np.cos(a), 0, -np.sin(a)], [0, 1, 0], [np.sin(a), 0, np.cos(a)]])
    # The person faces the camera (their right eye on the picture's left); turning to their left brings the
    # nose towards their left eye.
    p = points @ turn.T
    return (100 * p[:, :2] / (8 + p[:, 2:3]) + 200).astype(np.float32)


def test_the_active_check_sees_depth_and_direction_in_landmarks() -> None:
    turning = [_head(y) for y in np.linspace(0, 25, 10)]
    assert active_layer(turning, None).passed and active_layer(turning, "left").passed
    wrong = active_layer(turning, "right")
    assert wrong.passed is False and "turned left" in wrong.reasons[0]
    flat = [_head(y, depth=0.0) for y in np.linspace(0, 25, 10)]  # a photo of a face, turned the same way
    assert active_layer(flat, None).passed is False
    still = [_head(0.0) + np.float32(k) for k in range(10)]  # a real face that only moves across the picture
    assert active_layer(still, None).passed is False
    assert np.allclose(nose_in_face_frame(np.stack(flat)), nose_in_face_frame(np.stack(flat))[:1], atol=1e-2)


def test_a_real_head_moving_in_real_footage_passes_the_active_check(engine: Engine, video: Path) -> None:
    """The shared clip of a man talking in a car: his head moves as heads do, which a photo cannot; and a still
    of it, moved as a photo would be, does not pass."""
    import cv2

    capture = read_capture((video / "carphone_pristine.mp4").read_bytes(), "carphone_pristine.mp4")
    detected = engine.detect(capture.frames)
    largest = [int(np.argmax(f.face_size)) for f in detected]
    landmarks = [f.landmarks[i] for f, i in zip(detected, largest, strict=True)]
    greys = [cv2.cvtColor(im.pixels, cv2.COLOR_RGB2GRAY) for im in capture.frames]
    flatness = flat_residual(greys, [f.boxes[i] for f, i in zip(detected, largest, strict=True)])
    assert flatness is not None and flatness > 1.1 * FLAT_RESIDUAL
    assert len(landmarks) == len(capture.frames) and active_layer(landmarks, None, flatness).passed
    across = nose_in_face_frame(np.stack(landmarks))[:, 0]
    assert np.ptp(across) > 2 * MIN_TURN  # far beyond the bar, where a moved photo stays under it
    # One of its frames, shifted and zoomed as a held-up photo is: every point follows one homography.
    still = greys[0]
    moved = [cv2.warpAffine(still, np.float32([[1 + 0.01 * k, 0, k], [0, 1 + 0.01 * k, 0.5 * k]]),
                            still.shape[::-1]) for k in range(len(greys))]
    box = detected[0].boxes[largest[0]]
    flat = flat_residual(moved, [box * np.float32(1 + 0.01 * k) + np.float32([k, 0.5 * k, k, 0.5 * k])
                                 for k in range(len(greys))])
    assert flat is not None and flat < 0.5 * FLAT_RESIDUAL


def test_repeated_failures_lock_the_person_out_with_growing_waits(ctx: Any, people: Path) -> None:
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    biden, obama2 = (people / "biden.jpg").read_bytes(), (people / "obama2.jpg").read_bytes()
    for k in range(1, signin.MAX_FAILURES + 1):
        assert signin.verify(ctx, "Barack Obama", biden, "biden.jpg", actor="kiosk").failures == k
    with pytest.raises(signin.SignInLocked) as locked:  # even the right face, while locked out
        signin.verify(ctx, "Barack Obama", obama2, "obama2.jpg", actor="kiosk")
    assert locked.value.http_status == 429 and 0 < (locked.value.retry_after_s or 0) <= signin.LOCK_S + 1
    assert "locked after 5 failed attempts" in str(locked.value)
    assert "locked_until" in attempts(ctx)[-1]  # the refusal is audited too

    def lock_ends() -> None:
        with ctx.sessions.begin() as s:
            s.execute(update(SignInPersonRow).values(locked_until=datetime.now(UTC) - timedelta(seconds=1)))

    lock_ends()
    assert not signin.verify(ctx, "Barack Obama", biden, "biden.jpg", actor="kiosk").accepted
    with pytest.raises(signin.SignInLocked) as again:
        signin.verify(ctx, "Barack Obama", obama2, "obama2.jpg", actor="kiosk")
    assert (again.value.retry_after_s or 0) > signin.LOCK_S  # the second lockout is twice as long
    lock_ends()
    accepted = signin.verify(ctx, "Barack Obama", obama2, "obama2.jpg", actor="kiosk")
    assert accepted.accepted and accepted.failures == 0
    with ctx.sessions() as s:
        row = s.scalar(select(SignInPersonRow))
        assert row is not None and row.failures == 0 and row.locked_until is None


def test_attempts_sent_at_once_are_counted_one_by_one(ctx: Any, people: Path) -> None:
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    biden = (people / "biden.jpg").read_bytes()
    outcomes: list[str] = []

    def attempt() -> None:
        try:
            result = signin.verify(ctx, "Barack Obama", biden, "biden.jpg", actor="kiosk")
            outcomes.append("accepted" if result.accepted else "refused")
        except signin.SignInLocked:
            outcomes.append("locked")

    threads = [threading.Thread(target=attempt) for _ in range(9)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert sorted(outcomes) == ["locked"] * 4 + ["refused"] * 5, outcomes  # never more than five judged


def test_removal_deletes_every_template_and_is_audited(ctx: Any, people: Path) -> None:
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg", people / "obama2.jpg"], actor="admin")
    assert [p.templates for p in signin.list_people(ctx)] == [2]
    removed = signin.remove(ctx, "Barack Obama", actor="admin")
    assert removed.templates == 2 and signin.list_people(ctx) == []
    with ctx.sessions() as s:
        assert s.scalar(select(func.count()).select_from(SignInTemplateRow)) == 0
        entry = [e for e in audit.events(s) if e.action == "signin.remove"][-1]
        assert entry.details == {"templates_deleted": 2, "captures_deleted": 0}
        assert entry.subject == f"signin:{removed.id}"
    with pytest.raises(signin.SignInNotFound):
        signin.verify(ctx, "Barack Obama", (people / "obama2.jpg").read_bytes(), "obama2.jpg", actor="kiosk")


def test_bad_enrolments_captures_and_settings_are_refused_in_one_line(ctx: Any, people: Path,
                                                                      tmp_path: Path) -> None:
    signin.enrol(ctx, "Barack Obama", [people / "obama.jpg"], actor="admin")
    with pytest.raises(signin.SignInConflict):
        signin.enrol(ctx, "barack obama", [people / "obama2.jpg"], actor="admin")
    with pytest.raises(EnrolmentRefused, match="no photo could be enrolled"):
        signin.enrol(ctx, "Crowd", [people / "two_people.jpg", b"not a photo"], actor="admin")
    with pytest.raises(BadInputError):
        signin.enrol(ctx, "bad\x1bname", [people / "obama.jpg"], actor="admin")
    photo = (people / "obama2.jpg").read_bytes()
    for kwargs in ({"target_fmr": 0.0}, {"target_fmr": 0.5}, {"target_fmr": float("nan")},
                   {"challenge": "up"}):
        with pytest.raises(BadInputError) as refused:
            signin.verify(ctx, "Barack Obama", photo, "obama2.jpg", actor="kiosk", **kwargs)
        assert len(str(refused.value).splitlines()) == 1
    for data, why in ((b"\x00" * 1000, "neither a photo nor a video clip"),
                      (moved_photo_clip(people / "obama2.jpg", frames=MAX_CLIP_FRAMES + 5, fps=60), "more than"),
                      (moved_photo_clip(people / "obama2.jpg", size=(2560, 1440), frames=3), "too big")):
        with pytest.raises(CaptureError) as bad:
            signin.verify(ctx, "Barack Obama", data, "capture.bin", actor="kiosk")
        assert str(bad.value).startswith("capture.bin: ") and why in str(bad.value), str(bad.value)
    two = signin.verify(ctx, "Barack Obama", (people / "two_people.jpg").read_bytes(), "two.jpg", actor="kiosk")
    assert not two.accepted and any("more than one face" in r for r in two.reasons), two.reasons
    with pytest.raises(FacesearchError):
        signin.verify(ctx, "Nobody", photo, "obama2.jpg", actor="kiosk")
