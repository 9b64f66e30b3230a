"""A camera registered with its own smallest face (a far camera's faces are small, a doorway's big): its live
searches use it unless the watch asks otherwise, it is said when the watch connects and recorded in the audit
log, and a bad value is refused with one line that names it, from the CLI's service and the API alike."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from test_watch_lease import active_case, wait_until

from facesearch.api.app import create_app
from facesearch.audit import log as audit
from facesearch.engine import Engine
from facesearch.errors import BadInputError
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CameraRow, SightingRow
from facesearch.video.cameras import add_camera, camera_min_face, list_cameras
from facesearch.video.watch import WatchEvent, WatchEventKind, watch
from owned_keys import key_for
from support.audit import open_audited
from support.context import context_for


def _one_pass(ctx: Any, ref: str, camera: str, clip: Path, **kwargs: Any) -> list[WatchEvent]:
    """Watch ``clip`` as camera ``camera``'s stream until it has been read once; its events."""
    events: list[WatchEvent] = []
    stop = threading.Event()
    worker = threading.Thread(target=watch, args=(ctx, ref, camera, str(clip)), daemon=True, kwargs={
        "actor": "officer", "stop": stop, "on_event": events.append, **kwargs})
    worker.start()
    assert wait_until(lambda: any(e.kind == WatchEventKind.DISCONNECTED for e in list(events)), 120)
    stop.set()
    worker.join(30)
    return events


def test_a_cameras_own_smallest_face_is_searched_for_unless_the_watch_asks_otherwise(
        tmp_path: Path, engine: Engine, people: Path, video: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'w.db'}")
    ctx = context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)
    ref = active_case(ctx, sessions, people)
    assert add_camera(ctx, "hall", name="Hall", actor="admin", min_face=60).min_face == 60
    for bad in (3.0, 5000.0, float("nan")):
        with pytest.raises(BadInputError, match="min_face"):
            add_camera(ctx, f"bad-{len(str(bad))}", name="Bad", actor="admin", min_face=bad)
    assert [c.id for c in list_cameras(sessions)] == ["cam-1", "hall"]  # nothing stored for the bad ones
    assert camera_min_face(sessions, "hall") == 60 and camera_min_face(sessions, "cam-1") is None
    clip = video / "short_hamilton_clip.mp4"

    # The hall's own 60 px: Miranda's far appearance (53 px) is too small to identify, his close-up is found.
    events = _one_pass(ctx, ref, "hall", clip)
    connected = next(e for e in events if e.kind == WatchEventKind.CONNECTED)
    assert "faces from 60 px searched" in connected.message and connected.data["smallest_face"] == 60
    with sessions() as s:
        starts = sorted(s.scalars(select(SightingRow.start_s).where(SightingRow.camera_id == "hall")))
        started = [e.details for e in audit.events(s) if e.action == "watch.start"]
    assert starts and min(starts) > 2.0, starts
    assert started[-1]["min_face"] == 60

    # The watch asks for 24 px: the far appearance is found too.
    events = _one_pass(ctx, ref, "hall", clip, min_face=24)
    assert any("faces from 24 px searched" in e.message for e in events if e.kind == WatchEventKind.CONNECTED)
    with sessions() as s:
        starts = sorted(s.scalars(select(SightingRow.start_s).where(SightingRow.camera_id == "hall")))
    assert min(starts) < 0.3, starts


def test_the_api_takes_a_cameras_smallest_face_and_refuses_a_bad_one(tmp_path: Path, engine: Engine) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")
    app = create_app(context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path))
    admin = {"Authorization": f"Bearer {key_for(sessions, 'admin-1', 'admin')}"}
    officer = {"Authorization": f"Bearer {key_for(sessions, 'officer-1', 'officer')}"}
    with TestClient(app) as client:
        made = client.post("/v1/cameras", headers=admin, json={"id": "far", "name": "Far", "min_face": 16})
        assert made.status_code in (200, 201) and made.json()["min_face"] == 16, made.text
        plain = client.post("/v1/cameras", headers=admin, json={"id": "door", "name": "Door"})
        assert plain.status_code in (200, 201) and plain.json()["min_face"] is None
        listed = {c["id"]: c["min_face"] for c in client.get("/v1/cameras", headers=admin).json()}
        assert listed == {"far": 16, "door": None}
        for bad in (3, 5000, "many", [24], 1e308):
            refused = client.post("/v1/cameras", headers=admin, json={"id": "odd", "name": "Odd", "min_face": bad})
            assert refused.status_code in (400, 422) and "min_face" in refused.text, (bad, refused.text)
        refused = client.post("/v1/cameras", headers=officer, json={"id": "odd", "name": "Odd", "min_face": 30})
        assert refused.status_code == 403
        assert client.post("/v1/cameras", json={"id": "odd", "name": "Odd", "min_face": 30}).status_code == 401
    with sessions() as s:
        assert s.get(CameraRow, "odd") is None
