"""Issue 13, item 1: an audit log nobody can rewrite unseen, not even with write access to the database.

Each attack is made the way someone holding the database file (but not the audit key, which lives outside it)
would make it, with sqlite3 on the file; ``audit verify`` must fail and name what was done. Before the keyed
chain and the checkpoints, every one of these verified as intact.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from facesearch.audit import log as audit
from facesearch.audit.chain import canonical_json
from facesearch.audit.keys import create_audit_key_file
from facesearch.audit.verification import verify as verify_log
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import create_key_file


def _env(home: Path) -> dict[str, str]:
    env = {**os.environ, "FACESEARCH_HOME": str(home)}
    for name in ("FACESEARCH_KEY", "FACESEARCH_AUDIT_KEY", "FACESEARCH_DATABASE_URL"):
        env.pop(name, None)
    return env


def cli(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env=_env(home), timeout=120, check=False)


def _installation(home: Path, entries: int = 6) -> Path:
    """An installation with keys, and a log of ``entries`` entries written through the real trail."""
    create_key_file(home / "key")
    create_audit_key_file(home)
    ctx = Context.open(Settings(home=home))
    for i in range(entries):
        with ctx.sessions.begin() as s:
            audit.append(s, actor="user:olga", action="case.update", case_id="C1" if i % 2 else "C2",
                         details={"field": "title", "value": i})
    return home / "facesearch.db"


def _verify(home: Path) -> tuple[bool, str]:
    ctx = Context.open(Settings(home=home))
    with ctx.sessions() as s:
        result = verify_log(s)
    return result.ok, result.reason


def _rows(db: sqlite3.Connection) -> list[dict[str, object]]:
    db.row_factory = sqlite3.Row
    return [dict(r) for r in db.execute("SELECT * FROM audit_events ORDER BY seq")]


def test_an_untouched_log_verifies_against_its_checkpoints(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _installation(home)
    ctx = Context.open(Settings(home=home))
    with ctx.sessions() as s:
        result = verify_log(s)
    assert result.ok and result.checked == 6 and result.checkpoints_checked == 6
    assert result.latest_checkpoint is not None and result.latest_checkpoint["size"] == 6


def test_a_chain_recomputed_without_the_key_is_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = _installation(home)
    with sqlite3.connect(database) as db:  # edit entry 2, then redo every later hash as the old chain did
        rows = _rows(db)
        prev = rows[1]["hash"]
        for row in rows[2:]:
            details = {"field": "title", "value": "forged"} if row["seq"] == 2 else json.loads(str(row["details"]))
            payload = {"seq": row["seq"], "at": row["at"], "actor": row["actor"], "action": row["action"],
                       "case_id": row["case_id"], "subject": row["subject"], "details": details,
                       "prev_hash": prev, "key_id": row["key_id"]}
            digest = hashlib.sha256(str(prev).encode() + b"\n" + canonical_json(payload)).hexdigest()
            db.execute("UPDATE audit_events SET details = ?, prev_hash = ?, hash = ? WHERE seq = ?",
                       (json.dumps(details), prev, digest, row["seq"]))
            prev = digest
        db.execute("UPDATE audit_head SET hash = ?", (prev,))
    ok, reason = _verify(home)
    assert not ok and "entry 2 was changed" in reason


def test_keyed_entries_rewritten_as_old_unkeyed_ones_are_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = _installation(home)
    with sqlite3.connect(database) as db:  # every entry made "legacy", chain and head recomputed
        prev = "0" * 64
        for row in _rows(db):
            payload = {"seq": row["seq"], "at": row["at"], "actor": "user:nobody", "action": row["action"],
                       "case_id": row["case_id"], "subject": row["subject"],
                       "details": json.loads(str(row["details"])), "prev_hash": prev}
            digest = hashlib.sha256(prev.encode() + b"\n" + canonical_json(payload)).hexdigest()
            db.execute("UPDATE audit_events SET actor = 'user:nobody', key_id = NULL, prev_hash = ?, hash = ? "
                       "WHERE seq = ?", (prev, digest, row["seq"]))
            prev = digest
        db.execute("UPDATE audit_head SET hash = ?, key_id = NULL, frontier = NULL", (prev,))
    ok, reason = _verify(home)
    assert not ok and "differ from the checkpoint" in reason


@pytest.mark.parametrize("head", ["moved", "deleted"])
def test_a_cut_tail_is_found_whether_the_head_is_moved_or_deleted(tmp_path: Path, head: str) -> None:
    home = tmp_path / "home"
    database = _installation(home)
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM audit_events WHERE seq >= 4")
        if head == "moved":
            last = db.execute("SELECT seq, hash FROM audit_events WHERE seq = 3").fetchone()
            db.execute("UPDATE audit_head SET seq = ?, hash = ?", last)
        else:
            db.execute("DELETE FROM audit_head")
    ok, reason = _verify(home)
    assert not ok and "cut from the end" in reason and "records 6 entries" in reason


def test_an_emptied_log_is_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = _installation(home)
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM audit_events")
        db.execute("DELETE FROM audit_head")
    ok, reason = _verify(home)
    assert not ok and "the log is empty" in reason and "emptied" in reason


def test_a_replaced_database_file_is_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = _installation(home)
    other = tmp_path / "other"
    other_database = _installation(other, entries=8)  # another installation's (its own keys), longer log
    _replace(database, other_database)
    ok, reason = _verify(home)
    assert not ok and "written with audit key" in reason

    # The same installation's own older copy, from before its last entries: its checkpoints say it is older.
    home2 = tmp_path / "home2"
    database2 = _installation(home2, entries=3)
    backup = tmp_path / "backup.db"
    _replace(backup, database2)
    ctx = Context.open(Settings(home=home2))
    with ctx.sessions.begin() as s:
        audit.append(s, actor="user:rita", action="sighting.confirm", case_id="C1")
    _replace(database2, backup)
    ok, reason = _verify(home2)
    assert not ok and "cut from the end" in reason


def _replace(target: Path, source: Path) -> None:
    """Put a copy of the database ``source`` (its write-ahead log included) in place of ``target``."""
    for suffix in ("-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    target.unlink(missing_ok=True)
    with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
        src.backup(dst)


def test_an_empty_database_file_is_refused_not_taken_for_a_new_installation(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = _installation(home)
    database.write_bytes(b"")
    for suffix in ("-wal", "-shm"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    for args in (("audit", "verify"), ("init",)):
        out = cli(home, *args)
        assert out.returncode == 2 and "exists but is empty" in out.stderr and out.stderr.count("\n") == 1
    assert database.stat().st_size == 0  # left for the operator to restore


def test_an_edited_or_removed_checkpoint_file_is_found(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _installation(home)
    checkpoints = home / "audit-checkpoints" / "checkpoints.jsonl"
    lines = checkpoints.read_text().splitlines()
    forged = json.loads(lines[-1]) | {"size": 99}
    checkpoints.write_text("\n".join([*lines, json.dumps(forged)]) + "\n")
    ok, reason = _verify(home)
    assert not ok and "line 7" in reason and "signature does not verify" in reason

    checkpoints.unlink()
    ok, reason = _verify(home)
    assert not ok and "no signed checkpoint" in reason


def test_verify_on_the_command_line_names_the_attack(tmp_path: Path) -> None:
    home = tmp_path / "home"
    database = _installation(home)
    assert cli(home, "audit", "verify").returncode == 0
    with sqlite3.connect(database) as db:
        db.execute("DELETE FROM audit_events WHERE seq = 5")
        db.execute("UPDATE audit_head SET seq = 4, hash = (SELECT hash FROM audit_events WHERE seq = 4)")
    out = cli(home, "audit", "verify", "--json")
    verdict = json.loads(out.stdout)
    assert out.returncode == 1 and not verdict["ok"] and "cut from the end" in verdict["reason"]


def test_init_never_replaces_a_lost_key_while_data_needs_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    (home / "key").unlink()
    out = cli(home, "init")
    assert out.returncode == 2 and "data key is missing" in out.stderr and not (home / "key").exists()

    home2 = tmp_path / "home2"
    assert cli(home2, "init").returncode == 0
    (home2 / "audit-key").unlink()
    out = cli(home2, "init")
    assert out.returncode == 2 and "audit key is missing" in out.stderr and not (home2 / "audit-key").exists()


def _export(home: Path, tmp_path: Path) -> Path:
    """An export of a case with some audit entries (no sightings needed for the audit part)."""
    from facesearch.accounts.service import add_user
    from facesearch.cases.service import create_case
    from facesearch.review.export import build_package

    ctx = Context.open(Settings(home=home))
    add_user(ctx.sessions, "olga", "a long enough passphrase", "officer", actor="user:admin")
    case = create_case(ctx.sessions, title="Missing: J. Doe", purpose="missing-person", actor="user:olga",
                       valid_until=datetime.now(UTC) + timedelta(days=5), legal_basis="x",
                       authorisation_ref="REF-1", authorised_by="Judge")
    package = build_package(ctx, case.ref, actor="user:olga", allow_empty=True)
    out = tmp_path / "export.zip"
    out.write_bytes(package.data)
    return out


def test_an_export_proves_its_entries_and_a_changed_one_fails(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    export = _export(home, tmp_path)
    good = cli(home, "audit", "verify", "--export", str(export), "--json")
    verdict = json.loads(good.stdout)
    assert good.returncode == 0 and verdict["ok"] and verdict["audit"]["trusted"], good.stdout + good.stderr
    assert verdict["audit"]["entries"] >= 1

    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(export) as src, zipfile.ZipFile(forged, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "audit.jsonl":
                first, *rest = data.decode().splitlines()
                entry = json.loads(first) | {"actor": "user:someone-else"}
                data = "\n".join([json.dumps(entry, sort_keys=True), *rest]).encode() + b"\n"
            dst.writestr(item, data)
    bad = cli(home, "audit", "verify", "--export", str(forged))
    assert bad.returncode == 1 and "is not in the log" in bad.stdout

    other = tmp_path / "other"
    assert cli(other, "init").returncode == 0  # a verifier who trusts another installation's key
    untrusted = cli(other, "audit", "verify", "--export", str(export))
    assert untrusted.returncode == 1 and "trusted key" in untrusted.stdout


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04garbage"])
def test_a_malformed_export_is_one_line(tmp_path: Path, content: bytes) -> None:
    home = tmp_path / "home"
    bad = tmp_path / "bad.zip"
    bad.write_bytes(content)
    out = cli(home, "audit", "verify", "--export", str(bad))
    assert out.returncode == 2 and out.stderr.count("\n") == 1 and "bad.zip" in out.stderr


def test_a_checkpoint_torn_by_a_crash_is_a_note_not_tampering(tmp_path: Path) -> None:
    home = tmp_path / "home"
    _installation(home, entries=2)
    checkpoints = home / "audit-checkpoints" / "checkpoints.jsonl"
    with checkpoints.open("a") as f:
        f.write('{"at": "2026-')  # a process killed while appending its checkpoint
    ctx = Context.open(Settings(home=home))
    with ctx.sessions.begin() as s:
        audit.append(s, actor="user:olga", action="case.update", case_id="C1")
    with ctx.sessions() as s:
        result = verify_log(s)
    assert result.ok and result.checkpoints_checked == 3 and any("line 3" in n for n in result.notes)


def test_each_checkpoint_is_shipped_to_the_configured_command(tmp_path: Path) -> None:
    import shlex
    import time

    shipped = tmp_path / "shipped.jsonl"
    receiver = f"import sys; open({str(shipped)!r}, 'a').write(sys.stdin.read() + chr(10))"
    home = tmp_path / "home"
    create_key_file(home / "key")
    create_audit_key_file(home)
    ctx = Context.open(Settings(home=home, audit_checkpoint_command=f"{shlex.quote(sys.executable)} -c "
                                                                   f"{shlex.quote(receiver)}"))
    for i in range(3):
        with ctx.sessions.begin() as s:
            audit.append(s, actor="user:olga", action="case.update", details={"value": i})
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # shipped in the background; the newest one always arrives
        got = [json.loads(x) for x in shipped.read_text().splitlines() if x.strip()] if shipped.exists() else []
        if got and got[-1]["size"] == 3:
            break
        time.sleep(0.1)
    assert got and got[-1]["size"] == 3 and all(g["key_id"] == ctx.audit_key.key_id for g in got)  # type: ignore[union-attr]
