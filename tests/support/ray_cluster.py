"""A real Ray cluster of several nodes on this machine, for the cluster tests: each node its own ``ray start``
process tree with its own temp folder (short: the Unix sockets live under it), all advertising 127.0.0.2, the
head's health checks tightened so that a killed node is declared dead in 1-2 s instead of about 13.

A node is killed as a lost machine would be: SIGKILL to every process of its tree (found by its temp folder and
their children). Shutting down kills only this cluster's processes, never another Ray on the machine (``ray stop``
would), and removes the temp folders.

A machine where a plain ``ray.init()`` once ran may hold ``~/.ray/auth_token``; with it the worker nodes' ``ray
start`` is refused (InvalidAuthToken) although no cluster here uses tokens. Remove that file.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from support.rtsp import free_port

NODE_IP = "127.0.0.2"  # loopback; Ray rewrites 127.0.0.1 to the machine's own address
HEALTH = {"health_check_initial_delay_ms": 0, "health_check_period_ms": 500, "health_check_timeout_ms": 500,
          "health_check_failure_threshold": 3}
OBJECT_STORE_BYTES = 80 * 1024 * 1024  # Ray's minimum is 75 MiB; the default (30% of memory per node) is far more


def _ports(*names: str) -> list[str]:
    return [f"--{name}={free_port()}" for name in names]


def _parents() -> dict[int, int]:
    """Each live process (zombies left out: already dead) and its parent."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z":
            parents[int(entry.name)] = int(fields[1])
    return parents


def with_descendants(pids: set[int]) -> set[int]:
    """``pids`` and every live process below them (``ray start`` daemonises: its processes are not our children)."""
    parents = _parents()
    found = set(pids) & set(parents)
    while more := {pid for pid, parent in parents.items() if parent in found and pid not in found}:
        found |= more
    return found


class LocalCluster:
    def __init__(self, nodes: tuple[str, ...] = ("head", "a", "b"), env: dict[str, str] | None = None) -> None:
        self.nodes = nodes
        self.root = Path(tempfile.mkdtemp(prefix="rs", dir="/tmp"))
        self.port = free_port()
        self.env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", **(env or {})}
        self.ray = str(Path(sys.executable).with_name("ray"))
        self.start_s: dict[str, float] = {}

    @property
    def address(self) -> str:
        return f"{NODE_IP}:{self.port}"

    def temp_dir(self, node: str) -> Path:
        return self.root / node[:4]

    def _start(self, node: str) -> None:
        common = [f"--node-ip-address={NODE_IP}", f"--temp-dir={self.temp_dir(node)}", f"--node-name={node}",
                  "--num-cpus=1", "--num-gpus=0", f"--object-store-memory={OBJECT_STORE_BYTES}",
                  "--disable-usage-stats",
                  *_ports("dashboard-agent-listen-port", "dashboard-agent-grpc-port", "node-manager-port",
                          "object-manager-port", "metrics-export-port", "runtime-env-agent-port")]
        if node == self.nodes[0]:
            args = ["--head", f"--port={self.port}", "--include-dashboard=false",
                    f"--system-config={json.dumps(HEALTH)}", *common]
        else:
            args = [f"--address={self.address}", *common]
        began = time.monotonic()
        done = subprocess.run([self.ray, "start", *args], env=self.env, capture_output=True, text=True, timeout=180)
        if done.returncode != 0:
            raise RuntimeError(f"ray start ({node}) failed: {done.stderr[-2000:] or done.stdout[-2000:]}")
        self.start_s[node] = time.monotonic() - began

    def start(self) -> LocalCluster:
        try:
            for node in self.nodes:
                self._start(node)
        except BaseException:
            self.shutdown()  # a failed start leaves processes behind
            raise
        return self

    def pids(self, node: str) -> set[int]:
        """Every process of ``node``: those whose command line names its temp folder, and their descendants."""
        marker = str(self.temp_dir(node))
        found = set()
        for pid in _parents():
            try:
                if marker in Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.add(pid)
            except OSError:
                continue
        return with_descendants(found)

    def kill_node(self, node: str) -> int:
        """SIGKILL every process of ``node`` (a machine lost at once); how many there were."""
        pids = self.pids(node)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    def shutdown(self) -> None:
        for node in reversed(self.nodes):
            self.kill_node(node)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.shutdown()
