"""``watch`` against a real RTSP stream on loopback (GStreamer's RTSP server serving the clip in a loop):
the person found live, the stream stopped and restarted 10 times, a case expiring mid-watch, and a
stream that never answers."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from owned_keys import add_people, as_person
from owned_keys import run_as as run
from support.cli import cli_env
from support.rtsp import LoopingStream, free_port


class Watch:
    """``facesearch watch --json`` in the background, signed in as ``person`` (the case's officer), its
    events read line by line."""

    def __init__(self, home: Path, *args: str, person: str = "olga") -> None:
        env = {k: v for k, v in cli_env(home).items() if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD",
                                                                  "FACESEARCH_API_KEY")}
        self.process = subprocess.Popen([sys.executable, "-m", "facesearch.cli", "watch", *args, "--json"],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                        env={**env, **as_person(person)})
        self.events: list[dict[str, object]] = []

    def lines(self) -> Iterator[dict[str, object]]:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            event = json.loads(raw)
            self.events.append(event)
            yield event

    def wait_for(self, kind: str, timeout: float = 60.0, contains: str = "") -> dict[str, object]:
        deadline = time.monotonic() + timeout
        for event in self.lines():
            if event["event"] == kind and contains in str(event["message"]):
                return event
            if time.monotonic() > deadline:
                break
        raise AssertionError(f"no {kind!r} event within {timeout} s; saw {self.events}")

    def interrupt(self) -> int:
        self.process.send_signal(signal.SIGINT)
        out, _ = self.process.communicate(timeout=60)
        self.events += [json.loads(x) for x in out.splitlines() if x.strip()]
        return self.process.returncode

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


def test_watch_finds_the_person_live_and_stops_cleanly(hamilton_case: Path, video: Path) -> None:
    home = hamilton_case
    with LoopingStream(video / "short_hamilton_clip.mp4") as stream:
        watch = Watch(home, "--case", "C1", "--camera", "cam-1", "--url", stream.url)
        try:
            watch.wait_for("connected", timeout=60)
            seen = watch.wait_for("sighting", timeout=60)
            assert seen["name"] == "Lin-Manuel Miranda"
            assert watch.interrupt() == 0
        finally:
            watch.kill()
    assert watch.events[-1]["event"] == "stopped" and watch.events[-1]["message"] == "stopped on request"
    live = [s for s in json.loads(run(home, "sightings", "--case", "C1", "--json").stdout) if "live" in s["source"]]
    assert live and {s["name"] for s in live} == {"Lin-Manuel Miranda"}
    assert all(s["camera"] == "cam-1" and s["time_source"] == "stream clock" for s in live)
    entries = json.loads(run(home, "audit", "show", "--case", "C1", "--json").stdout)
    end = [e for e in entries if e["action"] == "watch.end"][-1]
    assert end["details"]["reason"] == "stopped on request" and end["details"]["sightings"] == len(live)


def test_watch_survives_the_stream_stopping_and_restarting_ten_times(hamilton_case: Path, video: Path) -> None:
    home = hamilton_case
    stream = LoopingStream(video / "carphone_pristine.mp4").start()
    watch = Watch(home, "--case", "C1", "--camera", "cam-1", "--url", stream.url)
    try:
        watch.wait_for("connected", timeout=60)
        for _ in range(10):
            stream.stop()
            watch.wait_for("disconnected", timeout=30)
            stream.start()
            watch.wait_for("connected", timeout=30)
        assert watch.interrupt() == 0
    finally:
        watch.kill()
        stream.stop()
    assert sum(e["event"] == "connected" for e in watch.events) == 11
    assert watch.events[-1]["event"] == "stopped"


def test_a_case_expiring_during_a_watch_stops_the_matching(tmp_path: Path, video: Path, people: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})  # the CLI acts as accounts: olga the officer (run_as's default)
    until = datetime.now(UTC) + timedelta(seconds=45)
    created = run(home, "case", "create", "--title", "Short", "--purpose", "victim", "--legal-basis", "x",
                  "--authorisation-ref", "y", "--authorised-by", "z", "--valid-until", until.isoformat())
    assert created.returncode == 0, created.stderr
    assert run(home, "enroll", "--case", "C1", "--name", "Lin-Manuel Miranda",
               str(people / "lin-manuel-miranda.png")).returncode == 0
    assert run(home, "case", "activate", "C1").returncode == 0
    assert run(home, "camera", "add", "cam-1", "--name", "Stage", person="adam").returncode == 0
    with LoopingStream(video / "carphone_pristine.mp4") as stream:
        watch = Watch(home, "--case", "C1", "--camera", "cam-1", "--url", stream.url)
        try:
            watch.wait_for("connected", timeout=60)
            stopped = watch.wait_for("stopped", timeout=90)
            assert watch.process.wait(timeout=30) == 0
        finally:
            watch.kill()
    assert "C1 expired at" in str(stopped["message"])
    assert datetime.fromisoformat(str(stopped["at"])) >= until
    end = [e for e in json.loads(run(home, "audit", "show", "--json").stdout) if e["action"] == "watch.end"][-1]
    assert "expired" in end["details"]["reason"]
    refused = run(home, "watch", "--case", "C1", "--camera", "cam-1", "--url", "rtsp://127.0.0.1:1/x")
    assert refused.returncode == 2 and "C1" in refused.stderr and len(refused.stderr.strip().splitlines()) == 1


def test_an_unreachable_stream_is_retried_then_reported(hamilton_case: Path) -> None:
    port = free_port()  # nothing listens there
    out = run(hamilton_case, "watch", "--case", "C1", "--camera", "cam-1", "--url",
              f"rtsp://user:pw@127.0.0.1:{port}/none", "--give-up-after", "3")
    assert out.returncode == 2
    error = out.stderr.strip().splitlines()[-1]
    assert error.startswith("error: rtsp://user:***@127.0.0.1") and "gave up after 3 failed connection" in error
    assert "pw@" not in out.stderr + out.stdout
