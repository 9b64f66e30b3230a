"""``facesearch serve`` for real: uvicorn on loopback, an API key made by ``apikey add``, a person by
``user add``; the roles command prints the matrix the API enforces; people are disabled and keys
revoked from the command line."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

from owned_keys import add_people, as_person
from owned_keys import run_as as run
from support.cli import cli_env
from support.rtsp import free_port
from support.serve import start_server


def get(url: str, key: str | None = None) -> tuple[int, dict[str, object]]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_serve_on_loopback_with_keys_and_people(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"ava": "auditor"})  # the first admin (adam) without signing in, then ava by him
    auditor = json.loads(run(home, "apikey", "add", "audit-bot", "--json", person="ava").stdout)["key"]  # her own
    added = subprocess.run([sys.executable, "-m", "facesearch.cli", "user", "add", "rita", "--role", "reviewer",
                            "--password-stdin"], input="a long enough secret\n", capture_output=True, text=True,
                           env={**cli_env(home), **as_person("adam")}, timeout=120, check=False)
    assert added.returncode == 0, added.stderr
    short = subprocess.run([sys.executable, "-m", "facesearch.cli", "user", "add", "tim", "--role", "officer",
                            "--password-stdin"], input="short\n", capture_output=True, text=True,
                           env={**cli_env(home), **as_person("adam")}, timeout=120, check=False)
    assert short.returncode == 2 and "tim: password too short" in short.stderr
    assert "| audit.read | yes |  |  | yes |" in run(home, "roles").stdout

    port = free_port()
    server = start_server(cli_env(home), port, "--log-json", capture=True)
    try:
        base = f"http://127.0.0.1:{port}"
        assert get(f"{base}/v1/audit/verify")[0] == 401
        status, body = get(f"{base}/v1/audit/verify", auditor)
        assert status == 200 and body["ok"] is True
        status, body = get(f"{base}/v1/cases", "fs_not-a-key")
        assert status == 401 and body == {"error": "invalid API key"}
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    logged = [json.loads(x) for x in output.splitlines() if x.startswith("{")]
    request = next(x for x in logged if x.get("route") == "/v1/audit/verify" and x.get("status") == 200)
    assert request["method"] == "GET" and request["ms"] >= 0 and request["logger"] == "facesearch.api"
    entries = json.loads(run(home, "audit", "show", "--json").stdout)
    assert [e["action"] for e in entries][-2:] == ["account.key.add", "account.user.add"]
    assert "a long enough secret" not in (home / "facesearch.db").read_bytes().decode("latin-1")

    assert run(home, "user", "disable", "rita", person="adam").returncode == 0
    assert run(home, "user", "disable", "rita", person="ava").returncode == 2  # an auditor manages no accounts
    users = json.loads(run(home, "user", "list", "--json").stdout)
    assert [(u["username"], u["role"], u["disabled"]) for u in users if u["username"] == "rita"] == [
        ("rita", "reviewer", True)]
    assert run(home, "apikey", "revoke", "audit-bot", person="adam").returncode == 0
    listed = json.loads(run(home, "apikey", "list", "--json").stdout)
    assert [(k["name"], k["owner"], k["revoked"]) for k in listed] == [("audit-bot", "ava", True)]
    missing = run(home, "apikey", "revoke", "nobody", person="adam")
    assert missing.returncode != 0 and "nobody: no such API key" in missing.stderr
