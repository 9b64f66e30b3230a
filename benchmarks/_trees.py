"""Running two versions of facesearch side by side in one benchmark: a commit's ``src`` written out to a
temporary folder and run with ``PYTHONPATH`` (the same virtual environment), and this tree."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from pathlib import Path

from _common import ROOT


def export_tree(rev: str, into: Path) -> Path:
    """The ``src`` folder of ``rev``, written out under ``into`` (no worktree left behind)."""
    data = subprocess.run(["git", "archive", rev, "src"], cwd=ROOT, capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(data)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def cli(src: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(src), "FACESEARCH_HOME": str(home)}
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], env=env, capture_output=True, text=True,
                          check=True, timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def short_rev(rev: str) -> str:
    return subprocess.run(["git", "rev-parse", "--short", rev], cwd=ROOT, capture_output=True, text=True,
                          check=True).stdout.strip()


@contextmanager
def served(src: Path, home: Path) -> Iterator[int]:
    """``facesearch serve`` of the tree ``src`` over ``home`` on a free loopback port, until the block ends."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(src), "FACESEARCH_HOME": str(home)}
    server = subprocess.Popen([sys.executable, "-m", "facesearch.cli", "serve", "--port", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(1200):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
                conn.request("GET", "/health")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)
