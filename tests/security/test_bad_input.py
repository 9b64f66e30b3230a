"""Bad input gets a clear 4xx naming the field (or 507 for a full disk, 503 for a damaged database), never a 500
nor a traceback (issue 13, item 8).

Before: a scan of a path with a name over 255 bytes, a JSON body with a lone surrogate (``"\\ud800"``), a full
disk and a damaged database page all ended in a 500 (a traceback on the command line); the sign-in form had no
CSRF token.
"""

from __future__ import annotations

import errno
import json
import os
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, text

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.audit.keys import load_audit_key
from facesearch.context import Context
from facesearch.errors import ERROR_STATUS, ErrorKind
from facesearch.refs import RefError, parse_case_ref
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer, load_key
from facesearch.store.db import open_database
from owned_keys import run_cli as cli

PASSWORD = "correct horse battery staple"
UNTIL = (datetime.now(UTC) + timedelta(days=3)).isoformat()
CASE = {"title": "T", "purpose": "victim", "valid_until": UNTIL}
LONG = "a" * 300  # one path component over 255 bytes


def officer_at(home: Path) -> dict[str, str]:
    """A new installation with an administrator and an officer; the officer's sign-in for the CLI."""
    assert cli(home, "init").returncode == 0
    assert cli(home, "user", "add", "adam", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n"
               ).returncode == 0
    added = cli(home, "user", "add", "olga", "--role", "officer", "--password-stdin", stdin=PASSWORD + "\n",
                env={"FACESEARCH_USER": "adam", "FACESEARCH_PASSWORD": PASSWORD})
    assert added.returncode == 0, added.stderr
    return {"FACESEARCH_USER": "olga", "FACESEARCH_PASSWORD": PASSWORD}


class Api:
    def __init__(self, client: TestClient, officer: dict[str, str], librarian: dict[str, str], sessions: Any,
                 media: Path) -> None:
        self.client, self.officer, self.librarian, self.sessions, self.media = (client, officer, librarian,
                                                                                  sessions, media)


@pytest.fixture
def api(tmp_path: Path) -> Iterator[Api]:
    media = tmp_path / "media"
    media.mkdir()
    _, sessions = open_database(f"sqlite:///{tmp_path / 'facesearch.db'}")
    ctx = Context(Settings(home=tmp_path, media_root=media), sessions, Sealer(os.urandom(32)))
    accounts.add_user(sessions, "olga", PASSWORD, "officer", actor="setup")
    accounts.add_user(sessions, "lena", PASSWORD, "library", actor="setup")
    officer = {"Authorization": "Bearer " + accounts.add_api_key(sessions, "olga-key", owner="olga")}
    librarian = {"Authorization": "Bearer " + accounts.add_api_key(sessions, "lena-key", owner="lena")}
    with TestClient(create_app(ctx, run_jobs=False), raise_server_exceptions=False) as client:
        assert client.post("/v1/cases", headers=officer, json=CASE).status_code == 201
        yield Api(client, officer, librarian, sessions, media)


def refused(response: Any, status: int, *words: str) -> None:
    """``response`` is a ``status`` whose one-line body names each of ``words``."""
    assert response.status_code == status, (response.status_code, response.text[:300])
    body = response.text
    assert "\n" not in body and "Traceback" not in body
    for word in words:
        assert word in body, (word, body[:300])


# --- names, paths and ids ---------------------------------------------------------------------------


def test_path_components_over_255_bytes(api: Api) -> None:
    for path in (api.media / LONG, api.media / LONG / "clip.mp4", api.media / ("é" * 200)):
        scan = api.client.post("/v1/scans", headers=api.officer, json={"case": "C1", "paths": [str(path)]})
        refused(scan, 400, "not a usable path")
    refused(api.client.get(f"/v1/cases/C{LONG}", headers=api.officer), 400, "not a case id")
    refused(api.client.get(f"/v1/library/people/P{LONG}", headers=api.librarian), 400, "not a person id")


def test_a_path_over_255_bytes_on_the_command_line(tmp_path: Path) -> None:
    out = cli(tmp_path / "home", "verify", str(tmp_path / f"{LONG}.jpg"), str(tmp_path / "b.jpg"))
    assert out.returncode == 2, out.stderr
    assert out.stderr.startswith("error: ") and out.stderr.count("\n") == 1 and "Traceback" not in out.stderr


@pytest.mark.parametrize("big", [2**63, 2**64, 10**30])
def test_ids_past_64_bits(api: Api, big: int) -> None:
    refused(api.client.get(f"/v1/cases/C{big}", headers=api.officer), 400, f"C{big}", "not a case id")
    refused(api.client.get(f"/v1/identities?case=C{big}", headers=api.officer), 400, "not a case id")
    refused(api.client.get(f"/v1/scans/{big}", headers=api.officer), 422, "job_id")
    refused(api.client.get(f"/v1/library/people/P{big}", headers=api.librarian), 400, "not a person id")
    scan = api.client.post("/v1/scans", headers=api.officer, json={"case": f"C{big}", "paths": [str(api.media)]})
    refused(scan, scan.status_code, "case")
    assert scan.status_code in (400, 422)


