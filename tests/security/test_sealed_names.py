"""A stolen database shows ids and times, never who is sought (issue 13, item 7).

Identity names and references, case titles, purpose texts and legal bases, reviewers' notes and the library's
names are sealed with the installation's key; lookups by name go through a keyed blind index; the audit log
and the process's log name identities by id only. Before: every one of them was in clear in the database
(and the name in the enrolment's audit entry and in the "already matches" warning).
"""

from __future__ import annotations

import json
import logging
import os
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from alembic import command
from fastapi.testclient import TestClient
from sqlalchemy import text

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.audit.keys import create_audit_key_file
from facesearch.cases.service import enrol_person, get_case, list_cases
from facesearch.engine import Engine
from facesearch.gallery.service import find_identities, list_identities
from facesearch.library.people import list_people
from facesearch.store import sealed_text
from facesearch.store.crypto import Sealer, create_key_file, load_key
from facesearch.store.db import _alembic_config, open_engine
from facesearch.store.schema import IdentityRow, LibraryPersonRow
from owned_keys import run_cli as cli
from support.audit import open_audited
from support.context import context_for

# Words that occur nowhere but in the names, titles and notes below.
SECRETS = ("Quuxley", "Blumenthal", "Plumtree", "Vantablack")
PASSWORD = "correct horse battery staple"
PREVIOUS = "0010"  # the schema revision before the sealed columns


