"""``facesearch init`` and ``facesearch audit`` as a user runs them."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACESEARCH_HOME": str(home)}
    env.pop("FACESEARCH_KEY", None)
    env.pop("FACESEARCH_AUDIT_KEY", None)
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env=env, timeout=120, check=False)


def test_init_then_verify_then_tamper(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = run(home, "init", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["key_created"] is True
    assert stat.S_IMODE((home / "key").stat().st_mode) == 0o600
    again = json.loads(run(home, "init", "--json").stdout)
    assert again["key_created"] is False  # the key is never replaced
    ok = run(home, "audit", "verify", "--json")
    verdict = json.loads(ok.stdout)
    assert ok.returncode == 0 and verdict["ok"] and verdict["checked"] == 2 and verdict["first_bad_seq"] is None
    assert verdict["key_id"] == again["audit_key_id"] and verdict["latest_checkpoint"]["size"] == 2
    entries = json.loads(run(home, "audit", "show", "--json").stdout)
    assert [e["action"] for e in entries] == ["system.init", "system.init"]

    with sqlite3.connect(home / "facesearch.db") as db:
        db.execute("UPDATE audit_events SET details = '{}' WHERE seq = 1")
    bad = run(home, "audit", "verify")
    assert bad.returncode == 1 and "entry 1 was changed" in bad.stdout


def test_a_damaged_database_is_one_line(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "facesearch.db").write_bytes(b"this is not a database" * 100)
    out = run(home, "audit", "verify")
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "facesearch.db" in out.stderr and "Traceback" not in out.stderr
