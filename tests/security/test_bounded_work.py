"""The work a client can make the server do is bounded (issue 13, item 3, second part):

- an upload's pixels are counted from its header: a 300 KB PNG of 10000 x 9999 pixels is refused (400, naming
  the file and its size) without decoding it; a JPEG larger than face work needs is decoded reduced;
- each upload is decoded once per request (identify decoded it twice);
- at most ``max_concurrent_decodes`` requests do face work at once; the others wait a bounded time, then 503
  with Retry-After;
- alert streams hold no worker thread (45 streams made /health take 17 s), are capped per person (429) and
  end when the client goes or the session ends;
- failed sign-ins reach the audit log in bounded number, with their count.
"""

from __future__ import annotations

import http.client
import io
import os
import struct
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from PIL import Image, ImageFile
from sqlalchemy import select

from facesearch import images
from facesearch.accounts import service as accounts
from facesearch.accounts.limits import FailedSignIns
from facesearch.accounts.roles import ROLES, allowed
from facesearch.api.app import create_app
from facesearch.api.routes.uploads import photo_of
from facesearch.api.slots import StreamSlots
from facesearch.audit.actions import AuditAction
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.errors import ImageError
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import AuditEventRow
from support.audit import open_audited
from support.rtsp import free_port

PASSWORD = "correct horse battery"


