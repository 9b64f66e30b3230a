"""Audited writes from many clients at once, on SQLite and PostgreSQL: every one succeeds, the hash chain
stays linear and verifies, and read-then-write decisions (two reviewers confirming one sighting) are not lost.

Before: two writers on SQLite read the same audit head, and the second failed on the chain's unique sequence
number (half of 320 failed sign-ins from 8 threads raised IntegrityError); now every SQLite transaction takes
the write lock as it begins (``store.db._begin_immediate``), and PostgreSQL locks the head row."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.audit.verification import verify as verify_log
from facesearch.cases.service import create_case
from facesearch.context import Context
from facesearch.refs import parse_case_ref
from facesearch.review.service import review
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.schema import IdentityRow, ReviewRow, SightingRow
from owned_keys import key_for
from support.audit import open_audited

THREADS = 8
AUTH = {"legal_basis": "x", "authorisation_ref": "y", "authorised_by": "z"}


def chain(sessions: object) -> tuple[bool, int]:
    with sessions() as s:  # type: ignore[operator]
        result = verify_log(s)
    return result.ok, result.checked


def test_failed_sign_ins_from_many_threads_all_land_in_one_chain(database_url: str) -> None:
    _, sessions = open_audited(database_url)

    def attempts(k: int) -> int:
        for _ in range(25):
            assert accounts.sign_in(sessions, f"nobody-{k}", "not the password") is None
        return 25

    with ThreadPoolExecutor(THREADS) as pool:
        assert sum(pool.map(attempts, range(THREADS))) == THREADS * 25  # no attempt raised
    assert chain(sessions) == (True, THREADS * 25)


def test_two_reviewers_confirming_at_once_both_count(database_url: str) -> None:
    _, sessions = open_audited(database_url)
    case = create_case(sessions, title="T", purpose="victim", actor="olga",
                       valid_until=datetime.now(UTC) + timedelta(days=2), reviewers_required=2, **AUTH)
    with sessions.begin() as s:
        person = IdentityRow(name="P", reference={}, created_at=datetime.now(UTC), created_by="olga")
        s.add(person)
        s.flush()
        ids = []
        for track in range(THREADS):
            row = SightingRow(case_id=parse_case_ref(case.ref), identity_id=person.id, camera_id=None, source="x.mp4",
                              track=track, start_s=1.0, end_s=2.0, best_s=1.5, started_at=None, ended_at=None,
                              time_source="given", score=0.9, fmr=1e-6, threshold=0.8, box=[0, 0, 9, 9],
                              status="candidate", created_at=datetime.now(UTC))
            s.add(row)
            s.flush()
            ids.append(row.id)

    def decide(job: tuple[int, str]) -> str:
        sighting, reviewer = job
        return review(sessions, sighting, reviewer=reviewer, decision="confirm").status

    jobs = [(sighting, reviewer) for sighting in ids for reviewer in ("rita", "ravi")]
    with ThreadPoolExecutor(THREADS) as pool:
        list(pool.map(decide, jobs))
    with sessions() as s:
        assert {s.get(SightingRow, i).status for i in ids} == {"confirmed"}  # type: ignore[union-attr]
        assert s.query(ReviewRow).count() == 2 * THREADS
    assert chain(sessions) == (True, 1 + 2 * THREADS)  # the case's creation, then every decision


def test_many_clients_creating_cases_over_the_api(tmp_path: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'api.db'}")
    key = {"Authorization": f"Bearer {key_for(sessions, 'officer', 'officer')}"}
    app = create_app(Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32))), run_jobs=False)
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat()

    def client_run(k: int) -> list[int]:
        with TestClient(app) as client:
            return [client.post("/v1/cases", json={"title": f"case {k}.{i}", "purpose": "victim",
                                                   "valid_until": until}, headers=key).status_code
                    for i in range(6)]

    with ThreadPoolExecutor(THREADS) as pool:
        codes = [c for run in pool.map(client_run, range(THREADS)) for c in run]
    assert codes == [201] * THREADS * 6
    assert chain(sessions) == (True, 2 + THREADS * 6)  # the key's owner and the key, then the cases
