"""Retention and the bad inputs of the gallery and cases, on SQLite and PostgreSQL: each is a one-line
error or is repaired, and none loses data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from facesearch.audit import log as audit
from facesearch.audit.verification import verify as verify_log
from facesearch.cases.identify import identify
from facesearch.cases.service import CaseError, activate_case, create_case, enrol_into_case
from facesearch.engine import Engine
from facesearch.gallery.service import enrol, template_purpose
from facesearch.retention import run_retention
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CaseRow, TemplateRow
from facesearch.video.cameras import add_camera
from owned_keys import add_people, as_person
from support.audit import open_audited
from support.context import context_for

AUTH = {"legal_basis": "Act s.1", "authorisation_ref": "A-1", "authorised_by": "Judge R."}


def templates_of(sessions: object, identity_id: int) -> int:
    with sessions() as s:  # type: ignore[operator]
        return int(s.scalar(select(func.count()).select_from(TemplateRow)
                            .where(TemplateRow.identity_id == identity_id)))


def test_retention_purges_only_what_no_live_case_needs(database_url: str, tmp_path: Path, engine: Engine,
                                                       people: Path) -> None:
    _, sessions = open_audited(database_url)
    sealer = Sealer(os.urandom(32))
    now = datetime.now(UTC)
    case = create_case(sessions, title="Victim", purpose="victim", valid_until=now + timedelta(days=2),
                       actor="officer", **AUTH)
    target = enrol_into_case(context_for(sessions, sealer, engine, tmp_path), case.ref, "Barack Obama",
                             [people / "obama.jpg"], actor="o")
    member = enrol(engine, sessions, sealer, "Joe Biden", [people / "biden.jpg"], actor="o")  # in no case
    assert target.identity_id is not None and member.identity_id is not None

    idle = run_retention(sessions, actor="system", retention_days=30, audit_when_idle=False)
    assert not idle.purged_anything and templates_of(sessions, target.identity_id) == 1

    later = now + timedelta(days=3)  # the case is past its validity
    report = run_retention(sessions, actor="system", retention_days=30, now=later)
    assert report.cases_expired == [case.ref] and report.templates_purged == 0  # the expiry itself deleted it
    assert templates_of(sessions, target.identity_id) == 0
    assert templates_of(sessions, member.identity_id) == 1  # someone enrolled outside a case stays

    # A template of the expired case's target comes back (a restore from an old backup): the sweep removes it.
    vector = engine.analyze(people / "obama2.jpg").embeddings[0]
    with sessions.begin() as s:
        s.add(TemplateRow(identity_id=target.identity_id, profile=engine.profile, dim=len(vector),
                          sealed=sealer.seal_vector(vector, template_purpose(target.identity_id, "x", engine.profile)),
                          source_sha256="x", quality={}, created_at=later))
    swept = run_retention(sessions, actor="system", retention_days=30, now=later)
    assert swept.cases_expired == [] and swept.templates_purged == 1
    assert templates_of(sessions, target.identity_id) == 0 and templates_of(sessions, member.identity_id) == 1
    with sessions() as s:
        entries = [e for e in audit.events(s) if e.action in ("case.expire", "retention.run")]
        assert [e.action for e in entries] == ["case.expire", "retention.run", "retention.run"]
        assert entries[-1].details["templates_purged"] == 1
        assert verify_log(s).ok


def test_searches_outside_a_live_case_are_refused_and_logged(database_url: str, tmp_path: Path, engine: Engine,
                                                            people: Path) -> None:
    _, sessions = open_audited(database_url)
    sealer = Sealer(os.urandom(32))
    case = create_case(sessions, title="Suspect", purpose="suspect", valid_until=datetime.now(UTC) + timedelta(days=5),
                       actor="officer", cameras=["cam-1"], **AUTH)
    ctx = context_for(sessions, sealer, engine, tmp_path)
    add_camera(ctx, "cam-1", name="Door", actor="setup")  # a search names a registered camera
    enrol_into_case(ctx, case.ref, "Lin-Manuel Miranda", [people / "lin-manuel-miranda.png"], actor="o")
    enrol(engine, sessions, sealer, "Barack Obama", [people / "obama.jpg"], actor="o")  # in no case
    activate_case(sessions, case.ref, actor="officer")

    with pytest.raises(CaseError, match="C99: no such case"):
        identify(ctx, "C99", people / "obama2.jpg", actor="r")
    with pytest.raises(CaseError, match="camera 'cam-9' is not allowed"):
        identify(ctx, case.ref, people / "obama2.jpg", actor="r", camera="cam-9")
    # Someone enrolled in no case is in no watchlist: a photo of him matches nobody.
    result = identify(ctx, case.ref, people / "obama2.jpg", actor="r", camera="cam-1")
    assert result.watchlist_size == 1 and result.faces and all(f.no_match for f in result.faces)

    with sessions.begin() as s:  # the validity ends, before any retention run has expired the case
        s.get(CaseRow, int(case.ref[1:])).valid_until = datetime.now(UTC) - timedelta(seconds=1)
    with pytest.raises(CaseError, match="expired on"):
        identify(ctx, case.ref, people / "lin-manuel-miranda.png", actor="r")
    with sessions() as s:
        refused = [e for e in audit.events(s) if e.action == "search.refused"]
        assert [e.case_id for e in refused] == ["C99", case.ref, case.ref]
        assert "expired on" in str(refused[-1].details["reason"])
        done = [e for e in audit.events(s) if e.action == "search.identify"]
        assert done[0].details["started_at"] <= done[0].details["ended_at"]


def cli(home: Path, *args: str, key: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACESEARCH_HOME": str(home), **as_person("olga")}  # the officer of these tests
    for name in ("FACESEARCH_DATABASE_URL", "FACESEARCH_KEY", "FACESEARCH_AUDIT_KEY", "FACESEARCH_API_KEY"):
        env.pop(name, None)
    if key is not None:
        env["FACESEARCH_KEY"] = key
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_a_missing_or_wrong_key_is_one_line_and_changes_nothing(tmp_path: Path, people: Path) -> None:
    from facesearch.store.crypto import encode_key

    home = tmp_path / "home"
    assert cli(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})
    until = (datetime.now(UTC) + timedelta(days=5)).strftime("%Y-%m-%d")
    assert cli(home, "case", "create", "--title", "T", "--purpose", "victim", "--legal-basis", "x",
               "--authorisation-ref", "y", "--authorised-by", "z", "--valid-until", until).returncode == 0
    assert cli(home, "enroll", "--case", "C1", "--name", "Barack Obama", str(people / "obama.jpg")).returncode == 0
    assert cli(home, "case", "activate", "C1").returncode == 0

    wrong = cli(home, "identify", str(people / "obama2.jpg"), "--case", "C1", key=encode_key(os.urandom(32)))
    assert wrong.returncode == 2 and "wrong key" in wrong.stderr and len(wrong.stderr.strip().splitlines()) == 1
    (home / "key").rename(home / "key.away")
    missing = cli(home, "identify", str(people / "obama2.jpg"), "--case", "C1")
    assert missing.returncode == 2 and "no key: run 'facesearch init'" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1
    (home / "key.away").rename(home / "key")
    found = json.loads(cli(home, "identify", str(people / "obama2.jpg"), "--case", "C1", "--json").stdout)
    assert found["faces"][0]["candidates"][0]["name"] == "Barack Obama"  # the template survived both
    assert cli(home, "audit", "verify").returncode == 0


def test_sightings_and_their_evidence_go_after_the_retention_period(database_url: str) -> None:
    from facesearch.store.schema import EvidenceRow, IdentityRow, SightingRow

    _, sessions = open_audited(database_url)
    now = datetime.now(UTC)
    case = create_case(sessions, title="V", purpose="victim", valid_until=now + timedelta(days=5), actor="o", **AUTH)
    with sessions.begin() as s:
        person = IdentityRow(name="P", reference={}, created_at=now, created_by="o")
        s.add(person)
        s.flush()
        for age_days in (40, 31, 29, 1):
            row = SightingRow(case_id=int(case.ref[1:]), identity_id=person.id, camera_id="cam-1", source="x.mp4",
                              track=1, start_s=0.0, end_s=1.0, best_s=0.5, started_at=None, ended_at=None,
                              time_source="given", score=0.9, fmr=1e-6, threshold=0.8, box=[0, 0, 1, 1],
                              status="candidate", created_at=now - timedelta(days=age_days))
            s.add(row)
            s.flush()
            s.add(EvidenceRow(sighting_id=row.id, kind="frame", sealed=b"x", sha256="0" * 64))
    report = run_retention(sessions, actor="system", retention_days=30, now=now)
    assert report.sightings_purged == 2
    with sessions() as s:
        assert s.scalar(select(func.count()).select_from(SightingRow)) == 2
        assert s.scalar(select(func.count()).select_from(EvidenceRow)) == 2  # the evidence went with them
        assert [e.details["sightings_purged"] for e in audit.events(s) if e.action == "retention.run"] == [2]
