"""Files at rest are their owner's alone; control characters are never printed raw nor accepted in names.

Issue 13, items 7 and 8: the data directory was 0755 and the database, reports and exports 0644; a sign-in
name holding a newline printed as a second (forged) entry of ``facesearch audit show``; names, titles and
camera fields accepted control characters.
"""

from __future__ import annotations

import json
import os
import sqlite3
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from facesearch.errors import ErrorKind, FacesearchError
from facesearch.files import atomic_write
from facesearch.text import has_control, visible
from owned_keys import add_people, run_as
from support.audit import open_audited
from support.cli import run

FORGED = "eve\n   999  2026-01-01 00:00:00  admin  case.close  C1\u202e"


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask() -> Iterator[None]:
    """The common umask (022): what made the files 0644 and the folder 0755 before; children inherit it."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _until() -> str:
    return (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%d")


# --- modes -----------------------------------------------------------------------------------------


def test_init_makes_the_home_key_and_database_owner_only(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    out = run(home, "init")
    assert out.returncode == 0, out.stderr
    assert mode(home) == 0o700
    assert mode(home / "key") == 0o600
    assert mode(home / "facesearch.db") == 0o600
    for sidecar in ("facesearch.db-wal", "facesearch.db-shm"):
        if (home / sidecar).exists():
            assert mode(home / sidecar) == 0o600, sidecar


def test_init_tightens_an_existing_home_and_says_so(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    with sqlite3.connect(home / "facesearch.db") as db:  # a database (not an empty file: that is refused)
        db.execute("CREATE TABLE left_by_an_older_version (x)")
    (home / "facesearch.db").chmod(0o644)  # as an older facesearch left it
    out = run(home, "init", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["key_created"] is True  # stdout stays JSON; the note goes to stderr
    assert mode(home) == 0o700 and "was mode 755" in out.stderr and "now 700" in out.stderr
    assert mode(home / "facesearch.db") == 0o600
    again = run(home, "init")
    assert again.returncode == 0 and "mode" not in again.stderr  # nothing to say the second time


def test_the_database_is_owner_only_whatever_opens_it(tmp_path: Path, loose_umask: None) -> None:

    db = tmp_path / "data" / "facesearch.db"
    engine, sessions = open_audited(f"sqlite:///{db}")
    with sessions.begin() as s:  # a write: the WAL and shared-memory files exist now
        from facesearch.audit import log as audit
        from facesearch.audit.actions import AuditAction

        audit.append(s, actor="t", action=AuditAction.SYSTEM_INIT)
    assert mode(db.parent) == 0o700 and mode(db) == 0o600
    assert (db.parent / "facesearch.db-wal").exists()
    for sidecar in ("facesearch.db-wal", "facesearch.db-shm"):
        assert mode(db.parent / sidecar) == 0o600, sidecar
    engine.dispose()


def test_atomic_write_is_owner_only_unless_asked_whatever_the_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        atomic_write(tmp_path / "report.html", b"x")
        atomic_write(tmp_path / "htmx.min.js", b"x", mode=0o644)
    finally:
        os.umask(0o077)
        try:
            atomic_write(tmp_path / "model.onnx", b"x", mode=0o644)
        finally:
            os.umask(old)
    assert mode(tmp_path / "report.html") == 0o600
    assert mode(tmp_path / "htmx.min.js") == 0o644
    assert mode(tmp_path / "model.onnx") == 0o644


def test_the_sealed_index_cache_is_owner_only(tmp_path: Path, loose_umask: None) -> None:
    import secrets

    from facesearch.index.cache import IndexCache
    from facesearch.index.gallery_index import GalleryIndex
    from facesearch.store.crypto import Sealer

    cache = IndexCache(tmp_path / "index", Sealer(secrets.token_bytes(32)))
    vectors = np.eye(4, 8, dtype=np.float32)
    cache.save("default", GalleryIndex.build(np.arange(4, dtype=np.int64), np.arange(4, dtype=np.int64), vectors, 8))
    assert mode(cache.path("default")) == 0o600


def test_report_and_export_are_owner_only(tmp_path: Path, loose_umask: None) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})  # the CLI acts as an account: olga, who creates the case
    created = run_as(home, "case", "create", "--title", "Missing: J. Doe", "--purpose", "missing-person",
                     "--legal-basis", "Act s.1", "--authorisation-ref", "A-1", "--authorised-by", "Judge R.",
                     "--valid-until", _until(), "--json")
    assert created.returncode == 0, created.stderr
    report = run_as(home, "report", "--case", "C1", "--out", str(tmp_path / "out" / "report.html"))
    assert report.returncode == 0, report.stderr
    assert mode(tmp_path / "out" / "report.html") == 0o600
    export = run_as(home, "export", "--case", "C1", "--out", str(tmp_path / "out" / "export.zip"))
    assert export.returncode == 2 and "nothing to export" in export.stderr  # nothing confirmed: no package
    assert not (tmp_path / "out" / "export.zip").exists()  # the mode of one: test_scan_cli's export


# --- control characters in output ------------------------------------------------------------------


def test_visible_escapes_every_control_character_once() -> None:
    assert visible("a\nb\tc\x1b[31m\x7f\x85\u2028\u2029\u202a\u202e\u2066\u2069") == (
        "a\\x0ab\\x09c\\x1b[31m\\x7f\\x85\\u2028\\u2029\\u202a\\u202e\\u2066\\u2069")
    assert visible("Zoë Ünal, 東京 (cam-1)") == "Zoë Ünal, 東京 (cam-1)"
    assert visible(visible(FORGED)) == visible(FORGED)
    assert has_control("x\u202ey") and not has_control("plain name")


def test_audit_summary_is_one_line() -> None:
    from facesearch.audit.summary import summarise

    assert summarise({"name": "a\nb\u202e"}) == "name=a\\x0ab\\u202e"


def test_a_forged_sign_in_name_shows_as_one_entry(tmp_path: Path) -> None:
    from facesearch.accounts.service import sign_in

    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    engine, sessions = open_audited(f"sqlite:///{home / 'facesearch.db'}")
    assert sign_in(sessions, FORGED, "wrong password") is None
    engine.dispose()

    shown = run(home, "audit", "show")
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert len(lines) == 2, shown.stdout  # system.init and the failed sign-in: no third, forged entry
    assert "account.sign_in.failed" in lines[1]
    assert "eve\\x0a   999" in lines[1] and "C1\\u202e" in lines[1]
    assert "\u202e" not in shown.stdout

    as_json = run(home, "audit", "show", "--json")
    assert "\u202e" not in as_json.stdout and "\\u202e" in as_json.stdout  # JSON escapes it
    assert json.loads(as_json.stdout)[1]["actor"] == FORGED[:100]  # stored as given


def test_errors_print_control_characters_as_escapes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})  # signed in, the reference itself is what is refused
    out = run_as(home, "case", "activate", "C1\n\u202e")
    assert out.returncode == 2
    assert out.stderr == "error: C1\\x0a\\u202e: not a case id (expected C<number>, e.g. C1)\n"


# --- control characters refused in names -----------------------------------------------------------


def test_a_case_title_or_field_with_control_characters_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})  # the CLI acts as an account: olga the officer
    base = ["case", "create", "--purpose", "missing-person", "--valid-until", _until()]
    title = run_as(home, *base, "--title", "Missing\n   2  ... case.close")
    assert title.returncode == 2 and "title: contains control characters" in title.stderr
    assert title.stderr.count("\n") == 1
    basis = run_as(home, *base, "--title", "Missing", "--legal-basis", "Act\u202e s.1")
    assert basis.returncode == 2 and "legal_basis: contains control characters" in basis.stderr
    draft = run_as(home, *base, "--title", "Missing", "--json")
    assert draft.returncode == 0, draft.stderr
    authorise = run_as(home, "case", "authorise", "C1", "--authorised-by", "Judge\x1b[2J R.")
    assert authorise.returncode == 2 and "authorised_by: contains control characters" in authorise.stderr
    cases = json.loads(run_as(home, "case", "list", "--json").stdout)
    assert [c["title"] for c in cases] == ["Missing"] and cases[0]["authorised_by"] is None


def test_a_camera_name_or_location_with_control_characters_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {})  # the CLI acts as an account: adam the administrator manages cameras
    name = run_as(home, "camera", "add", "cam-1", "--name", "Gate\u2028North", person="adam")
    assert name.returncode == 2 and "name: contains control characters" in name.stderr
    where = run_as(home, "camera", "add", "cam-1", "--name", "Gate", "--location", "Hall\r\nB", person="adam")
    assert where.returncode == 2 and "location: contains control characters" in where.stderr
    assert json.loads(run_as(home, "camera", "list", "--json", person="adam").stdout) == []


def test_identity_and_library_names_with_control_characters_are_refused() -> None:
    from facesearch.gallery.service import enrol
    from facesearch.library.people import name_person

    with pytest.raises(FacesearchError, match=r"^name: contains control characters$") as refused:
        enrol(None, None, None, "Jane\u202eeoD", [], actor="t")  # type: ignore[arg-type]  # refused first
    assert refused.value.kind == ErrorKind.BAD_INPUT
    with pytest.raises(FacesearchError, match=r"^name: contains control characters$") as refused:
        name_person(None, "P1", "Jane\nDoe", actor="t")  # type: ignore[arg-type]  # refused first
    assert refused.value.kind == ErrorKind.BAD_INPUT