@pytest.mark.parametrize("ref", ["C²", "C١", "C１", "²", "C1²"])
def test_references_take_ascii_digits_only(api: Api, ref: str) -> None:
    with pytest.raises(RefError):
        parse_case_ref(ref)
    refused(api.client.get(f"/v1/cases/{ref}", headers=api.officer), 400, "not a case id")
    refused(api.client.get("/v1/sightings", params={"case": ref}, headers=api.officer), 400, "not a case id")


def test_references_past_64_bits_and_odd_digits_on_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    olga = officer_at(home)
    for ref in (f"C{2**64}", "C²"):
        out = cli(home, "case", "activate", ref, env=olga)
        assert out.returncode == 2 and "not a case id" in out.stderr and out.stderr.count("\n") == 1, out.stderr


# --- text that is not Unicode ---------------------------------------------------------------------------


@pytest.mark.parametrize(("route", "body", "field"), [
    ("/v1/cases", '{"title": "T\\ud800", "purpose": "victim", "valid_until": "UNTIL"}', "title"),
    ("/v1/cases", '{"title": "T", "purpose": "victim", "valid_until": "UNTIL", "legal_basis": "\\udfff"}',
     "legal_basis"),
    ("/v1/cases", '{"title": "T", "purpose": "victim", "valid_until": "UNTIL", "cameras": ["a\\ud83d"]}',
     "cameras[0]"),
    ("/v1/cases/C1/authorise", '{"authorised_by": "\\ud800"}', "authorised_by"),
    ("/v1/auth/login", '{"username": "\\ud800", "password": "x"}', "username"),
])
def test_lone_surrogates_in_json_strings(api: Api, route: str, body: str, field: str) -> None:
    answer = api.client.post(route, content=body.replace("UNTIL", UNTIL),
                             headers={**api.officer, "Content-Type": "application/json"})
    refused(answer, 422, field, "lone surrogate")
    assert "\\ud800" not in answer.text or "input" not in answer.json()["detail"][0]  # the input is not echoed


def test_lone_surrogates_in_library_names(api: Api) -> None:
    answer = api.client.post("/v1/library/people/P1/name", content='{"name": "Jo\\ud800"}',
                             headers={**api.librarian, "Content-Type": "application/json"})
    refused(answer, 422, "name", "lone surrogate")


