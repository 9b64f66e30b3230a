"""Resources an unauthenticated client can make the server spend are bounded (issue 13, item 3):

- request bodies are capped before anything reads them, authentication included (413, not 401);
- the sign-in limiter keeps 16 bytes per key however long the name, creates nothing for a check, and keeps
  at most a fixed number of keys;
- forwarded headers do not reset the sign-in limit unless a trusted proxy is configured;
- a name with no account costs the same argon2 check as one with an account;
- wrong current passwords are limited like failed sign-ins (429, kind "limited").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from facesearch.accounts import service as accounts
from facesearch.accounts.limits import LoginLimiter
from facesearch.api.app import create_app
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import SignInFailureRow
from support.audit import open_audited
from support.cli import cli_env, run
from support.rtsp import free_port
from support.serve import start_server

PASSWORD = "correct horse battery"


@pytest.fixture()
def app_and_sessions(tmp_path: Path) -> tuple[object, object]:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'b.db'}")
    settings = Settings(home=tmp_path, max_request_bytes=200_000)
    return create_app(Context(settings, sessions, Sealer(os.urandom(32))), run_jobs=False), sessions


def test_bodies_are_capped_before_authentication(app_and_sessions: tuple[object, object]) -> None:
    app, _ = app_and_sessions
    client = TestClient(app)  # type: ignore[arg-type]
    big_json = client.post("/v1/cases", content=b"{" + b" " * 2_000_000 + b"}",
                           headers={"Content-Type": "application/json"})
    assert big_json.status_code == 413 and big_json.json()["kind"] == "bad_input"  # no key: still 413, not 401
    assert big_json.headers["X-Frame-Options"] == "DENY"  # refusals carry the security headers too

    def chunks() -> object:
        for _ in range(40):
            yield b"x" * 65536  # 2.5 MB without a Content-Length

    streamed = client.post("/v1/auth/login", content=chunks(),  # type: ignore[arg-type]
                           headers={"Content-Type": "application/json"})
    assert streamed.status_code == 413
    upload = client.post("/v1/verify", files={"a": ("a.jpg", b"x" * 150_000), "b": ("b.jpg", b"x" * 150_000)})
    assert upload.status_code == 413  # the multipart cap (max_request_bytes) is separate from the 1 MiB one
    small = client.post("/v1/auth/login", json={"username": "nobody", "password": "wrong"})
    assert small.status_code == 401


def test_sign_in_bodies_are_capped_small_before_any_parser_runs(app_and_sessions: tuple[object, object]) -> None:
    app, _ = app_and_sessions
    client = TestClient(app)  # type: ignore[arg-type]
    name = "u" * 200_000  # far under the 1 MiB cap of other bodies, far over any sign-in
    for path, kwargs in (("/console/login", {"data": {"username": name, "password": "wrong"}}),
                         ("/v1/auth/login", {"json": {"username": name, "password": "wrong"}}),
                         ("/v1/auth/password", {"json": {"current": name, "new": name}})):
        answer = client.post(path, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 413, (path, answer.status_code)
    longest = "\U0001f600" * 1000  # the longest password, in the widest encoding, still fits
    answer = client.post("/v1/auth/login", json={"username": "nobody", "password": longest})
    assert answer.status_code == 401


def test_the_limiter_keeps_bounded_memory(app_and_sessions: tuple[object, object]) -> None:
    app, _ = app_and_sessions
    client = TestClient(app)  # type: ignore[arg-type]
    for i in range(30):  # the console's form takes any length of name
        client.post("/console/login", data={"username": f"{i}" + "u" * 1_000_000, "password": "wrong"})
    limiter: LoginLimiter = app.state.limiter  # type: ignore[attr-defined]
    assert len(limiter) == 0  # refused as too long before any check: the limiter was only asked, and kept nothing
    for i in range(1000):
        assert not limiter.blocked(f"never-failed-{i}")
    assert len(limiter) == 0  # checking creates nothing
    for i in range(30):  # failures with a megabyte name each keep a 16-byte hash, not the name
        limiter.failed(f"{i}" + "u" * 1_000_000)
    _, sessions = app_and_sessions
    with sessions() as s:  # type: ignore[attr-defined]
        digests = list(s.scalars(select(SignInFailureRow.key_digest)))
    assert len(limiter) == 30 and len(digests) == 30 and all(len(d) == 32 for d in digests)
    short = LoginLimiter(sessions, failures=2, window_s=0.5)  # type: ignore[arg-type]
    short.failed("k1")
    assert not short.blocked("k1")
    short.failed("k1")
    assert short.blocked("k1")
    time.sleep(0.6)  # the window passed: the key is free again, and the next failure deletes the old rows
    assert not short.blocked("k1")
    short.failed("k2")
    with sessions() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(SignInFailureRow)) == 1


def test_the_limit_holds_across_replicas_sharing_one_database(tmp_path: Path) -> None:
    """Two ``serve`` replicas over one database (a cluster's API): failures on one block the name on the other."""
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'shared.db'}")
    accounts.add_user(sessions, "rita", "correct horse battery", "reviewer", actor="setup")
    replicas = [TestClient(create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))),
                                      run_jobs=False)) for _ in range(2)]
    for i in range(5):
        wrong = replicas[i % 2].post("/v1/auth/login", json={"username": "rita", "password": "wrong"})
        assert wrong.status_code == 401
    refused = replicas[1].post("/v1/auth/login", json={"username": "rita", "password": "correct horse battery"})
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "60"


