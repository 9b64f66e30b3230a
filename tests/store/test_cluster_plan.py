"""The cluster supervisor's plan (issue 15): which cameras must be watched, and a balanced assignment of cameras
to workers that moves as few cameras as it can."""

from __future__ import annotations

import itertools
import os
from datetime import UTC, datetime, timedelta

from facesearch.cases.service import activate_case, close_case, create_case
from facesearch.cluster.plan import assign, cases_by_camera, moves
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CameraRow
from support.audit import open_audited

CAMERAS = [f"cam-{i:02d}" for i in range(10)]


def _balanced(plan: dict[str, str], workers: list[str]) -> bool:
    loads = [sum(w == x for w in plan.values()) for x in workers]
    return max(loads) - min(loads) <= 1


def test_every_camera_to_one_worker_balanced_for_any_numbers() -> None:
    for n, k in itertools.product(range(0, 12), range(1, 6)):
        workers = [f"w{i}" for i in range(k)]
        plan = assign(CAMERAS[:n] if n <= 10 else CAMERAS + [f"x{i}" for i in range(n - 10)], workers, {})
        assert len(plan) == n and set(plan.values()) <= set(workers) and _balanced(plan, workers), (n, k)
    assert assign(CAMERAS, [], {}) == {}  # no worker alive: nothing planned (and nothing watched twice)


def test_a_dead_worker_gives_up_only_its_cameras() -> None:
    workers = ["a", "b", "c"]
    before = assign(CAMERAS, workers, {})
    after = assign(CAMERAS, ["a", "c"], before)
    moved = moves(before, after)
    assert set(moved) == {c for c, w in before.items() if w == "b"}  # nothing else moves
    assert all(to in ("a", "c") for _, to in moved.values()) and _balanced(after, ["a", "c"])


def test_a_joining_worker_takes_only_what_evens_the_load() -> None:
    before = assign(CAMERAS, ["a", "b"], {})
    after = assign(CAMERAS, ["a", "b", "c"], before)
    moved = moves(before, after)
    assert len(moved) == 3 and all(to == "c" for _, to in moved.values()) and _balanced(after, ["a", "b", "c"])
    assert assign(CAMERAS, ["a", "b", "c"], after) == after  # a plan that holds is kept as it is


def test_a_camera_no_longer_wanted_stops_and_a_new_one_goes_to_the_lightest() -> None:
    before = assign(CAMERAS[:6], ["a", "b"], {})
    after = assign([*CAMERAS[1:6], "cam-new"], ["a", "b"], before)
    assert moves(before, after) == {"cam-00": (before["cam-00"], None), "cam-new": (None, before["cam-00"])}


def test_the_cameras_to_watch_are_those_an_active_case_allows_now(database_url: str) -> None:
    _, sessions = open_audited(database_url)
    sealer, now = Sealer(os.urandom(32)), datetime.now(UTC)
    with sessions.begin() as s:
        for camera, status, url in (("cam-a", "enabled", b"x"), ("cam-b", "enabled", b"x"),
                                    ("cam-c", "disabled", b"x"), ("cam-d", "enabled", None)):
            s.add(CameraRow(id=camera, name=camera, created_at=now, created_by="user:adam", status=status,
                            url_sealed=url and sealer.seal(url, f"camera-url:{camera}")))
    auth = {"legal_basis": "x", "authorisation_ref": "y", "authorised_by": "z"}
    one = create_case(sessions, title="A", purpose="victim", actor="officer", valid_until=now + timedelta(days=2),
                      cameras=["cam-a"], **auth)
    every = create_case(sessions, title="B", purpose="victim", actor="officer",
                        valid_until=now + timedelta(days=2), **auth)
    assert cases_by_camera(sessions) == {}  # authorised, not active: nothing is watched
    activate_case(sessions, one.ref, actor="officer")
    assert cases_by_camera(sessions) == {"cam-a": [one.ref]}
    activate_case(sessions, every.ref, actor="officer")
    # cam-c is disabled and cam-d has no stream: neither is watched, whatever the cases allow
    assert cases_by_camera(sessions) == {"cam-a": [one.ref, every.ref], "cam-b": [every.ref]}
    assert cases_by_camera(sessions, now=now + timedelta(days=3)) == {}  # both expired by then
    close_case(sessions, every.ref, actor="officer")
    assert cases_by_camera(sessions) == {"cam-a": [one.ref]}
