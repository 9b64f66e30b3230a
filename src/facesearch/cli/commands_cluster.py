"""``facesearch cluster``: start, show and stop the deployment on a Ray cluster (the ``cluster`` extra)."""

from __future__ import annotations

import math
import time
from enum import StrEnum
from typing import Annotated, Any

import typer

from facesearch.cli.output import JsonOpt, command_group, emit_json, fail, line, table
from facesearch.cli.wiring import open_context, operator
from facesearch.errors import FacesearchError

app = command_group("The deployment on a Ray cluster: every camera an active case allows, watched on one node.")


class Device(StrEnum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


AddressOpt = Annotated[str | None, typer.Option(help="The Ray cluster to join, as host:port (default: RAY_ADDRESS, "
                                                     "or the one started on this machine).")]


@app.command("run")
def run(
    address: AddressOpt = None,
    fps: Annotated[float | None, typer.Option(min=0.1, max=120.0, help="Frames per second searched per camera "
                                                                  "(default: every frame).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    device: Annotated[Device, typer.Option(help="Where each node's recognizers run: auto is the node's GPU where "
                                                "it has one (PyTorch with CUDA, or onnxruntime-gpu).")] = Device.auto,
    wait: Annotated[float, typer.Option(help="Seconds to wait for the first cameras to start.")] = 60.0,
    json_out: JsonOpt = False,
) -> None:
    """Start the deployment: a supervisor that gives every camera with an active case to one node, moves them
    when nodes join, leave or die, and stops a camera when its last case ends. It runs on until 'cluster stop'."""
    from facesearch.cluster.runtime import DeploymentConfig, connect, deployment_status, start_deployment

    if fps is not None and not math.isfinite(fps):  # click's range lets NaN through
        fail(f"--fps {fps}: not a number of frames per second")
    try:
        ctx = open_context(model)
        who = operator(ctx, "cameras.write")
        connect(address)
        started = start_deployment(ctx.sessions, DeploymentConfig.from_environment(
            who.actor, model=model, device=device.value, fps=fps))
        status = _first_pass(deployment_status, wait)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"started": started, **status})
        return
    line("deployment started" if started else "the deployment was running already")
    _show(status)


def _first_pass(read: Any, wait: float) -> dict[str, Any]:
    """The status once the supervisor has made a pass (or ``wait`` seconds have gone)."""
    deadline = time.monotonic() + wait
    while True:
        status: dict[str, Any] = read()
        if status.get("plan") is not None or time.monotonic() > deadline:
            return status
        time.sleep(0.5)


@app.command("status")
def status(address: AddressOpt = None, json_out: JsonOpt = False) -> None:
    """Nodes, the cameras on each with frames/s, lag, faces and tracks, and the latest errors."""
    from facesearch.cluster.runtime import connect, deployment_status

    try:
        ctx = open_context()
        operator(ctx, "cameras.read")
        connect(address)
        found = deployment_status()
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(found)
        return
    _show(found)


@app.command("stop")
def stop(address: AddressOpt = None) -> None:
    """Stop every camera (their leases given up), the hosts and the supervisor."""
    from facesearch.cluster.runtime import connect, stop_deployment

    try:
        ctx = open_context()
        who = operator(ctx, "cameras.write")
        connect(address)
        stop_deployment(ctx.sessions, actor=who.actor)
    except FacesearchError as exc:
        fail(str(exc))
    line("deployment stopped")


def _short(provider: str) -> str:
    """A provider's name as a column has room for: CPU, CUDA (ONNX Runtime's), torch CUDA."""
    return provider.removesuffix("ExecutionProvider").replace("Torch", "torch ")


def _show(status: dict[str, Any]) -> None:
    hosts: dict[str, Any] = status.get("hosts") or {}
    nodes = status.get("nodes") or []
    node_of = {n["host"]: n["name"] or n["node_id"][:8] for n in nodes}
    table("nodes", ["node", "address", "alive", "CPUs", "GPUs", "cameras"],
          [[node_of[n["host"]], n["address"], "yes" if n["alive"] else "no", n["cpus"], n["gpus"],
            len((hosts.get(n["host"]) or {}).get("cameras") or {})] for n in nodes])
    rows, errors = [], list(status.get("errors") or [])
    for host, found in sorted(hosts.items()):
        if "error" in found:
            errors.append(f"{node_of.get(host, host)}: {found['error']}")
        for camera, run in sorted((found.get("cameras") or {}).items()):
            rows.append([camera, node_of.get(host, host[-8:]), run["state"], run["token"], run["fps"], run["lag_s"],
                         run["faces"], run["tracks"], run["sightings"], len(run["cases"])])
            if run["last_error"]:
                errors.append(f"{camera}: {run['last_error']}")
    table("cameras", ["camera", "node", "state", "lease", "fps", "lag s", "faces", "tracks", "seen", "cases"], rows)
    pools = []
    for host, found in sorted(hosts.items()):
        accelerator = found.get("accelerator") or {}
        for model, stats in (found.get("embedding") or {}).items():
            where = _short((accelerator.get("runs_on") or {}).get(model, ""))
            pools.append([node_of.get(host, host[-8:]), model, where,
                          stats["calls"], stats["chips"], stats["mean_batch"], stats["largest_batch"],
                          round(accelerator.get("gpu_memory_bytes", 0) / 2**20)])
    if pools:
        table("embedding", ["node", "model", "runs on", "calls", "chips", "mean batch", "largest", "GPU MiB"],
              pools)
    for error in errors[-10:]:
        line(f"error: {error}")
