"""The case commands as a user types them (SQLite under a fresh data directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from owned_keys import add_people, as_person


def run(home: Path, *args: str, person: str = "olga") -> subprocess.CompletedProcess[str]:
    """``facesearch ARGS``, signed in as ``person`` (the CLI acts as an account: see ``add_people``)."""
    env = {**os.environ, "FACESEARCH_HOME": str(home), **as_person(person)}
    env.pop("FACESEARCH_KEY", None)
    env.pop("FACESEARCH_DATABASE_URL", None)
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env=env, timeout=300, check=False)


def test_case_enrol_identify_close(tmp_path: Path, people: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})
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
    assert run(home, "camera", "add", "cam-1", "--name", "Door", person="adam").returncode == 0  # cameras: admins
    found = json.loads(run(home, "identify", str(people / "obama2.jpg"), "--case", "C1", "--camera", "cam-1",
                           "--json").stdout)
    assert found["faces"][0]["candidates"][0]["name"] == "Barack Obama"
    assert {"score", "fmr", "rank", "identity_id"} <= set(found["faces"][0]["candidates"][0])
    assert found["target_fpir"] == 1e-3 and found["threshold"] > 0
    none = json.loads(run(home, "identify", str(people / "biden.jpg"), "--case", "C1", "--camera", "cam-1",
                          "--json").stdout)
    assert none["faces"][0]["match"] is False

    assert json.loads(run(home, "case", "close", "C1", "--json").stdout)["status"] == "closed"
    unknown = run(home, "identify", str(people / "obama2.jpg"), "--case", "C7")
    assert unknown.returncode == 2 and "C7: no such case" in unknown.stderr
    shown = run(home, "audit", "show", "--case", "c1").stdout.splitlines()  # one line per entry, any case spelling
    assert [ln.split()[4] for ln in shown] == ["case.create", "identity.enrol", "search.refused", "case.activate",
                                              "search.identify", "search.identify", "case.close"]
    assert "input_sha256=" in shown[4] and len(max(shown, key=len)) < 260
    assert run(home, "audit", "verify").returncode == 0


def test_retention_expires_cases_past_their_validity(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})
    now = datetime.now(UTC)
    created = run(home, "case", "create", "--title", "Old", "--purpose", "victim", "--legal-basis", "x",
                  "--authorisation-ref", "y", "--authorised-by", "z",
                  "--valid-from", (now - timedelta(days=10)).isoformat(),
                  "--valid-until", (now - timedelta(minutes=1)).isoformat(), "--json")
    assert created.returncode == 0, created.stderr
    out = run(home, "retention", "run", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["cases_expired"] == ["C1"] and report["retention_days"] == 30
    assert json.loads(run(home, "case", "list", "--json").stdout)[0]["status"] == "expired"
    actions = [e["action"] for e in json.loads(run(home, "audit", "show", "--json").stdout)]
    assert actions[-2:] == ["case.expire", "retention.run"]
    again = run(home, "retention", "run", "--json")  # an explicit run is audited even when nothing is due
    assert json.loads(again.stdout)["cases_expired"] == []
    assert [e["action"] for e in json.loads(run(home, "audit", "show", "--json").stdout)][-1] == "retention.run"


def test_retention_runs_at_start_up_and_the_case_span_is_an_installation_setting(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})
    now = datetime.now(UTC)
    auth = ["--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z"]
    past = run(home, "case", "create", "--title", "Old", "--purpose", "victim", *auth,
               "--valid-from", (now - timedelta(days=3)).isoformat(),
               "--valid-until", (now - timedelta(minutes=1)).isoformat())
    assert past.returncode == 0, past.stderr
    before = json.loads(run(home, "audit", "show", "--json").stdout)
    listed = json.loads(run(home, "case", "list", "--json").stdout)  # past its validity: shown as expired
    assert listed[0]["status"] == "expired"
    assert len(json.loads(run(home, "audit", "show", "--json").stdout)) == len(before)  # reading wrote nothing
    started = run(home, "watch", "--case", "C1", "--camera", "cam-9")  # start-up ran retention, then refused
    assert started.returncode == 2 and "cam-9" in started.stderr
    entries = json.loads(run(home, "audit", "show", "--json").stdout)
    assert [e["action"] for e in entries][-2:] == ["case.expire", "retention.run"]
    assert entries[-2]["actor"] == "system"
    assert len(json.loads(run(home, "case", "list", "--json").stdout)) == 1
    assert len(json.loads(run(home, "audit", "show", "--json").stdout)) == len(entries)  # idle runs: no entry

    long = ["case", "create", "--title", "Long", "--purpose", "victim", *auth,
            "--valid-until", (now + timedelta(days=45)).strftime("%Y-%m-%d")]
    refused = run(home, *long)
    assert refused.returncode == 2 and "exceeds the maximum of 30 days" in refused.stderr
    env_home = {"FACESEARCH_MAX_CASE_DAYS": "60"}
    allowed = subprocess.run([sys.executable, "-m", "facesearch.cli", *long], capture_output=True, text=True,
                             env={**os.environ, "FACESEARCH_HOME": str(home), **env_home, **as_person("olga")},
                             timeout=300, check=False)
    assert allowed.returncode == 0, allowed.stderr
