"""The camera supervisor's passes (issue 15), against hosts that only record what they are asked: every camera an
active case allows runs on exactly one live host under a current lease; a dead host's cameras move with a new
token; a case joining restarts the camera under the same lease; a camera whose last case ended stops; and a new
supervisor (a restarted one) carries on from the database and the hosts without moving anything."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from facesearch.cases.service import activate_case, close_case, create_case
from facesearch.cluster.supervisor import HostGone, Supervisor
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CameraRow
from facesearch.video.leases import Lease, lease_table
from support.audit import open_audited
from support.context import context_for

CAMERAS = [f"cam-{i}" for i in range(6)]


class RecordingHosts:
    """Hosts that keep what they were asked to run, as the real ones report it; ``dead`` ones do not answer."""

    def __init__(self, names: list[str]) -> None:
        self.names = names
        self.runs: dict[str, dict[str, dict[str, Any]]] = {n: {} for n in names}
        self.dead: set[str] = set()
        self.starts = 0

    def alive(self) -> list[str]:
        return [n for n in self.names if n not in self.dead]

    def running(self, host: str) -> dict[str, dict[str, Any]]:
        if host in self.dead:
            raise HostGone(host)
        return dict(self.runs[host])

    def start(self, host: str, camera: str, cases: list[str], lease: Lease) -> None:
        if host in self.dead:
            raise HostGone(host)
        assert lease.holder == host
        self.starts += 1
        for runs in self.runs.values():  # a run under a lease taken over stops by itself (its fence)
            if camera in runs and runs[camera]["token"] != lease.token:
                del runs[camera]
        self.runs[host][camera] = {"token": lease.token, "cases": list(cases)}

    def stop(self, host: str, camera: str) -> None:
        self.runs[host].pop(camera, None)

    def where(self) -> dict[str, str]:
        return {c: h for h, runs in self.runs.items() for c in runs if h not in self.dead}


@pytest.fixture
def deployment(tmp_path: Path, database_url: str) -> Any:
    _, sessions = open_audited(database_url)
    sealer, now = Sealer(os.urandom(32)), datetime.now(UTC)
    with sessions.begin() as s:
        for camera in CAMERAS:
            s.add(CameraRow(id=camera, name=camera, created_at=now, created_by="user:adam",
                            url_sealed=sealer.seal(b"rtsp://127.0.0.1:9/x", f"camera-url:{camera}")))
    return context_for(sessions, sealer, None, tmp_path)


def _case(ctx: Any, cameras: list[str]) -> str:
    ref = create_case(ctx.sessions, title="Missing", purpose="victim", actor="officer", cameras=cameras,
                      valid_until=datetime.now(UTC) + timedelta(days=1), legal_basis="x", authorisation_ref="y",
                      authorised_by="z").ref
    activate_case(ctx.sessions, ref, actor="officer")
    return ref


def _consistent(ctx: Any, hosts: RecordingHosts) -> dict[str, str]:
    """Each camera runs once, on a live host, under the lease the table holds for it now."""
    leases = lease_table(ctx.sessions)
    where = hosts.where()
    for camera, host in where.items():
        assert leases[camera].holder == host and leases[camera].token == hosts.runs[host][camera]["token"]
    return where


def test_every_allowed_camera_runs_once_and_a_dead_hosts_cameras_move(deployment: Any) -> None:
    ctx = deployment
    ref = _case(ctx, [])
    hosts = RecordingHosts(["a", "b", "c"])
    first = Supervisor(ctx, hosts).step()
    where = _consistent(ctx, hosts)
    assert set(where) == set(CAMERAS) and sorted(where.values()) == ["a", "a", "b", "b", "c", "c"]
    assert len(first.started) == 6 and not first.errors
    assert all(r["cases"] == [ref] for runs in hosts.runs.values() for r in runs.values())

    hosts.dead.add("b")
    lost = {c for c, h in where.items() if h == "b"}
    tokens = {c: lease_table(ctx.sessions)[c].token for c in lost}
    moved = Supervisor(ctx, hosts).step()
    after = _consistent(ctx, hosts)
    assert set(after) == set(CAMERAS) and "b" not in after.values()
    assert {c for c in CAMERAS if after[c] != where[c]} == lost  # only the dead host's cameras move
    assert all(lease_table(ctx.sessions)[c].token == tokens[c] + 1 for c in lost)  # the old token is dead
    assert len(moved.started) == 2 and moved.hosts == ["a", "c"]


def test_a_restarted_supervisor_moves_nothing_and_a_joining_host_evens_the_load(deployment: Any) -> None:
    ctx = deployment
    _case(ctx, [])
    hosts = RecordingHosts(["a", "b"])
    Supervisor(ctx, hosts).step()
    before, starts = _consistent(ctx, hosts), hosts.starts
    again = Supervisor(ctx, hosts).step()  # a new instance: it knows only the database and the hosts
    assert not again.started and not again.stopped and hosts.starts == starts and _consistent(ctx, hosts) == before
    hosts.names.append("c")
    hosts.runs["c"] = {}
    joined = Supervisor(ctx, hosts).step()
    after = _consistent(ctx, hosts)
    assert len(joined.started) == 2 and sorted(after.values()) == ["a", "a", "b", "b", "c", "c"]


def test_a_joining_case_restarts_its_cameras_and_an_ended_one_stops_them(deployment: Any) -> None:
    ctx = deployment
    first = _case(ctx, ["cam-0", "cam-1"])
    hosts = RecordingHosts(["a", "b"])
    sup = Supervisor(ctx, hosts)
    sup.step()
    assert set(_consistent(ctx, hosts)) == {"cam-0", "cam-1"}
    tokens = {c: lease_table(ctx.sessions)[c].token for c in ("cam-0", "cam-1")}
    second = _case(ctx, ["cam-1", "cam-2"])
    joined = sup.step()
    where = _consistent(ctx, hosts)
    assert set(where) == {"cam-0", "cam-1", "cam-2"}
    assert hosts.runs[where["cam-1"]]["cam-1"]["cases"] == [first, second]
    assert lease_table(ctx.sessions)["cam-1"].token == tokens["cam-1"]  # same lease, restarted for both cases
    assert len(joined.restarted) == 1 and len(joined.started) == 1
    close_case(ctx.sessions, first, actor="officer")
    ended = sup.step()
    assert set(_consistent(ctx, hosts)) == {"cam-1", "cam-2"} and ended.stopped == [f"cam-0 on {where['cam-0']}"]
    close_case(ctx.sessions, second, actor="officer")
    sup.step()
    assert hosts.where() == {}


def test_no_live_host_runs_nothing_and_says_which_did_not_answer(deployment: Any) -> None:
    ctx = deployment
    _case(ctx, [])

    class Silent(RecordingHosts):
        def alive(self) -> list[str]:
            return self.names  # the cluster still lists them, but they do not answer

    hosts = Silent(["a"])
    hosts.dead.add("a")
    done = Supervisor(ctx, hosts).step()
    assert done.plan == {} and hosts.where() == {} and done.errors == ["a: not answering (a)"]


def test_a_camera_that_keeps_stopping_is_retried_less_and_less_often() -> None:
    from facesearch.cluster.supervisor import Restarts

    restarts = Restarts(first_s=2.0, most_s=60.0)
    assert restarts.may_start("cam", 0.0)
    restarts.started("cam", 0.0)
    assert restarts.may_start("cam", 0.5)  # the first stop: started again at once
    restarts.started("cam", 0.5)
    assert not restarts.may_start("cam", 1.5) and restarts.may_start("cam", 2.5)
    restarts.started("cam", 2.5)
    assert not restarts.may_start("cam", 5.0) and restarts.may_start("cam", 6.6)
    restarts.started("cam", 6.6)
    restarts.started("cam", 100.0)  # it had run for over a minute: a fresh start
    assert restarts.may_start("cam", 100.1)


def test_a_camera_stopping_by_itself_waits_but_one_on_a_dead_host_moves_at_once(deployment: Any) -> None:
    ctx = deployment
    _case(ctx, ["cam-0"])
    hosts = RecordingHosts(["a", "b"])
    sup = Supervisor(ctx, hosts)
    sup.step()
    host = hosts.where()["cam-0"]
    hosts.runs[host].clear()  # its watch ended by itself (a stream refusing every connection)
    sup.step()
    assert hosts.where()["cam-0"] == host  # the first time: at once
    hosts.runs[host].clear()
    again = sup.step()
    assert hosts.where() == {} and not again.started  # stopped again at once: it waits
    hosts.runs[host]["cam-0"] = {"token": lease_table(ctx.sessions)["cam-0"].token, "cases": []}
    hosts.dead.add(host)
    moved = sup.step()
    assert len(moved.started) == 1 and hosts.where()["cam-0"] != host  # a lost node is not a failure: no wait