def test_the_cli_shares_the_limit_across_its_runs(tmp_path: Path) -> None:
    """A script starting one CLI process per guess gets no more guesses than a browser."""
    from owned_keys import add_people, as_person

    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})
    env = {**cli_env(home), "FACESEARCH_USER": "olga"}
    for _ in range(5):
        guessed = subprocess.run([sys.executable, "-m", "facesearch.cli", "case", "list"], capture_output=True,
                                 text=True, env={**env, "FACESEARCH_PASSWORD": "guess"}, timeout=120, check=False)
        assert guessed.returncode == 2 and "wrong name or password" in guessed.stderr
    right = subprocess.run([sys.executable, "-m", "facesearch.cli", "case", "list"], capture_output=True, text=True,
                           env={**env, **as_person("olga")}, timeout=120, check=False)
    assert right.returncode == 2 and right.stderr.strip() == "error: olga: too many failed sign-ins; wait a minute"


def test_forwarded_headers_do_not_reset_the_sign_in_limit(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    port = free_port()
    server = start_server(cli_env(home), port)
    try:
        codes = []
        for i in range(7):
            request = urllib.request.Request(
                f"http://127.0.0.1:{port}/v1/auth/login", method="POST",
                data=json.dumps({"username": "rita", "password": "guess"}).encode(),
                headers={"Content-Type": "application/json", "X-Forwarded-For": f"203.0.113.{i}"})
            try:
                with urllib.request.urlopen(request, timeout=30) as answer:
                    codes.append(answer.status)
            except urllib.error.HTTPError as error:
                codes.append(error.code)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert codes == [401] * 5 + [429] * 2


def test_unknown_names_cost_an_argon2_check(app_and_sessions: tuple[object, object],
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _, sessions = app_and_sessions
    accounts.add_user(sessions, "rita", PASSWORD, "reviewer", actor="setup")  # type: ignore[arg-type]
    checked: list[str] = []
    real = accounts._hasher

    class Counting:
        def hash(self, password: str) -> str:
            return real.hash(password)

        def verify(self, stored: str, password: str) -> bool:
            checked.append(stored)
            return real.verify(stored, password)

    monkeypatch.setattr(accounts, "_hasher", Counting())
    assert accounts.sign_in(sessions, "nobody-at-all", "guess") is None  # type: ignore[arg-type]
    assert accounts.sign_in(sessions, "rita", "guess") is None  # type: ignore[arg-type]
    assert len(checked) == 2 and checked[0] != checked[1]  # a dummy hash for the name without an account


def test_wrong_current_passwords_are_limited(app_and_sessions: tuple[object, object]) -> None:
    app, sessions = app_and_sessions
    accounts.add_user(sessions, "rita", PASSWORD, "reviewer", actor="setup")  # type: ignore[arg-type]
    client = TestClient(app)  # type: ignore[arg-type]
    csrf = client.post("/v1/auth/login", json={"username": "rita", "password": PASSWORD}).json()["csrf_token"]
    headers = {"X-CSRF-Token": csrf}
    wrong = [client.post("/v1/auth/password", json={"current": f"guess {i}", "new": "another long secret"},
                         headers=headers).status_code for i in range(5)]
    assert wrong == [400] * 5
    right = client.post("/v1/auth/password", json={"current": PASSWORD, "new": "another long secret"},
                        headers=headers)
    assert right.status_code == 429 and right.json()["kind"] == "limited"
    page = client.get("/console/password")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    console = client.post("/console/password", data={"csrf_token": token.group(1), "current": PASSWORD,
                                                      "new": "another long secret"})
    assert "wait a minute" in console.text  # the console shares the limit
