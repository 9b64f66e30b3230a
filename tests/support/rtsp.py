"""Start and stop the real RTSP server (``rtsp_loop_server.py``) on loopback from the tests."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

SERVER = Path(__file__).with_name("rtsp_loop_server.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with the GStreamer bindings (scripts/install-test-tools.sh)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LoopingStream:
    """``video`` served at ``rtsp://127.0.0.1:port/clip`` (or at each of ``paths``, as that many cameras) in an
    endless loop, in real time; each client gets its own loop from the start."""

    def __init__(self, video: Path, port: int | None = None, paths: list[str] | None = None) -> None:
        self.video = video
        self.port = port or free_port()
        self.paths = paths or ["/clip"]
        self.process: subprocess.Popen[str] | None = None

    @property
    def url(self) -> str:
        return self.urls[0]

    @property
    def urls(self) -> list[str]:
        return [f"rtsp://127.0.0.1:{self.port}{path}" for path in self.paths]

    def start(self) -> LoopingStream:
        mounts = [arg for path in self.paths for arg in ("--path", path)]
        self.process = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(self.video), "--port", str(self.port),
                                         *mounts],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        ready = self.process.stdout.readline().strip()
        if not ready.startswith("READY "):
            err = self.process.stderr.read() if self.process.stderr else ""
            raise RuntimeError(f"RTSP server did not start ({err.strip()}); run scripts/install-test-tools.sh")
        return self

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> LoopingStream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