def _leaks(database: Path) -> list[str]:
    """Every secret word found in any row of any table (through SQLite, as a thief reads the file) or in the
    bytes of the database and its WAL (free pages, old frames)."""
    found = []
    db = sqlite3.connect(database)
    try:
        tables = [t for (t,) in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        for table in tables:
            for row in db.execute(f'SELECT * FROM "{table}"'):
                shown = " ".join(x.decode("latin-1") if isinstance(x, bytes) else str(x) for x in row).lower()
                found += [f"{table}: {w}" for w in SECRETS if w.lower() in shown]
    finally:
        db.close()
    for path in (database, database.with_name(database.name + "-wal")):
        if path.exists():
            raw = path.read_bytes().lower()
            found += [f"{path.name} bytes: {w}" for w in SECRETS if w.lower().encode() in raw]
    return found


def _until(days: int = 5) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def test_a_stolen_database_shows_ids_and_times_but_no_name(tmp_path: Path, engine: Engine, people: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    database = tmp_path / "facesearch.db"
    _, sessions = open_audited(f"sqlite:///{database}")
    sealer = Sealer(os.urandom(32))
    ctx = context_for(sessions, sealer, engine, tmp_path)
    accounts.add_user(sessions, "olga", PASSWORD, "officer", actor="setup")
    accounts.add_user(sessions, "lena", PASSWORD, "library", actor="setup")
    officer = {"Authorization": f"Bearer {accounts.add_api_key(sessions, 'olga-key', owner='olga')}"}
    librarian = {"Authorization": f"Bearer {accounts.add_api_key(sessions, 'lena-key', owner='lena')}"}
    with sessions.begin() as s:
        s.add(LibraryPersonRow(name=None, created_at=datetime.now(UTC)))  # a person the library grouped

    caplog.set_level(logging.DEBUG)
    with TestClient(create_app(ctx, run_jobs=False)) as client:
        case = client.post("/v1/cases", headers=officer, json={
            "title": "Missing: Zelda Quuxley", "purpose": "other", "purpose_text": "Find Zelda Quuxley",
            "valid_until": _until(), "legal_basis": "Warrant 17 naming Zelda Quuxley",
            "authorisation_ref": "W-17", "authorised_by": "Judge R."})
        assert case.status_code == 201, case.text
        ref = case.json()["id"]
        enrolled = client.post("/v1/identities", headers=officer, data={"name": "Zelda Quuxley", "case": ref},
                               files=[("photos", ("a.jpg", (people / "obama.jpg").read_bytes(), "image/jpeg"))])
        assert enrolled.status_code == 201, enrolled.text
        # The same person under another name: the "already matches" warning names ids, never names.
        again = enrol_person(ctx, "Yorick Blumenthal", [people / "obama2.jpg"], actor="user:olga",
                             reference={"file": "Blumenthal family report", "seen": "Vantablack coat"})
        assert again.photos[0].similar_to and again.photos[0].similar_to[0]["name"] == "Zelda Quuxley"
        named = client.post("/v1/library/people/P1/name", headers=librarian, json={"name": "Xavier Plumtree"})
        assert named.status_code == 200, named.text

        # Shown in clear to those who may see them (opened with the key).
        shown = client.get(f"/v1/cases/{ref}", headers=officer).json()
        assert (shown["title"], shown["purpose_text"], shown["legal_basis"]) == (
            "Missing: Zelda Quuxley", "Find Zelda Quuxley", "Warrant 17 naming Zelda Quuxley")
        assert [c["title"] for c in client.get("/v1/cases", headers=officer).json()] == ["Missing: Zelda Quuxley"]
        found = client.get("/v1/identities", headers=officer, params={"name": "  zelda   QUUXLEY "}).json()
        assert [(p["id"], p["name"]) for p in found] == [(enrolled.json()["identity_id"], "Zelda Quuxley")]
        assert client.get("/v1/identities", headers=officer, params={"name": "Zelda"}).json() == []
        listed = client.get("/v1/library/people", headers=librarian,
                            params={"everyone": True, "name": "xavier plumtree"}).json()["people"]
        assert [(p["id"], p["name"]) for p in listed] == [("P1", "Xavier Plumtree")]

    assert [p.name for p in list_identities(sessions)] == ["Zelda Quuxley", "Yorick Blumenthal"]
    assert [p.id for p in find_identities(sessions, "yorick blumenthal")] == [again.identity_id]
    with sessions() as s:
        row = s.get(IdentityRow, again.identity_id)
        assert row is not None and sealed_text.get(s, row, "reference") == {
            "file": "Blumenthal family report", "seen": "Vantablack coat"}
    assert get_case(sessions, ref, actor="system").fields["legal_basis"] == "Warrant 17 naming Zelda Quuxley"
    assert [p.name for p in list_people(sessions, everyone=True).people] == ["Xavier Plumtree"]

    # The server's log (the test client's own request lines aside) and the audit log: ids, never names.
    assert not [r for r in caplog.records if r.name != "httpx"
                and any(w.lower() in r.getMessage().lower() for w in SECRETS)]
    assert any("already matches identities" in r.getMessage() for r in caplog.records)
    sessions.kw["bind"].dispose()
    assert _leaks(database) == []
    db = sqlite3.connect(database)
    details = [json.loads(d) for (d,) in db.execute("SELECT details FROM audit_events WHERE action = ?",
                                                    ("identity.enrol",))]
    db.close()
    assert [d["similar_to"] for d in details][-1][0]["identity_id"] == enrolled.json()["identity_id"]


def test_a_note_of_a_review_is_sealed_and_shown_to_reviewers(database_url: str) -> None:
    from facesearch.review.service import reviews_of
    from facesearch.store.schema import CaseRow, ReviewRow, SightingRow

    _, sessions = open_audited(database_url)
    sealed_text.bind(sessions, Sealer(os.urandom(32)))
    now = datetime.now(UTC)
    with sessions.begin() as s:
        identity = IdentityRow(name="", reference={}, created_at=now, created_by="user:olga")
        case = CaseRow(title="", purpose="victim", valid_from=now, valid_until=now + timedelta(days=1), cameras=[],
                       reviewers_required=2, status="active", created_at=now, created_by="user:olga")
        sealed_text.put(s, identity, {"name": "Zelda Quuxley"})
        sealed_text.put(s, case, {"title": "Zelda Quuxley"})
        sighting = SightingRow(case_id=case.id, identity_id=identity.id, source="a.mp4", track=1, start_s=0.0,
                               end_s=1.0, best_s=0.5, time_source="none", score=0.9, fmr=1e-6, threshold=0.5,
                               box=[0, 0, 1, 1], status="candidate", created_at=now)
        s.add(sighting)
        s.flush()
        review = ReviewRow(sighting_id=sighting.id, reviewer="user:rita", decision="reject", seen={}, at=now)
        sealed_text.put(s, review, {"note": "the Vantablack coat of Zelda Quuxley"})
        s.add(review)
        sighting_id = sighting.id
    with sessions() as s:
        stored = s.execute(text("SELECT note, note_sealed FROM reviews")).one()
        assert stored[0] is None and b"Quuxley" not in bytes(stored[1])
        assert [r.note for r in reviews_of(s, sighting_id)] == ["the Vantablack coat of Zelda Quuxley"]


def test_the_blind_index_needs_the_key() -> None:
    one, other = Sealer(os.urandom(32)), Sealer(os.urandom(32))
    assert sealed_text.name_index(one, "Zelda Quuxley") == sealed_text.name_index(one, " zelda  QUUXLEY")
    assert sealed_text.name_index(one, "Zelda Quuxley") != sealed_text.name_index(other, "Zelda Quuxley")
    assert sealed_text.name_index(one, "Zelda Quuxley") != sealed_text.name_index(one, "Zelda Quuxly")
    import hashlib

    assert sealed_text.name_index(one, "Zelda Quuxley") not in {
        hashlib.sha256(n.encode()).hexdigest() for n in ("Zelda Quuxley", "zelda quuxley")}


def test_a_sealed_value_moved_to_another_row_does_not_open(database_url: str) -> None:
    from facesearch.store.crypto import KeyMismatchError

    _, sessions = open_audited(database_url)
    sealed_text.bind(sessions, Sealer(os.urandom(32)))
    with sessions.begin() as s:
        for name in ("Zelda Quuxley", "Yorick Blumenthal"):
            row = LibraryPersonRow(created_at=datetime.now(UTC))
            sealed_text.put(s, row, {"name": name})
    with sessions.begin() as s:
        first, second = s.query(LibraryPersonRow).order_by(LibraryPersonRow.id).all()
        second.name_sealed = first.name_sealed
    with sessions() as s, pytest.raises(KeyMismatchError, match=r"library_people\.name:2"):
        sealed_text.get(s, s.query(LibraryPersonRow).order_by(LibraryPersonRow.id).all()[1], "name")


def _old_database(url: str) -> None:
    """A database at the revision before sealing, holding names in clear as earlier versions wrote them."""
    engine = open_engine(url)
    cfg = _alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, PREVIOUS)
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO identities (name, reference, created_at, created_by) VALUES "
                          "(:n, :r, :t, 'olga')"),
                     {"n": "Zelda Quuxley", "r": json.dumps({"file": "Blumenthal report"}), "t": now})
        conn.execute(text("INSERT INTO cases (title, purpose, purpose_text, legal_basis, authorisation_ref, "
                          "authorised_by, valid_from, valid_until, cameras, reviewers_required, status, created_at, "
                          "created_by) VALUES ('Missing: Zelda Quuxley', 'other', 'Find Zelda Quuxley', "
                          "'Warrant naming Zelda Quuxley', 'W-1', 'Judge', :t, :u, '[]', 2, 'authorised', :t, "
                          "'olga')"), {"t": now, "u": now + timedelta(days=5)})
        conn.execute(text("INSERT INTO library_people (name, created_at) VALUES ('Xavier Plumtree', :t)"), {"t": now})
        conn.execute(text("INSERT INTO library_people (name, created_at) VALUES (NULL, :t)"), {"t": now})
    engine.dispose()


