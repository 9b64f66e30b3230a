"""The deployment on a Ray cluster: a detached, restartable supervisor actor, and one camera host actor per node,
pinned to it. Ray is imported only here (the ``cluster`` extra); the decisions live in ``cluster.supervisor``
and ``cluster.plan``, the work in ``cluster.host``.

- The supervisor (``facesearch-supervisor``, detached, restarted by Ray whenever its process or node dies) makes
  a pass every second. It keeps nothing that matters in memory: a restarted one reads the leases and asks the
  hosts, and goes on without moving a camera.
- A host (``facesearch-host-<node>``, detached so that a supervisor restart does not take it down) is pinned
  hard to its node and never restarted by Ray: when its node dies it dies, and the supervisor gives its cameras
  new leases on the other nodes.
- Nothing secret travels through Ray: hosts open the installation (database, keys) from the ``FACESEARCH_*``
  settings they are given, and read each camera's stream address from the database themselves.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, cast

from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cluster.host import CameraHost
from facesearch.cluster.supervisor import HostGone, Supervisor
from facesearch.context import Context
from facesearch.errors import FacesearchError
from facesearch.models.runtime import DeviceChoice
from facesearch.store.notify import Channel, Generation
from facesearch.video.leases import DEFAULT_TERM, Lease

log = logging.getLogger(__name__)
NAMESPACE = "facesearch"
SUPERVISOR = "facesearch-supervisor"
HOST_PREFIX = "facesearch-host-"
CREDENTIALS = ("FACESEARCH_USER", "FACESEARCH_PASSWORD", "FACESEARCH_API_KEY")
# The deployment's watches act as the installation's own service, not as the administrator who started it (an
# administrator may not read a case's sightings); every case they search was authorised and activated by people.
WATCH_ACTOR = "system:cluster"
CALL_TIMEOUT_S = 20.0  # a host's first answer includes starting its process and opening the database
HEAD_RESOURCE = "node:__internal_head__"  # Ray's own mark of the head node


class ClusterError(FacesearchError):
    """The cluster cannot be reached, or the deployment is not running."""


@dataclass(frozen=True)
class DeploymentConfig:
    """What every actor of the deployment is started with (kept by Ray to restart the supervisor)."""

    started_by: str  # the account that started the deployment (its cluster.start entry names it)
    settings_env: dict[str, str] = field(default_factory=dict)  # FACESEARCH_* settings, never credentials
    model: str = "default"
    device: str = "auto"  # where each node's recognizers run: "auto" is its GPU where it has one (models.runtime)
    fps: float | None = None  # frames per second searched per camera (None: every frame)
    interval_s: float = 1.0  # between the supervisor's passes
    term_s: float = DEFAULT_TERM.total_seconds()  # of the camera leases

    @classmethod
    def from_environment(cls, started_by: str, **kwargs: Any) -> DeploymentConfig:
        env = {k: v for k, v in os.environ.items() if k.startswith("FACESEARCH_") and k not in CREDENTIALS}
        return cls(started_by, env, **kwargs)


def ray_module() -> Any:
    try:
        import ray
    except ImportError as exc:
        raise ClusterError("cluster", "Ray is not installed here: pip install 'facesearch[cluster]'") from exc
    return ray


def _open(config: DeploymentConfig) -> Context:
    """This node's view of the installation, opened from the deployment's settings."""
    from facesearch.engine import Engine
    from facesearch.settings import get_settings

    os.environ.update(config.settings_env)
    get_settings.cache_clear()
    device = cast(DeviceChoice, config.device)
    return Context.open(make_engine=lambda: Engine(config.model, device=device))


def host_name(node_id: str) -> str:
    return HOST_PREFIX + node_id[:16]


class HostActor:
    """A node's camera host, as a Ray actor (threaded: status answers while cameras start)."""

    def __init__(self, name: str, node_id: str, config: DeploymentConfig) -> None:
        logging.basicConfig(level=logging.INFO)
        self.node_id = node_id
        ctx = _open(config)
        # The models load now, not when the first camera arrives (a camera moved here after a node died starts
        # at once), and the node's cameras share their model calls: the node's embedding pool.
        ctx.engine().pool_recognizers()
        self.changes = Generation(ctx.sessions, [Channel.GALLERY, Channel.WATCH]).start()
        self.host = CameraHost(ctx, name, actor=WATCH_ACTOR, fps=config.fps, term=timedelta(seconds=config.term_s),
                               changes=self.changes)

    def start(self, camera: str, cases: list[str], lease: Lease) -> None:
        self.host.start(camera, cases, lease)

    def stop(self, camera: str) -> None:
        threading.Thread(target=self.host.stop, args=(camera,), daemon=True).start()

    def running(self) -> dict[str, dict[str, Any]]:
        return self.host.running()

    def status(self) -> dict[str, Any]:
        return {**self.host.status(), "node_id": self.node_id, "pid": os.getpid(),
                "accelerator": self.host.ctx.engine().accelerator(), "hears_changes": self.changes.live,
                "embedding": self.host.ctx.engine().embedding_stats()}

    def stop_all(self) -> None:
        self.host.stop_all()