def png_claiming(width: int, height: int) -> bytes:
    """A valid RGB PNG of ``width`` x ``height`` black pixels, built row by row (never whole in memory)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    packer, row = zlib.compressobj(9), b"\0" * (3 * width + 1)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


@pytest.fixture(scope="module")
def bomb() -> bytes:
    data = png_claiming(10_000, 9_999)
    assert len(data) < 400_000  # about 300 KB on the wire, 300 MB decoded
    return data


class Uncalibrated:
    """An engine that refuses every identification at once (its profile has no calibration)."""

    calibration = None
    profile = "stub"


class NoEngine:
    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"the engine was reached ({name}): the upload should have been refused before")


def make_context(tmp_path: Path, engine: Any = None, **settings: Any) -> Context:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'w.db'}")
    return Context(Settings(home=tmp_path, **settings), sessions, Sealer(os.urandom(32)),
                   make_engine=lambda: engine if engine is not None else NoEngine())


def signed_in(client: TestClient, sessions: Any, name: str, role: str) -> dict[str, str]:
    accounts.add_user(sessions, name, PASSWORD, role, actor="setup")
    answer = client.post("/v1/auth/login", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"X-CSRF-Token": answer.json()["csrf_token"]}


# --- pixels -------------------------------------------------------------------------------------------------


def test_a_png_claiming_100_megapixels_is_refused_from_its_header(tmp_path: Path, bomb: bytes,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    loads: list[str] = []
    real_load = ImageFile.ImageFile.load

    def counted_load(self: ImageFile.ImageFile) -> Any:
        loads.append(str(self.format))
        return real_load(self)

    monkeypatch.setattr(ImageFile.ImageFile, "load", counted_load)
    ctx = make_context(tmp_path)
    tracemalloc.start()
    try:
        with pytest.raises(ImageError) as refused:
            photo_of(ctx, bomb, "huge.png")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert loads == [] and peak < 5_000_000  # decoded it would be 300 MB
    message = str(refused.value)
    assert message.startswith("huge.png: ") and "10000x9999" in message and "the limit is 40" in message

    app = create_app(ctx, run_jobs=False)
    client = TestClient(app)
    officer = signed_in(client, ctx.sessions, "olga", "officer")
    for path, files, data in (("/v1/verify", {"a": ("huge.png", bomb), "b": ("b.png", bomb)}, None),
                              ("/v1/identify", {"photo": ("huge.png", bomb)}, {"case": "C1"}),
                              ("/v1/identities", [("photos", ("huge.png", bomb))], {"name": "P"})):
        answer = client.post(path, files=files, data=data, headers=officer)  # type: ignore[arg-type]
        assert answer.status_code == 400, (path, answer.text)
        assert answer.json()["kind"] == "bad_input" and answer.json()["error"].startswith("huge.png: image too large")
    assert loads == []  # no route decoded it (and NoEngine shows no model was asked)


def test_large_jpegs_are_decoded_reduced_and_other_formats_are_not() -> None:
    # The rule: halve while the longer side stays >= FACE_SIDE (6000 px), then while over the pixel cap.
    assert images.reduction(4000, 3000, 40_000_000) == 1  # a phone photo: full resolution
    assert images.reduction(7000, 5000, 40_000_000) == 1  # 35 MP, longer side under 2 x 6000: full resolution
    assert images.reduction(13_000, 9_000, 200_000_000) == 2  # 6500 px kept: faces lose nothing
    assert images.reduction(8000, 6000, 40_000_000) == 2  # 48 MP: only a reduced decode fits the cap
    assert images.reduction(60_000, 60_000, 40_000_000) == 8  # (and is then still refused: 56 MP)
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1500), (90, 120, 150)).save(buffer, "JPEG", quality=80)
    jpeg = buffer.getvalue()
    reduced = images.load_image(jpeg, source="wide.jpg", max_pixels=1_000_000, reduce=True)
    assert reduced.size == (750, 1000) and reduced.scale == 0.5
    full = images.load_image(jpeg, source="wide.jpg", max_pixels=4_000_000, reduce=True)
    assert full.size == (1500, 2000) and full.scale == 1.0
    with pytest.raises(ImageError, match=r"^wide.jpg: image too large: 2000x1500"):
        images.load_image(jpeg, source="wide.jpg", max_pixels=1_000_000)  # without reduce: the cap as it is
    buffer = io.BytesIO()
    Image.new("RGB", (2000, 1500)).save(buffer, "PNG")
    with pytest.raises(ImageError, match=r"^wide.png: image too large: 2000x1500"):
        images.load_image(buffer.getvalue(), source="wide.png", max_pixels=1_000_000, reduce=True)


# --- one decode per request -----------------------------------------------------------------------------------


def test_each_upload_is_decoded_once(tmp_path: Path, engine: Engine, people: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    decodes: list[int] = []
    real = images._decode

    def counted(*args: Any, **kwargs: Any) -> Any:
        decodes.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(images, "_decode", counted)
    ctx = make_context(tmp_path, engine)
    client = TestClient(create_app(ctx, run_jobs=False))
    officer = signed_in(client, ctx.sessions, "olga", "officer")
    now = datetime.now(UTC)
    case = client.post("/v1/cases", headers=officer, json={
        "title": "T", "purpose": "victim", "valid_from": (now - timedelta(days=1)).isoformat(),
        "valid_until": (now + timedelta(days=5)).isoformat(), "legal_basis": "x", "authorisation_ref": "y",
        "authorised_by": "z"}).json()
    photo = (people / "lin-manuel-miranda.png").read_bytes()

    decodes.clear()
    enrolled = client.post("/v1/identities", headers=officer, data={"name": "L", "case": case["id"]},
                           files=[("photos", ("l.png", photo, "image/png"))])
    assert enrolled.status_code == 201, enrolled.text
    assert len(decodes) == 1
    assert client.post(f"/v1/cases/{case['id']}/activate", headers=officer).status_code == 200

    decodes.clear()
    found = client.post("/v1/identify", headers=officer, data={"case": case["id"]}, files={"photo": ("x.png", photo)})
    assert found.status_code == 200 and found.json()["faces"][0]["candidates"][0]["name"] == "L", found.text
    assert len(decodes) == 1  # was 2: the route decoded it to check it, then the engine again

    decodes.clear()
    same = client.post("/v1/verify", headers=officer, files={"a": ("a.png", photo), "b": ("b.png", photo)})
    assert same.status_code == 200 and same.json()["same"] is True
    assert len(decodes) == 2  # one per photo


# --- concurrent face work -------------------------------------------------------------------------------------


def test_face_work_is_bounded_and_the_excess_waits_then_gets_503(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    running, most = [0], [0]
    lock = threading.Lock()
    real = images._decode

    def slow(*args: Any, **kwargs: Any) -> Any:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            time.sleep(0.6)
            return real(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(images, "_decode", slow)
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64)).save(buffer, "PNG")
    blank = buffer.getvalue()
    ctx = make_context(tmp_path, Uncalibrated(), max_concurrent_decodes=1, decode_wait_s=0.2)
    app = create_app(ctx, run_jobs=False)
    client = TestClient(app)
    officer = signed_in(client, ctx.sessions, "olga", "officer")

    def identify(_: int) -> Any:
        return client.post("/v1/identify", headers=officer, data={"case": "C1"}, files={"photo": ("p.png", blank)})

    with ThreadPoolExecutor(2) as pool:  # two clients at once, one slot
        answers = list(pool.map(identify, range(2)))
    codes = sorted(a.status_code for a in answers)
    assert most[0] == 1 and codes[1] == 503, [a.text for a in answers]
    busy = next(a for a in answers if a.status_code == 503)
    assert busy.json()["kind"] == "unavailable" and busy.headers["Retry-After"] == "1"
    assert busy.json()["error"].startswith("/v1/identify: busy: 1 uploads are being searched already")
    assert codes[0] == 400  # the one that ran got past decoding (then: the stub engine is not calibrated)
    assert app.state.work.busy == 0  # every slot given back

    app.state.work.wait_s = 5.0  # a longer wait: four clients, one at a time, none refused
    running[0] = most[0] = 0
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(identify, range(4)))
    assert most[0] == 1 and all(a.status_code != 503 for a in answers)
    refused = TestClient(app).post("/v1/identify", data={"case": "C1"}, files={"photo": ("p.png", blank)})
    assert refused.status_code == 401 and app.state.work.busy == 0  # no slot for an unauthenticated caller


# --- alert streams --------------------------------------------------------------------------------------------


class Served:
    """The app on a real uvicorn server on loopback, in a thread of this process (its state stays visible)."""

    def __init__(self, app: FastAPI) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        for _ in range(300):
            if self.server.started:
                return self
            time.sleep(0.05)
        raise AssertionError("the server did not start")

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> http.client.HTTPResponse:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        connection.request(method, path, body=body, headers=headers or {})
        return connection.getresponse()

    def sign_in(self, name: str) -> str:
        answer = self.request("POST", "/v1/auth/login", f'{{"username": "{name}", "password": "{PASSWORD}"}}',
                              {"Content-Type": "application/json"})
        assert answer.status == 200, answer.read()
        cookie = answer.getheader("set-cookie") or ""
        return cookie.split(";")[0]

    def open_stream(self, cookie: str) -> http.client.HTTPResponse:
        answer = self.request("GET", "/console/alerts?poll_s=0.2", headers={"Cookie": cookie})
        if answer.status == 200:
            assert answer.readline() == b": connected\n"
        return answer


def wait_for(condition: Any, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Served, Context]]:
    ctx = make_context(tmp_path)
    with Served(create_app(ctx, run_jobs=False)) as server:
        yield server, ctx


def test_48_open_alert_streams_leave_health_fast(served: tuple[Served, Context]) -> None:
    server, ctx = served
    streams: StreamSlots = server.server.config.app.state.streams  # type: ignore[union-attr]
    cookies = []
    for i in range(12):  # 12 people x 4 streams: more than the 40 worker threads the synchronous streams held
        accounts.add_user(ctx.sessions, f"r{i}", PASSWORD, "reviewer", actor="setup")
        cookies.append(server.sign_in(f"r{i}"))
    opened = [server.open_stream(cookie) for cookie in cookies for _ in range(4)]
    assert all(o.status == 200 for o in opened) and streams.count() == 48
    slowest = 0.0
    for _ in range(10):
        began = time.perf_counter()
        health = server.request("GET", "/health")
        assert health.status == 200 and health.read() == b'{"status":"ok"}'
        slowest = max(slowest, time.perf_counter() - began)
    assert slowest < 1.0, f"/health took {slowest:.2f} s with 48 streams open"  # was 17 s with 45
    for answer in opened:  # clients going away free their slots: the next write notices
        answer.close()
    assert wait_for(lambda: streams.count() == 0), streams.count()


def test_streams_are_capped_per_person_by_role(served: tuple[Served, Context]) -> None:
    server, ctx = served
    streams: StreamSlots = server.server.config.app.state.streams  # type: ignore[union-attr]
    for role in ROLES:
        accounts.add_user(ctx.sessions, f"p-{role}", PASSWORD, role, actor="setup")
        cookie = server.sign_in(f"p-{role}")
        first = server.open_stream(cookie)
        if not allowed(role, "sightings.read"):
            assert first.status == 403, role  # no stream at all for a role that may not read sightings
            continue
        held = [first] + [server.open_stream(cookie) for _ in range(3)]
        assert [h.status for h in held] == [200] * 4
        over = server.open_stream(cookie)
        body = over.read().decode()
        assert over.status == 429 and '"kind":"limited"' in body and f"user:p-{role}" in body, body
        assert over.getheader("Retry-After") == "30"
        held[0].close()
        assert wait_for(lambda r=role: streams.count(f"user:p-{r}") == 3)  # type: ignore[misc]
        again = server.open_stream(cookie)  # a freed slot can be taken again
        assert again.status == 200
        for h in [*held[1:], again]:
            h.close()
    assert wait_for(lambda: streams.count() == 0)


def test_a_stream_ends_when_its_session_does(served: tuple[Served, Context]) -> None:
    server, ctx = served
    accounts.add_user(ctx.sessions, "rita", PASSWORD, "reviewer", actor="setup")
    cookie = server.sign_in("rita")
    stream = server.open_stream(cookie)
    accounts.sign_out(ctx.sessions, cookie.split("=", 1)[1])
    lines = []
    began = time.monotonic()
    while time.monotonic() - began < 10:
        line = stream.readline()
        if not line:
            break
        lines.append(line)
    assert b"event: end\n" in lines and lines[-1] == b"\n"  # ended by the server, within a poll or two
    assert time.monotonic() - began < 5
    streams: StreamSlots = server.server.config.app.state.streams  # type: ignore[union-attr]
    assert wait_for(lambda: streams.count() == 0)


def test_stream_slots_cap_each_person_and_the_process() -> None:
    from facesearch.errors import LimitedError, UnavailableError

    slots = StreamSlots(per_user=2, total=3)
    closers = [slots.open("user:a"), slots.open("user:a")]
    with pytest.raises(LimitedError, match=r"^user:a: already has 2 alert streams open"):
        slots.open("user:a")
    closers.append(slots.open("user:b"))
    with pytest.raises(UnavailableError, match=r"^alert streams: 3 are open on this server already") as full:
        slots.open("user:c")
    assert full.value.retry_after_s == 30
    closers[0]()
    closers[0]()  # closing twice frees one slot, not two
    assert slots.count("user:a") == 1 and slots.count() == 2


# --- failed sign-ins in the audit log -------------------------------------------------------------------------


def failed_entries(sessions: Any) -> list[AuditEventRow]:
    with sessions() as s:
        return list(s.scalars(select(AuditEventRow).where(AuditEventRow.action == AuditAction.ACCOUNT_SIGN_IN_FAILED)
                              .order_by(AuditEventRow.seq)))


def test_failed_sign_ins_are_audited_in_bounded_number_with_their_count(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    app = create_app(ctx, run_jobs=False)
    client = TestClient(app)
    for i in range(60):  # different names: the limiter never locks out, and each one was an entry before
        assert client.post("/v1/auth/login", json={"username": f"guess-{i}", "password": "wrong"}).status_code == 401
    for _ in range(4):  # the console's sign-in shares the count (a fresh client: no sign-in form's cookie)
        answer = TestClient(app).post("/console/login", data={"username": "guess-0", "password": "wrong"})
        assert answer.status_code == 200 and "Wrong user name or password" in answer.text
    entries = failed_entries(ctx.sessions)
    assert len(entries) == 1  # the first failure from this address, as it happened
    assert entries[0].actor == "guess-0" and entries[0].details == {"address": "testclient"}
    assert app.state.limiter.failed_sign_ins.flush(ctx.sessions, force=True) == 1
    summary = failed_entries(ctx.sessions)[-1]
    assert summary.details["summary"] is True and summary.details["failures"] == 64
    assert summary.details["names"] == 60 and summary.details["address"] == "testclient"
    assert app.state.limiter.failed_sign_ins.flush(ctx.sessions, force=True) == 0  # nothing counted twice
    with TestClient(app) as served:  # a server that stops writes what it counted
        for _ in range(3):
            served.post("/v1/auth/login", json={"username": "guess-x", "password": "wrong"})
    assert [e.details.get("failures") for e in failed_entries(ctx.sessions)[-2:]] == [None, 3]


def test_a_window_holds_a_bounded_number_of_entries_whatever_the_addresses(tmp_path: Path) -> None:
    ctx = make_context(tmp_path)
    failures = FailedSignIns(window_s=0.3, max_sources=3)
    for i in range(50):
        with ctx.sessions.begin() as s:
            failures.record(s, f"name-{i}", f"10.0.0.{i % 10}")
    entries = failed_entries(ctx.sessions)
    assert len(entries) == 3  # the first from each of the first three addresses
    time.sleep(0.35)
    with ctx.sessions.begin() as s:  # the first failure after the window writes its summaries
        failures.record(s, "late", "10.0.0.1")
    entries = failed_entries(ctx.sessions)
    summaries = [e.details for e in entries if e.details.get("summary")]
    assert len(entries) == 8  # 3 firsts; 3 summaries and one for the other 7 addresses; "late", a new window's
    assert sum(d["failures"] for d in summaries) == 50
    others = next(d for d in summaries if d["address"] == "(others)")
    assert others["addresses"] == 7 and others["failures"] == 35
