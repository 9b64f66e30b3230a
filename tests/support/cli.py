"""Running ``facesearch`` as a user does: a separate process with its own data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "FACESEARCH_HOME": str(home)}
    env.pop("FACESEARCH_KEY", None)
    env.pop("FACESEARCH_DATABASE_URL", None)
    return env


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env=cli_env(home), timeout=600, check=False)
