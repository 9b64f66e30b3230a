"""``facesearch cluster run|status|stop`` refuse whoever may not use them, before anything reaches a cluster, and
say in one line what is wrong with a cluster that is not there or an option that makes no sense. (The commands
against a real cluster: test_cluster_acceptance.py.)"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from owned_keys import add_people, run_as
from support.rtsp import free_port


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("home")
    assert run_as(home, "init", person=None).returncode == 0
    add_people(home, {"olga": "officer", "rita": "reviewer"})
    return home


@pytest.mark.parametrize("command", [["cluster", "run"], ["cluster", "status"], ["cluster", "stop"]])
def test_nobody_signed_in_is_refused(home: Path, command: list[str]) -> None:
    done = run_as(home, *command, person=None)
    assert done.returncode != 0 and "FACESEARCH_USER" in done.stderr and len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(("person", "command", "action"), [
    ("olga", ["cluster", "run"], "cameras.write"), ("olga", ["cluster", "stop"], "cameras.write"),
    ("rita", ["cluster", "run"], "cameras.write"), ("rita", ["cluster", "status"], "cameras.read")])
def test_roles_that_may_not_are_refused(home: Path, person: str, command: list[str], action: str) -> None:
    done = run_as(home, *command, person=person)
    assert done.returncode != 0 and f"may not {action}" in done.stderr


def test_no_cluster_there_is_one_clear_line(home: Path) -> None:
    began = time.monotonic()
    done = run_as(home, "cluster", "status", "--address", f"127.0.0.2:{free_port()}", person="adam")
    assert done.returncode != 0 and "no Ray cluster to join" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and time.monotonic() - began < 120


@pytest.mark.parametrize("fps", ["0", "-5", "nan", "1e9"])
def test_a_frame_rate_that_makes_no_sense_is_refused(home: Path, fps: str) -> None:
    done = run_as(home, "cluster", "run", "--fps", fps, person="adam")
    assert done.returncode != 0 and "fps" in done.stderr.lower()


@pytest.mark.parametrize("address", ["nonsense", "ray://127.0.0.2:10001", "127.0.0.2:port"])
def test_an_address_that_is_not_one_is_refused(home: Path, address: str) -> None:
    done = run_as(home, "cluster", "status", "--address", address, person="adam")
    assert done.returncode != 0 and address in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_a_device_that_is_not_one_is_refused(home: Path) -> None:
    done = run_as(home, "cluster", "run", "--device", "tpu", person="adam")
    assert done.returncode != 0 and "tpu" in done.stderr and "--device" in done.stderr
