"""Reference harness: a real multi-node Ray cluster on ONE machine.

Each node is a separate `ray start` invocation (separate raylet, own temp dir,
own custom resource). Usable as a library from a pytest fixture.

    from cluster import LocalCluster
    c = LocalCluster(env_overrides={...})
    c.start_head(); c.start_worker("node_a"); c.start_worker("node_b")
    ...; c.kill_node("node_a"); ...; c.shutdown()
"""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

VENV_BIN = os.path.dirname(sys.executable)          # venv that has `ray`
RAY = os.path.join(VENV_BIN, "ray")


def free_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ps_table():
    """pid -> (ppid, rss_kb, cmdline) for all processes."""
    out = {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
            with open(f"/proc/{pid}/status") as f:
                st = f.read()
            ppid = int(st.split("PPid:")[1].split()[0])
            rss = int(st.split("VmRSS:")[1].split()[0]) if "VmRSS:" in st else 0
            comm = st.split("Name:")[1].split("\n")[0].strip()
            out[int(pid)] = (ppid, rss, cmd or f"[{comm}]", comm)
        except (FileNotFoundError, ProcessLookupError, IndexError):
            pass
    return out


@dataclass
class Node:
    name: str
    temp_dir: str
    head: bool
    start_s: float = 0.0
    stdout: str = ""


@dataclass
class LocalCluster:
    root: str = "/tmp/rs"          # keep SHORT: AF_UNIX path limit is 107 bytes
    num_cpus: int = 1
    object_store_bytes: int = 80 * 1024 * 1024   # small; /dev/shm-backed
    env_overrides: dict = field(default_factory=dict)
    system_config: dict | None = None
    nodes: dict = field(default_factory=dict)
    gcs_port: int = 0
    head_env_only: bool = False    # apply env_overrides only to the head's `ray start`
    node_ip: str | None = None     # e.g. "127.0.0.2" (see FINDINGS: 127.0.0.1 gets rewritten)

    # -------------------------------------------------------------- start
    def _env(self, head=True):
        env = dict(os.environ)
        env["RAY_USAGE_STATS_ENABLED"] = "0"
        if head or not self.head_env_only:
            env.update(self.env_overrides)
        return env

    def _common_args(self, name):
        return [
            f"--num-cpus={self.num_cpus}",
            "--num-gpus=0",
            f"--object-store-memory={self.object_store_bytes}",
            f"--resources={json.dumps({name: 1})}",
            f"--node-name={name}",
            f"--temp-dir={self.nodes[name].temp_dir}",
            # every listening port explicit/free so parallel clusters don't clash
            f"--node-manager-port={free_port()}",
            f"--object-manager-port={free_port()}",
            f"--metrics-export-port={free_port()}",
            f"--dashboard-agent-listen-port={free_port()}",
            f"--dashboard-agent-grpc-port={free_port()}",
            f"--runtime-env-agent-port={free_port()}",
            "--disable-usage-stats",
        ] + ([f"--node-ip-address={self.node_ip}"] if self.node_ip else [])

    def _run_start(self, name, args):
        t = time.monotonic()
        p = subprocess.run([RAY, "start", *args], env=self._env(self.nodes[name].head),
                           capture_output=True, text=True, timeout=120)
        dt = time.monotonic() - t
        self.nodes[name].start_s = dt
        self.nodes[name].stdout = p.stdout + p.stderr
        if p.returncode != 0:
            raise RuntimeError(f"ray start {name} failed rc={p.returncode}\n{p.stdout}\n{p.stderr}")
        return dt

    def start_head(self, name="node_head"):
        self.gcs_port = free_port()
        td = os.path.join(self.root, "h")
        self.nodes[name] = Node(name, td, True)
        args = ["--head", f"--port={self.gcs_port}", "--include-dashboard=false",
                *self._common_args(name)]
        # With ray[default]/ray[client] the head also starts a Ray Client server
        # on FIXED port 10001 -> give it a free port. With plain `ray` this flag
        # is an error ("Ray Client requires pip package `ray[client]`").
        import importlib.util
        if importlib.util.find_spec("grpc") is not None:
            args.append(f"--ray-client-server-port={free_port()}")
        if self.system_config:
            args.append(f"--system-config={json.dumps(self.system_config)}")
        return self._run_start(name, args)

    def start_worker(self, name):
        td = os.path.join(self.root, name[-1])     # /tmp/rs/a, /tmp/rs/b
        self.nodes[name] = Node(name, td, False)
        args = [f"--address={self.address}", *self._common_args(name)]
        return self._run_start(name, args)

    @property
    def address(self):
        # Ray rewrites 127.0.0.1 to the primary interface IP anyway; the GCS
        # listens on all interfaces, so 127.0.0.1:port works for connecting.
        return f"{self.node_ip or '127.0.0.1'}:{self.gcs_port}"

    # ----------------------------------------------------------- introspect
    def node_pids(self, name):
        """All live PIDs belonging to a node: every process whose cmdline
        mentions the node's temp dir (gcs_server, raylet, agents,
        log_monitor, monitor.py, client server) plus all descendants of its
        raylet (workers: cmdline is 'ray::IDLE' / 'ray::ActorName')."""
        td = self.nodes[name].temp_dir.rstrip("/") + "/"
        tab = ps_table()
        head_client = f":{self.gcs_port} "   # ray client server has no temp dir in argv
        pids = {pid for pid, (_, _, cmd, _) in tab.items()
                if (td in cmd and "ray_spike/cluster" not in cmd)
                or (self.nodes[name].head and "ray.util.client.server" in cmd
                    and head_client in cmd)}
        # add descendants
        changed = True
        while changed:
            changed = False
            for pid, (ppid, *_rest) in tab.items():
                if ppid in pids and pid not in pids:
                    pids.add(pid)
                    changed = True
        return {pid: tab[pid] for pid in pids if tab[pid][1] > 0}  # rss 0 => zombie

    def rss_report(self, name):
        rows = []
        for pid, (ppid, rss, cmd, comm) in sorted(self.node_pids(name).items()):
            short = cmd.split(" ")[0].rsplit("/", 1)[-1]
            if short.startswith("python"):
                short = next((a.rsplit("/", 1)[-1] for a in cmd.split(" ")[1:]
                              if a.endswith(".py") or a.startswith("ray.")), short)
            rows.append((pid, rss // 1024, short if not cmd.startswith("ray::") else cmd[:40]))
        return rows

    # ---------------------------------------------------------------- kill
    def kill_node(self, name, sig=signal.SIGKILL):
        pids = self.node_pids(name)
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return sorted(pids)

    # ------------------------------------------------------------- shutdown
    def shutdown(self):
        # `ray stop --force` kills EVERY ray process on the machine (matches
        # by process name), so it stops all nodes at once.  In a shared CI
        # box prefer killing our own PIDs:
        for name in list(self.nodes):
            self.kill_node(name)
        time.sleep(0.5)
        for name in list(self.nodes):
            left = self.node_pids(name)
            if left:
                print("leftover", name, left, file=sys.stderr)
        shutil.rmtree(self.root, ignore_errors=True)