def test_undecodable_bytes_in_form_fields(api: Api) -> None:
    # A browser cannot send a lone surrogate in a form: it sends bytes, which are never valid UTF-8 for one.
    for raw in (b"name=%ED%A0%80", b"name=%FF%FE"):
        answer = api.client.post("/v1/identities", content=raw, headers={
            **api.officer, "Content-Type": "application/x-www-form-urlencoded"})
        assert 400 <= answer.status_code < 500, answer.text
    multipart = api.client.post("/v1/identities", headers=api.officer, files=[
        ("name", (None, b"\xed\xa0\x80")), ("photos", ("a.jpg", b"not a photo", "image/jpeg"))])
    assert 400 <= multipart.status_code < 500, multipart.text
    console = api.client.post("/console/login", content=b"username=%ED%A0%80&password=x",
                              headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert console.status_code < 500, console.text


def test_lone_surrogates_on_the_command_line_are_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    olga = officer_at(home)
    title = os.fsdecode(b"Missing \xff")  # an argument that is not UTF-8 arrives as a lone surrogate
    out = cli(home, "case", "create", "--title", title, "--purpose", "victim", "--valid-until", UNTIL[:10], env=olga)
    assert out.returncode == 2, out.stderr
    assert out.stderr == "error: title: is not valid Unicode text (a lone surrogate)\n"


@pytest.mark.parametrize("count", [2**63 - 1, 2**63, 2**64, 10**30, -(2**63)])
def test_reviewers_required_past_64_bits(api: Api, count: int) -> None:
    refused(api.client.post("/v1/cases", headers=api.officer, json={**CASE, "reviewers_required": count}),
            422, "reviewers_required")


# --- a full disk, a damaged database --------------------------------------------------------------------


def test_a_full_database_is_a_507(api: Api) -> None:
    engine = api.sessions.kw["bind"]
    with engine.connect() as conn:
        pages = conn.execute(text("PRAGMA page_count")).scalar()
    engine.dispose()
    # The database may not grow: what SQLite says when the disk is full (SQLITE_FULL), for real.
    event.listen(engine, "connect", lambda c, _r: c.execute(f"PRAGMA max_page_count={pages}"))
    statuses = set()
    for i in range(200):
        answer = api.client.post("/v1/cases", headers=api.officer,
                                 json={**CASE, "title": f"T{i}", "legal_basis": "x" * 2000})
        statuses.add(answer.status_code)
        if answer.status_code == 507:
            assert answer.json() == {"error": "database: the disk is full: nothing was saved; free some space",
                                     "kind": "storage_full"}
            break
    assert 507 in statuses and 500 not in statuses, statuses


def test_no_space_left_on_the_device_is_a_507(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from facesearch.api.routes import cases as case_routes

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "/data/facesearch.db-wal")

    monkeypatch.setattr(case_routes.cases, "create_case", full)
    answer = api.client.post("/v1/cases", headers=api.officer, json=CASE)
    assert answer.status_code == 507 == ERROR_STATUS[ErrorKind.STORAGE_FULL]
    assert answer.json()["kind"] == "storage_full" and "no space left" in answer.json()["error"]


def test_no_space_left_on_the_command_line_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    import facesearch.cli.commands_cases as commands
    from facesearch.cli.main import run as cli

    def full(*_args: object, **_kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", str(tmp_path / "facesearch.db"))

    monkeypatch.setenv("FACESEARCH_HOME", str(tmp_path))
    monkeypatch.setattr(commands, "open_context", full)
    monkeypatch.setattr("sys.argv", ["facesearch", "case", "list"])
    with pytest.raises(SystemExit) as ended:
        cli()
    assert ended.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no space left on the disk" in err and err.count("\n") == 1


def _damage(database: Path, table: str) -> None:
    """Overwrite the pages of ``table`` with garbage, as a failing disk or a torn write leaves them."""
    db = sqlite3.connect(database)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    db.close()
    with open(database, "r+b") as f:
        f.seek((root - 1) * size)
        f.write(b"\xa5" * size)


def test_a_damaged_database_is_a_503_and_one_line_on_the_command_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    olga = officer_at(home)
    database = home / "facesearch.db"
    _, sessions = open_database(f"sqlite:///{database}")
    ctx = Context(Settings(home=home), sessions, load_key(home), audit_key=load_audit_key(home))
    officer = {"Authorization": "Bearer " + accounts.add_api_key(sessions, "olga-key", owner="olga")}
    with TestClient(create_app(ctx, run_jobs=False), raise_server_exceptions=False) as client:
        for i in range(3):
            assert client.post("/v1/cases", headers=officer, json={**CASE, "title": f"T{i}"}).status_code == 201
        sessions.kw["bind"].dispose()
        _damage(database, "cases")
        answer = client.get("/v1/cases", headers=officer)
        assert answer.status_code == 503, answer.text
        assert answer.json()["kind"] == "unavailable" and "damaged" in answer.json()["error"]
    out = cli(home, "case", "list", env=olga)
    assert out.returncode != 0 and "Traceback" not in out.stderr, out.stderr
    assert out.stderr.count("\n") == 1 and re.match(r"error: .*(damaged|malformed|cannot open)", out.stderr)


# --- the sign-in form's CSRF token -----------------------------------------------------------------------


def test_the_sign_in_form_carries_a_csrf_token_that_a_post_must_return(api: Api) -> None:
    client = api.client
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None and client.cookies.get("facesearch_login_csrf") == token.group(1)
    forged = client.post("/console/login", data={"username": "olga", "password": PASSWORD, "csrf_token": "guess"},
                         follow_redirects=False)
    assert forged.status_code == 403 and "came from another site" in forged.text
    fresh = re.search(r'name="csrf_token" value="([^"]+)"', forged.text)
    assert fresh is not None
    signed = client.post("/console/login", follow_redirects=False,
                         data={"username": "olga", "password": PASSWORD, "csrf_token": fresh.group(1)})
    assert signed.status_code == 303, signed.text


def test_a_sign_in_posted_from_another_site_is_refused(api: Api) -> None:
    api.client.cookies.clear()
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"},
                    {"Origin": "null"}, {"Origin": "null", "Sec-Fetch-Site": "cross-site"}):
        answer = api.client.post("/console/login", data={"username": "olga", "password": PASSWORD},
                                 headers=headers, follow_redirects=False)
        assert answer.status_code == 403 and "facesearch_session" not in json.dumps(dict(answer.cookies))


def test_the_consoles_own_form_signs_in_under_no_referrer(api: Api) -> None:
    # With Referrer-Policy: no-referrer, Chromium posts the console's own form with "Origin: null" and
    # "Sec-Fetch-Site: same-origin": that is this site, not another.
    api.client.cookies.clear()
    form = api.client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    data = {"username": "olga", "password": PASSWORD} | ({"csrf_token": token.group(1)} if token else {})
    answer = api.client.post("/console/login", data=data, follow_redirects=False,
                             headers={"Origin": "null", "Sec-Fetch-Site": "same-origin"})
    assert answer.status_code in (302, 303), answer.text[:300]