class RayHosts:
    """``supervisor.Hosts`` over Ray: one host actor per live node, created when a node first appears."""

    def __init__(self, config: DeploymentConfig) -> None:
        self.ray, self.config = ray_module(), config
        self.handles: dict[str, Any] = {}

    def _actor(self, name: str, node_id: str) -> Any:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        return self.ray.remote(HostActor).options(
            name=name, namespace=NAMESPACE, lifetime="detached", get_if_exists=True, max_restarts=0,
            max_concurrency=8, num_cpus=0,
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id, soft=False),  # soft ones drift
        ).remote(name, node_id, self.config)

    def alive(self) -> list[str]:
        live = {host_name(n["NodeID"]): n["NodeID"] for n in self.ray.nodes() if n.get("Alive")}
        for name in [n for n in self.handles if n not in live]:
            del self.handles[name]
        for name, node_id in live.items():
            if name not in self.handles:
                self.handles[name] = self._actor(name, node_id)
        return sorted(live)

    def _call(self, host: str, method: str, *args: Any, timeout: float = CALL_TIMEOUT_S) -> Any:
        handle = self.handles.get(host)
        if handle is None:
            raise HostGone(f"{host} is not on a live node")
        try:
            return self.ray.get(getattr(handle, method).remote(*args), timeout=timeout)
        except (self.ray.exceptions.RayActorError, self.ray.exceptions.GetTimeoutError,
                self.ray.exceptions.ActorUnschedulableError) as exc:
            self.handles.pop(host, None)  # made again next pass if its node still lives
            raise HostGone(f"{host}: {type(exc).__name__}") from exc

    def running(self, host: str) -> dict[str, dict[str, Any]]:
        return dict(self._call(host, "running"))

    def start(self, host: str, camera: str, cases: list[str], lease: Lease) -> None:
        self._call(host, "start", camera, cases, lease)

    def stop(self, host: str, camera: str) -> None:
        handle = self.handles.get(host)
        if handle is not None:
            handle.stop.remote(camera)  # the host stops it in the background; its lease is already dead or ending

    def statuses(self, timeout: float = 5.0) -> dict[str, Any]:
        """Every host's status, asked at once; a host that does not answer in time is reported as such."""
        asked = {host: handle.status.remote() for host, handle in list(self.handles.items())}
        found: dict[str, Any] = {}
        deadline = time.monotonic() + timeout
        for host, ref in asked.items():
            try:
                found[host] = self.ray.get(ref, timeout=max(0.1, deadline - time.monotonic()))
            except Exception as exc:
                found[host] = {"host": host, "error": f"not answering ({type(exc).__name__})"}
        return found

    def shutdown(self) -> None:
        for handle in list(self.handles.values()):
            try:
                self.ray.get(handle.stop_all.remote(), timeout=30)
            except Exception:
                log.warning("a host did not stop its cameras in time; their leases run out by themselves")
            self.ray.kill(handle)
        self.handles.clear()


