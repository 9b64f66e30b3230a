"""A server killed (SIGKILL) during a scan job: on restart the job resumes, and no sighting is lost or
duplicated."""

from __future__ import annotations

import json
import shutil
import signal
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from owned_keys import add_people
from owned_keys import run_as as run
from support.cli import cli_env
from support.rtsp import free_port
from support.serve import start_server


def call(base: str, key: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(f"{base}{path}", method=method, data=None if body is None else
                                     json.dumps(body).encode(), headers={"Authorization": f"Bearer {key}",
                                                                         "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return json.loads(answer.read())


def test_a_killed_server_resumes_its_scan_job(tmp_path: Path, people: Path, video: Path) -> None:
    home, media = tmp_path / "home", tmp_path / "media"
    media.mkdir()
    for name in ("a.mp4", "b.mp4", "c.mp4"):
        shutil.copyfile(video / "short_hamilton_clip.mp4", media / name)
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer"})  # the CLI acts as an account: olga the officer (run_as's default)
    now = datetime.now(UTC)
    window = ["--valid-from", (now - timedelta(days=1)).isoformat(),
              "--valid-until", (now + timedelta(days=3)).strftime("%Y-%m-%d")]
    assert run(home, "case", "create", "--title", "T", "--purpose", "victim", "--legal-basis", "x",
               "--authorisation-ref", "y", "--authorised-by", "z", *window).returncode == 0
    assert run(home, "enroll", "--case", "C1", "--name", "Lin-Manuel Miranda",
               str(people / "lin-manuel-miranda.png")).returncode == 0
    assert run(home, "case", "activate", "C1").returncode == 0
    key = json.loads(run(home, "apikey", "add", "bot", "--role", "officer", "--json").stdout)["key"]  # olga's
    env = {**cli_env(home), "FACESEARCH_MEDIA_ROOT": str(media)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"

    server = start_server(env, port)
    try:
        job = call(base, key, "POST", "/v1/scans", {"case": "C1", "paths": [str(media)]})
        for _ in range(600):  # until the first file is done and the second is under way
            state = call(base, key, "GET", f"/v1/scans/{job['id']}")
            if state["progress"].get("files_done", 0) >= 1 and state["status"] == "running":
                break
            time.sleep(0.1)
        assert state["status"] == "running", state
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    finally:
        if server.poll() is None:
            server.kill()

    server = start_server(env, port)
    try:
        for _ in range(900):
            state = call(base, key, "GET", f"/v1/scans/{job['id']}")
            if state["status"] in ("done", "failed", "cancelled"):
                break
            time.sleep(0.1)
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert state["status"] == "done", state
    statuses = sorted(f["status"] for f in state["result"]["files"])
    assert "skipped" in statuses and len(statuses) == 3  # the resumed run skipped what was committed
    found = json.loads(run(home, "sightings", "--case", "C1", "--json").stdout)
    per_file: dict[str, int] = {}
    for s in found:
        per_file[Path(s["source"]).name] = per_file.get(Path(s["source"]).name, 0) + 1
    assert per_file == {"a.mp4": 2, "b.mp4": 2, "c.mp4": 2}  # none lost, none twice