def test_the_migration_seals_an_old_database_when_first_opened_with_the_key(database_url: str) -> None:
    _old_database(database_url)
    engine, sessions = open_audited(database_url)  # upgraded: the new columns, nothing sealed yet (no key)
    # Read in clear meanwhile.
    assert [c.title for c in list_cases(sessions, actor="system")] == ["Missing: Zelda Quuxley"]
    sealer = Sealer(os.urandom(32))
    assert sealed_text.seal_plaintext(sessions, sealer) == 3
    with engine.connect() as conn:
        assert conn.execute(text("SELECT name, reference FROM identities")).one()[0] == ""
        assert conn.execute(text("SELECT title, purpose_text, legal_basis FROM cases")).one() == ("", None, None)
        assert conn.execute(text("SELECT name FROM library_people ORDER BY id")).all() == [(None,), (None,)]
        assert conn.execute(text("SELECT count(*) FROM identities WHERE name_index IS NOT NULL")).scalar() == 1
    assert sealed_text.seal_plaintext(sessions, sealer) == 0  # idempotent
    sealed_text.bind(sessions, sealer)
    case = list_cases(sessions, actor="system")[0]
    assert (case.title, case.fields["purpose_text"], case.fields["legal_basis"]) == (
        "Missing: Zelda Quuxley", "Find Zelda Quuxley", "Warrant naming Zelda Quuxley")
    assert [p.name for p in find_identities(sessions, "zelda quuxley")] == ["Zelda Quuxley"]
    with sessions() as s:
        row = s.get(IdentityRow, 1)
        assert row is not None and sealed_text.get(s, row, "reference") == {"file": "Blumenthal report"}
    assert [p.name for p in list_people(sessions, everyone=True, name="Xavier Plumtree").people] == [
        "Xavier Plumtree"]
    assert {p.name for p in list_people(sessions, everyone=True).people} == {"Xavier Plumtree", None}
    engine.dispose()


def test_the_cli_seals_an_old_installation_as_it_opens_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = home / "facesearch.db"
    home.mkdir(mode=0o700)
    create_key_file(home / "key")
    create_audit_key_file(home)
    _old_database(f"sqlite:///{database}")
    assert _leaks(database)  # the old version's database: names in clear

    # The first command run with the key (here the first administrator's) seals what it finds in clear.
    added = cli(home, "user", "add", "adam", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert added.returncode == 0, added.stderr
    assert _leaks(database) == []  # sealed, and the file rewritten: no old bytes left behind
    adam = {"FACESEARCH_USER": "adam", "FACESEARCH_PASSWORD": PASSWORD}
    assert cli(home, "user", "add", "lena", "--role", "library", "--password-stdin", stdin=PASSWORD + "\n",
               env=adam).returncode == 0
    lena = {"FACESEARCH_USER": "lena", "FACESEARCH_PASSWORD": PASSWORD}
    people = cli(home, "library", "people", "--all", "--name", "XAVIER plumtree", "--json", env=lena)
    assert people.returncode == 0, people.stderr
    assert [p["name"] for p in json.loads(people.stdout)["people"]] == ["Xavier Plumtree"]
    listed = cli(home, "case", "list", "--json", env=adam)
    assert listed.returncode == 0, listed.stderr
    assert [c["title"] for c in json.loads(listed.stdout)] == ["Missing: Zelda Quuxley"]
    assert _leaks(database) == []
    with pytest.raises(Exception, match="is sealed"):  # without the key, nobody reads them
        _, sessions = open_audited(f"sqlite:///{database}")
        list_cases(sessions, actor="system")
    assert load_key(home).key_id  # the key that sealed them is the installation's