class SupervisorActor:
    """The deployment's one supervisor: a pass every ``interval_s``, for as long as it lives."""

    def __init__(self, config: DeploymentConfig) -> None:
        logging.basicConfig(level=logging.INFO)
        self.config = config
        self.hosts = RayHosts(config)
        self.supervisor = Supervisor(_open(config), self.hosts, term=timedelta(seconds=config.term_s))
        self.started = time.time()
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="supervisor", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.supervisor.step()
            except Exception as exc:  # the database away, most often: the hosts go on (their watches wait)
                message = f"pass failed: {type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
                log.warning("supervisor: %s", message)
                self.supervisor.errors.append(f"{time.strftime('%H:%M:%S')} {message}")
            self.passes += 1
            self._stop.wait(self.config.interval_s)

    def status(self) -> dict[str, Any]:
        ray = self.hosts.ray
        nodes = [{"node_id": n["NodeID"], "address": n.get("NodeManagerAddress"), "alive": bool(n.get("Alive")),
                  "name": n.get("NodeName", ""), "cpus": n.get("Resources", {}).get("CPU", 0),
                  "gpus": n.get("Resources", {}).get("GPU", 0), "host": host_name(n["NodeID"])}
                 for n in ray.nodes()]
        last = self.supervisor.last
        return {"supervisor": {"pid": os.getpid(), "started": self.started, "passes": self.passes,
                               "started_by": self.config.started_by, "fps": self.config.fps},
                "nodes": nodes, "hosts": self.hosts.statuses(), "plan": last.to_json() if last else None,
                "errors": list(self.supervisor.errors)}

    def shutdown(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.hosts.alive()  # every live node's host, also those this instance has not asked yet
        self.hosts.shutdown()


def _probe(address: str) -> None:
    """Refuse at once a cluster address that nothing answers on: Ray itself would keep trying for many minutes."""
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ClusterError(address, "not a cluster address: give it as host:port (the head's GCS port)")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=5):
            pass
    except OSError as exc:
        raise ClusterError(address, f"no Ray cluster to join ({exc.strerror or exc}); start one with "
                                    "'ray start --head'") from None


def connect(address: str | None) -> Any:
    """Join the cluster at ``address`` (default: ``RAY_ADDRESS``, or the cluster started on this machine)."""
    ray = ray_module()
    if ray.is_initialized():
        return ray
    address = address or os.environ.get("RAY_ADDRESS") or "auto"
    if address.startswith("ray://"):
        raise ClusterError(address, "Ray Client addresses are not supported: give the head's host:port")
    if address not in ("auto", "local"):
        _probe(address)
    try:
        ray.init(address=address, namespace=NAMESPACE, logging_level=logging.ERROR, log_to_driver=False,
                 configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = "this machine" if address == "auto" else address
        raise ClusterError(where, f"no Ray cluster to join ({str(exc).splitlines()[0][:200]}); start one with "
                                  "'ray start --head'") from exc
    return ray


def start_deployment(sessions: sessionmaker[Session], config: DeploymentConfig) -> bool:
    """Start the supervisor on the connected cluster (audited); ``False`` when it was running already."""
    ray = ray_module()
    try:
        ray.get_actor(SUPERVISOR, namespace=NAMESPACE)
        return False
    except ValueError:
        pass
    with sessions.begin() as s:
        audit.append(s, actor=config.started_by, action=AuditAction.CLUSTER_START, details={
            "watches_act_as": WATCH_ACTOR,
            "model": config.model, "device": config.device, "fps": config.fps,
            "nodes": sum(1 for n in ray.nodes() if n.get("Alive")),
            "lease_term_s": config.term_s})
    ray.remote(SupervisorActor).options(
        name=SUPERVISOR, namespace=NAMESPACE, lifetime="detached", get_if_exists=True, max_restarts=-1,
        max_task_retries=-1, max_concurrency=4, num_cpus=0,
        # On the head node: a worker node lost then takes only its cameras with it, not the supervisor that must
        # move them (the head holds Ray's control store: were it lost, the whole cluster would be).
        resources={HEAD_RESOURCE: 0.001},
    ).remote(config)
    return True


def supervisor() -> Any:
    ray = ray_module()
    try:
        return ray.get_actor(SUPERVISOR, namespace=NAMESPACE)
    except ValueError as exc:
        raise ClusterError("cluster", "no deployment is running on this cluster; start it with 'facesearch "
                                      "cluster run'") from exc


def deployment_status(timeout: float = 30.0) -> dict[str, Any]:
    ray = ray_module()
    try:
        return dict(ray.get(supervisor().status.remote(), timeout=timeout))
    except ray.exceptions.GetTimeoutError as exc:
        raise ClusterError("cluster", f"the supervisor did not answer within {timeout:.0f} s") from exc


def stop_deployment(sessions: sessionmaker[Session], *, actor: str, timeout: float = 60.0) -> None:
    """Stop every camera (leases released), then the hosts and the supervisor (audited)."""
    ray = ray_module()
    handle = supervisor()
    with sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.CLUSTER_STOP, details={})
    try:
        ray.get(handle.shutdown.remote(), timeout=timeout)
    finally:
        ray.kill(handle, no_restart=True)
