"""An installation on a shared PostgreSQL, set up through the CLI as a deployer would: accounts, one active case
with Lin-Manuel Miranda on its watchlist allowing every camera, and cameras pointing at a loopback RTSP server."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from owned_keys import PASSWORD, as_person
from support.cli import cli_env

CLIP_FRAMES = 275  # short_hamilton_clip.mp4 (SOURCES.md)


class Site:
    def __init__(self, home: Path, database_url: str) -> None:
        self.home, self.database_url = home, database_url

    def env(self, person: str | None = None) -> dict[str, str]:
        base = {k: v for k, v in cli_env(self.home).items()
                if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD", "FACESEARCH_API_KEY")}
        base["FACESEARCH_DATABASE_URL"] = self.database_url
        return {**base, **(as_person(person) if person else {})}

    def run(self, *args: str, person: str | None = "adam", stdin: str | None = None,
            timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                              env=self.env(person), input=stdin, timeout=timeout, check=False)

    def ok(self, *args: str, person: str | None = "adam") -> str:
        done = self.run(*args, person=person)
        assert done.returncode == 0, f"facesearch {' '.join(args)}: {done.stderr[-3000:]}"
        return done.stdout

    def json(self, *args: str, person: str | None = "adam") -> Any:
        return json.loads(self.ok(*args, "--json", person=person))

    def set_up(self, people: Path, cameras: dict[str, str]) -> None:
        """Accounts (adam the administrator, olga the officer), case C1 for Lin-Manuel Miranda on every camera,
        and ``cameras`` (name -> stream URL)."""
        self.ok("init", person=None)
        for name, role in (("adam", "admin"), ("olga", "officer")):
            made = self.run("user", "add", name, "--role", role, "--password-stdin", stdin=PASSWORD + "\n",
                            person=None if name == "adam" else "adam")
            assert made.returncode == 0, made.stderr
        now = datetime.now(UTC)
        self.ok("case", "create", "--title", "Hamilton", "--purpose", "other", "--purpose-text", "test",
                "--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z",
                "--valid-from", (now - timedelta(hours=1)).isoformat(),
                "--valid-until", (now + timedelta(days=2)).strftime("%Y-%m-%d"), person="olga")
        self.ok("enroll", "--case", "C1", "--name", "Lin-Manuel Miranda", str(people / "lin-manuel-miranda.png"),
                person="olga")
        for camera, url in cameras.items():
            self.ok("camera", "add", camera, "--name", camera, "--url", url)
        self.ok("case", "activate", "C1", person="olga")
