"""The case commands as a user types them (SQLite under a fresh data directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACESEARCH_HOME": str(home)}
    env.pop("FACESEARCH_KEY", None)
    env.pop("FACESEARCH_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_case_enrol_identify_close(tmp_path: Path, people: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    until = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%d")
    created = run(home, "case", "create", "--title", "Missing: J. Doe", "--purpose", "missing-person",
                  "--legal-basis", "Act s.1", "--authorisation-ref", "A-1", "--authorised-by", "Judge R.",
                  "--valid-until", until, "--cameras", "cam-1,cam-2", "--json")
    assert created.returncode == 0, created.stderr
    case = json.loads(created.stdout)
    assert case["id"] == "C1" and case["status"] == "authorised" and case["cameras"] == ["cam-1", "cam-2"]

    enrolled = run(home, "enroll", "--case", "C1", "--name", "Barack Obama", str(people / "obama.jpg"),
                   str(people / "obama-240p.jpg"), "--json")
    assert enrolled.returncode == 3  # one photo refused: partial
    photos = json.loads(enrolled.stdout)["photos"]
    assert [p["accepted"] for p in photos] == [True, False] and "too small" in photos[1]["reason"]

    refused = run(home, "identify", str(people / "obama2.jpg"), "--case", "C1")
    assert refused.returncode == 2 and "not active" in refused.stderr
    assert run(home, "case", "activate", "C1").returncode == 0
    found = json.loads(run(home, "identify", str(people / "obama2.jpg"), "--case", "C1", "--json").stdout)
    assert found["faces"][0]["candidates"][0]["name"] == "Barack Obama"
    assert {"score", "fmr", "rank", "identity_id"} <= set(found["faces"][0]["candidates"][0])
    assert found["target_fpir"] == 1e-3 and found["threshold"] > 0
    none = json.loads(run(home, "identify", str(people / "biden.jpg"), "--case", "C1", "--json").stdout)
    assert none["faces"][0]["match"] is False

    assert json.loads(run(home, "case", "close", "C1", "--json").stdout)["status"] == "closed"
    unknown = run(home, "identify", str(people / "obama2.jpg"), "--case", "C7")
    assert unknown.returncode == 2 and "C7: no such case" in unknown.stderr
    assert run(home, "audit", "verify").returncode == 0


def test_retention_expires_cases_past_their_validity(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    now = datetime.now(UTC)
    created = run(home, "case", "create", "--title", "Old", "--purpose", "victim", "--legal-basis", "x",
                  "--authorisation-ref", "y", "--authorised-by", "z",
                  "--valid-from", (now - timedelta(days=10)).isoformat(),
                  "--valid-until", (now - timedelta(minutes=1)).isoformat(), "--json")
    assert created.returncode == 0, created.stderr
    out = run(home, "retention", "run", "--json")
    assert out.returncode == 0 and json.loads(out.stdout) == {"cases_expired": ["C1"]}
    assert json.loads(run(home, "case", "list", "--json").stdout)[0]["status"] == "expired"
    actions = [e["action"] for e in json.loads(run(home, "audit", "show", "--json").stdout)]
    assert actions[-2:] == ["case.expire", "retention.run"]
