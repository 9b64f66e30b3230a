"""``facesearch serve`` as a real process on loopback, started and waited for by the tests."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager


def start_server(env: dict[str, str], port: int, *args: str, capture: bool = False) -> subprocess.Popen[str]:
    """Start the server and return once ``/health`` answers (``capture``: keep its output, merged)."""
    output = subprocess.PIPE if capture else subprocess.DEVNULL
    server = subprocess.Popen([sys.executable, "-m", "facesearch.cli", "serve", "--port", str(port), *args],
                              stdout=output, stderr=subprocess.STDOUT if capture else subprocess.DEVNULL, text=True,
                              env=env)
    for _ in range(300):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return server
        except OSError:
            if server.poll() is not None:
                break
            time.sleep(0.1)
    server.kill()
    raise AssertionError(f"the server on port {port} did not start")


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """``facesearch serve`` on a free loopback port for the ``with`` block: yields its base address, then stops it."""
    from support.rtsp import free_port

    port = free_port()
    process = start_server(env, port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)
