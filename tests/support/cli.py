"""Running ``facesearch`` as a user does: a separate process with its own data directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def cli_env(home: Path) -> dict[str, str]:
    env = {**os.environ, "FACESEARCH_HOME": str(home)}
    for name in ("FACESEARCH_KEY", "FACESEARCH_AUDIT_KEY", "FACESEARCH_AUDIT_CHECKPOINTS", "FACESEARCH_DATABASE_URL"):
        env.pop(name, None)
    return env


def run(home: Path, *args: str, user: str | None = None) -> subprocess.CompletedProcess[str]:
    """``facesearch ARGS`` with ``FACESEARCH_HOME=home``, as ``user`` when given (who the audit log names)."""
    env = cli_env(home)
    if user is not None:
        env["LOGNAME"] = env["USER"] = user
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env=env, timeout=600, check=False)
