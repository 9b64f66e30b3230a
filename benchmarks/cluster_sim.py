"""Capacity model and simulation of a live deployment: how many machines N cameras take, and what saturates first.

Per-stream costs come from ``stream_costs.py --json FILE`` (``--costs FILE``) or, without it, from the numbers that
script measured on 2026-12-02 on the project's 2-core machine (``DEFAULTS``, labelled as such in the output).

The plan multiplies those costs out per stage (decode, detect and track on the CPU cores of stream nodes; embedding
on GPUs or on the same cores; chips over the network; sighting, audit and lease writes to the database; watchlist
indexes in memory) and then *simulates* one node: a discrete-time queue of C cores fed every frame of its streams
and the tracks that end, in bursts as they do at a shot cut, to check that the node's lag stays bounded at the
number of streams the arithmetic gives it.

    python benchmarks/cluster_sim.py [--costs FILE] [--cameras 10000] [--resolution 1920x1080] [--fps 10]
                                     [--cores 32] [--gpu-fp16] [--hit-rate 0.01] [--watchlist 10000]
    python benchmarks/cluster_sim.py --check --cores 2 --resolution 640x360 --fps 10 --measured-streams N
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, record

MOBILEFACENET, DLIB = "mobilefacenet", "dlib-resnet"
# Measured by the project on one NVIDIA H200 through its own graph interpreter in PyTorch, batch 1024
# (benchmarks/gpu_throughput.py): MobileFaceNet only. The dlib ResNet has not been run on a GPU.
GPU_MEASURED = {"fp32": 16_000.0, "fp16": 23_600.0}
# A node renews all its cameras' leases (term 6 s) in one transaction every term/3 (video/leases.LeaseKeepers).
NODE_RENEWALS_PER_S = 0.5
# A cluster node's watch looks at its cases and watchlist when PostgreSQL tells it of a change, and otherwise every
# 30 s (cluster/host.LOOK_EVERY_S); changes are rare beside that, so the backstop sets the rate.
LOOKS_PER_S = 1.0 / 30.0
# A look reads the case row, whose watchlist version the database raises at every change (migration 0017), and
# the lease: two rows, whatever the watchlist's size.
ROWS_PER_LOOK = 2
FRAMES_IN_FLIGHT = 41  # decode queue 2x8 + two detection batches of 8 + ~3 open tracks x 3 kept faces (search.py)


@dataclass(frozen=True)
class StreamCosts:
    """One camera's costs at one resolution, as measured at ``searched_fps`` from a ``source_fps`` source."""

    resolution: str
    source_fps: float
    searched_fps: float
    decode_ms_per_s: float  # CPU ms per second of footage
    detect_ms_per_s: float
    track_ms_per_s: float
    align_ms_per_track: float  # per embedded track
    embed_ms_per_track: float  # per embedded track, embedding on the CPU
    faces_per_s: float
    tracks_embedded_per_s: float
    chips_per_s: dict[str, float]  # per recognizer, with the cascade
    chips_per_s_no_cascade: dict[str, float]  # per recognizer, every qualifying track through every model

    def at(self, fps: float, camera_fps: float | None = None) -> StreamCosts:
        """The costs searched at ``fps`` from a camera sending ``camera_fps``: detection and tracking scale with
        the frames searched, decoding with the frames sent; tracks and chips are the scene's, not the rate's."""
        search = fps / self.searched_fps
        sent = (camera_fps or self.source_fps) / self.source_fps
        return replace(self, searched_fps=fps, source_fps=camera_fps or self.source_fps,
                       decode_ms_per_s=self.decode_ms_per_s * sent, detect_ms_per_s=self.detect_ms_per_s * search,
                       track_ms_per_s=self.track_ms_per_s * search)

    @property
    def frame_cores(self) -> float:
        """Cores kept busy by the per-frame work: decode, detect, track."""
        return (self.decode_ms_per_s + self.detect_ms_per_s + self.track_ms_per_s) / 1000

    def track_ms(self, embed_on_cpu: bool) -> float:
        """CPU ms per ended track on the stream node: aligning its chips, and embedding them without a GPU."""
        return self.align_ms_per_track + (self.embed_ms_per_track if embed_on_cpu else 0.0)

    def cores(self, embed_on_cpu: bool) -> float:
        return self.frame_cores + self.tracks_embedded_per_s * self.track_ms(embed_on_cpu) / 1000

    @property
    def gil_cores(self) -> float:
        """A lower bound of the share of one core this stream needs under the GIL: tracking is Python and small
        NumPy arrays. Decoding, detection, alignment and embedding release it (FFmpeg, ONNX Runtime, OpenCV)."""
        return self.track_ms_per_s / 1000

    def chip_bytes_per_s(self, bytes_per_chip: dict[str, int], cascade: bool) -> float:
        chips = self.chips_per_s if cascade else self.chips_per_s_no_cascade
        return sum(rate * bytes_per_chip[name] for name, rate in chips.items())


@dataclass(frozen=True)
class Measurements:
    label: str  # where the numbers come from, printed with every result
    streams: dict[str, StreamCosts]  # by resolution
    bytes_per_chip: dict[str, int]
    embed_ms_per_chip: dict[str, float]  # CPU
    index_bytes_per_1000: int  # one template per person, in a search's memory (vectors twice, ids)


# stream_costs.py's numbers, measured on 2026-12-01 on the project's 2-core machine (AMD EPYC, 24 GiB), searched at
# 10 frames/s from the 29.97 fps Hamilton clip (RESULTS.md, "Per-stream costs of the live pipeline").
DEFAULTS = Measurements(
    label="built-in defaults: stream_costs.py as measured on 2026-12-02 on the 2-core CI machine",
    streams={
        "1920x1080": StreamCosts("1920x1080", 29.97, 10.06, 257.26, 517.55, 47.02, 15.21, 102.07, 45.5, 1.64,
                                 {DLIB: 0.98, MOBILEFACENET: 11.7}, {DLIB: 4.92, MOBILEFACENET: 11.7}),
        "640x360": StreamCosts("640x360", 29.97, 10.06, 17.93, 80.34, 17.45, 7.65, 89.96, 36.97, 1.42,
                               {DLIB: 0.98, MOBILEFACENET: 9.95}, {DLIB: 4.05, MOBILEFACENET: 9.95}),
    },
    bytes_per_chip={DLIB: 150 * 150 * 3, MOBILEFACENET: 112 * 112 * 3},
    embed_ms_per_chip={DLIB: 15.2, MOBILEFACENET: 9.16},
    index_bytes_per_1000=2_584_000,
)


def load_measurements(path: Path) -> Measurements:
    """``stream_costs.py --json`` output."""
    raw = json.loads(path.read_text())
    streams = {}
    for s in raw["streams"]:
        ms = s["cpu_ms_per_s"]
        streams[s["resolution"]] = StreamCosts(
            s["resolution"], s["source_fps"], s["searched_fps"], ms["decode"], ms["detect"], ms["track"],
            s["align_ms_per_track"], s["embed_ms_per_track"], s["faces_per_s"], s["tracks_embedded_per_s"],
            dict(s["chips_per_s"]), dict(s["chips_per_s_no_cascade"]))
    return Measurements(f"{path}: stream_costs.py as measured on {raw['date']} ({raw['machine']})", streams,
                        dict(raw["bytes_per_chip"]), dict(raw["embed_ms_per_chip"]),
                        int(raw["index_bytes_per_1000"]["in_memory"]))


def gpu_rates(m: Measurements, precision: str) -> dict[str, tuple[float, str]]:
    """Chips per second one H200 embeds, per recognizer, with where each number comes from."""
    mobile = GPU_MEASURED[precision]
    ratio = m.embed_ms_per_chip[MOBILEFACENET] / m.embed_ms_per_chip[DLIB]
    return {MOBILEFACENET: (mobile, f"measured, H200, {precision}, batch 1024"),
            DLIB: (mobile * ratio, f"ESTIMATE: MobileFaceNet's H200 {precision} rate x {ratio:.2f}, the ratio of their "
                                   "CPU cost per chip measured here (mirror pass included); not run on a GPU")}


# --- the simulation ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimResult:
    streams: int
    cores: float
    utilisation: float  # offered work / capacity
    max_lag_s: float  # over the last third of the run
    final_lag_s: float
    bounded: bool


def simulate(costs: StreamCosts, streams: int, cores: float, *, embed_on_cpu: bool = True, seconds: float = 300.0,
             max_lag_s: float = 2.0, seed: int = 0) -> SimResult:
    """``streams`` cameras on ``cores`` cores, one step per searched frame. Each step every stream brings one
    frame's work (decode, detect, track; +-20% jitter); tracks end in bursts (a burst ends as many tracks as there
    are faces on screen, on average), each bringing its aligning (and embedding, on the CPU) work. The cores work
    the backlog off first come, first served; the lag is the backlog over the cores: how far behind live the node
    is. It is bounded when, over the last third of the run, it never exceeds ``max_lag_s``."""
    rng = np.random.default_rng(seed)
    dt = 1.0 / costs.searched_fps
    steps = max(int(seconds / dt), 3)
    frame_work = costs.frame_cores * dt * rng.gamma(25.0, 1 / 25.0, size=(steps, max(streams, 1))).sum(axis=1)
    frame_work *= streams / max(streams, 1)
    burst = max(costs.faces_per_s / costs.searched_fps, 1.0)
    bursts = rng.poisson(streams * costs.tracks_embedded_per_s / burst * dt, size=steps)
    tracks = bursts + rng.poisson((burst - 1.0) * bursts)
    arrivals = frame_work + tracks * costs.track_ms(embed_on_cpu) / 1000
    lag = _backlog(arrivals, cores * dt) / cores
    tail = lag[-(steps // 3):]
    utilisation = float(arrivals.sum() / (cores * dt * steps))
    return SimResult(streams, cores, utilisation, float(tail.max()), float(lag[-1]), bool(tail.max() <= max_lag_s))


def _backlog(arrivals: np.ndarray, capacity: float) -> np.ndarray:
    """Core-seconds of work waiting after each step, ``capacity`` core-seconds done per step."""
    out = np.empty_like(arrivals)
    waiting = 0.0
    for i, work in enumerate(arrivals.tolist()):
        waiting = max(waiting + work - capacity, 0.0)
        out[i] = waiting
    return out


def simulated_streams(costs: StreamCosts, cores: float, *, embed_on_cpu: bool, max_lag_s: float = 2.0,
                      seed: int = 0) -> int:
    """The most streams whose lag stays bounded on ``cores`` cores (bisection: more streams, more lag)."""
    low, high = 0, max(int(2 * cores / costs.cores(embed_on_cpu)) + 2, 2)
    while high - low > 1:
        mid = (low + high) // 2
        ok = simulate(costs, mid, cores, embed_on_cpu=embed_on_cpu, max_lag_s=max_lag_s, seed=seed).bounded
        low, high = (mid, high) if ok else (low, mid)
    return low


# --- the plan ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NodeKind:
    cores: int = 32
    memory_gib: float = 128.0
    nic_gbps: float = 10.0
    utilisation: float = 0.8  # the share of each resource planned for: the rest is headroom (bursts, OS, Ray)


@dataclass(frozen=True)
class Assumptions:
    cameras: int = 10_000
    camera_fps: float | None = None  # None: the measured clip's (29.97)
    camera_mbps: float = 4.0  # one 1080p H.264 camera stream, in
    hit_rate: float = 0.01  # share of embedded tracks that match a watchlist person (one sighting each)
    watchlist: int = 10_000  # people on the watchlist each camera searches (one case per camera)
    gpu_precision: str = "fp32"
    gpu_utilisation: float = 0.75
    embed_on_gpu: bool = True
    db_commits_per_s: float = 10_000.0  # ASSUMED capacity of one server-class PostgreSQL (not measured here)
    db_rows_per_s: float = 2_000_000.0  # ASSUMED rows read per second from cache (not measured here)


@dataclass(frozen=True)
class Limit:
    resource: str
    streams: int  # per node, at the planned utilisation
    need: str  # one stream's demand


def node_limits(costs: StreamCosts, m: Measurements, node: NodeKind, a: Assumptions) -> list[Limit]:
    """How many streams one node takes, by each of its resources."""
    u = node.utilisation
    cores = costs.cores(not a.embed_on_gpu)
    width, height = (int(v) for v in costs.resolution.split("x"))
    memory = FRAMES_IN_FLIGHT * width * height * 1.5
    index = a.watchlist * m.index_bytes_per_1000 / 1000  # one per node: its cameras share it (WatchlistShelf)
    net = a.camera_mbps * 1e6 / 8 + (costs.chip_bytes_per_s(m.bytes_per_chip, cascade=False) if a.embed_on_gpu else 0)
    return [Limit("CPU cores", int(node.cores * u / cores), f"{cores:.3f} cores"),
            Limit("GIL (one host process per node)", int(u / costs.gil_cores), f">= {costs.gil_cores:.3f} of a core"),
            Limit("memory", int((node.memory_gib * 2**30 * u - 4 * 2**30 - index) / memory),
                  f"{memory / 2**20:.0f} MiB of frames in flight (+ {index / 2**20:.0f} MiB of index per node)"),
            Limit("network", int(node.nic_gbps * 1e9 / 8 * u / net), f"{net * 8 / 1e6:.1f} Mbit/s in+out")]


@dataclass(frozen=True)
class Plan:
    costs: StreamCosts
    node: NodeKind
    assumptions: Assumptions
    limits: list[Limit]
    per_node: int
    saturating: str
    simulated: SimResult
    stream_nodes: int
    gpu_load: float  # H200s busy, no cascade (worst case)
    gpu_load_cascade: float
    gpus: int
    db: dict[str, float]
    totals: dict[str, float]


def database_load(costs: StreamCosts, a: Assumptions, nodes: int) -> dict[str, float]:
    sightings = a.cameras * costs.tracks_embedded_per_s * a.hit_rate
    renewals = nodes * NODE_RENEWALS_PER_S
    return {"sightings per s (one transaction: sighting, 2 evidence rows, audit entry)": sightings,
            "audit-chain appends per s (one chain: written one at a time)": sightings,
            "lease renewals per s (one transaction per node)": renewals,
            "commits per s, all": sightings + renewals,
            "liveness looks per s (a case row with its watchlist version, and the lease)": a.cameras * LOOKS_PER_S,
            "rows read per s by those looks": a.cameras * LOOKS_PER_S * ROWS_PER_LOOK}


def plan(m: Measurements, resolution: str, fps: float, node: NodeKind, a: Assumptions) -> Plan:
    costs = m.streams[resolution].at(fps, a.camera_fps)
    limits = node_limits(costs, m, node, a)
    first = min(limits, key=lambda limit: limit.streams)
    sim = simulate(costs, first.streams, node.cores * node.utilisation, embed_on_cpu=not a.embed_on_gpu)
    per_node = first.streams if sim.bounded else simulated_streams(costs, node.cores * node.utilisation,
                                                                     embed_on_cpu=not a.embed_on_gpu)
    rates = gpu_rates(m, a.gpu_precision)
    load = sum(a.cameras * r / rates[name][0] for name, r in costs.chips_per_s_no_cascade.items())
    load_cascade = sum(a.cameras * r / rates[name][0] for name, r in costs.chips_per_s.items())
    totals = {"CPU cores, decode+detect+track(+align)": a.cameras * costs.cores(False),
              "CPU cores, embedding if done on CPU": a.cameras * (costs.cores(True) - costs.cores(False)),
              "chips per s, no cascade": a.cameras * sum(costs.chips_per_s_no_cascade.values()),
              "chips per s, with the cascade": a.cameras * sum(costs.chips_per_s.values()),
              "chip bytes per s, no cascade (GB/s)": a.cameras * costs.chip_bytes_per_s(m.bytes_per_chip, False) / 1e9,
              "camera streams in (Gbit/s)": a.cameras * a.camera_mbps / 1000,
              "watchlist index per node, shared by its cameras (MiB)": a.watchlist * m.index_bytes_per_1000 / 1000
              / 2**20}
    nodes = math.ceil(a.cameras / max(per_node, 1))
    return Plan(costs, node, a, limits, per_node, first.resource, sim, nodes,
                load, load_cascade, math.ceil(load / a.gpu_utilisation) if a.embed_on_gpu else 0,
                database_load(costs, a, nodes), totals)


def db_verdict(p: Plan) -> str:
    a, db = p.assumptions, p.db
    commits = db["commits per s, all"]
    rows = db["rows read per s by those looks"]
    parts = [f"commits {commits:,.0f}/s against an assumed {a.db_commits_per_s:,.0f}/s: "
             + ("fits" if commits <= a.db_commits_per_s else "TOO MANY"),
             f"rows read {rows:,.0f}/s against an assumed {a.db_rows_per_s:,.0f}/s: "
             + ("fits" if rows <= a.db_rows_per_s else "TOO MANY")]
    return "; ".join(parts)


# --- output --------------------------------------------------------------------------------------------------


def _row(*cells: object) -> list[object]:
    return list(cells)


def plan_tables(p: Plan, m: Measurements) -> str:
    c, a, n = p.costs, p.assumptions, p.node
    stage_rows: list[list[object]] = [
        ["decode, CPU ms/s", f"{c.decode_ms_per_s:.1f}"], ["detect, CPU ms/s", f"{c.detect_ms_per_s:.1f}"],
        ["track, CPU ms/s", f"{c.track_ms_per_s:.1f}"],
        ["align, CPU ms per embedded track", f"{c.align_ms_per_track:.1f}"],
        ["embed + match on CPU, ms per embedded track", f"{c.embed_ms_per_track:.1f}"],
        ["tracks embedded per s", f"{c.tracks_embedded_per_s:.2f}"],
        ["cores, embedding on GPU / on CPU", f"{c.cores(False):.3f} / {c.cores(True):.3f}"]]
    stages = markdown_table(["per stream", "value"], stage_rows)
    limits = markdown_table(["node resource", f"streams per {n.cores}-core node at {n.utilisation:.0%}",
                             "one stream needs"], [[x.resource, x.streams, x.need] for x in p.limits])
    rates = gpu_rates(m, a.gpu_precision)
    sim = p.simulated
    rows: list[list[object]] = [
        *[_row(k, f"{v:,.1f}") for k, v in p.totals.items()],
        ["saturates first on a stream node", p.saturating],
        ["streams per node (simulated lag check)", f"{p.per_node} (lag {'bounded' if sim.bounded else 'NOT bounded'}: "
                                                   f"max {sim.max_lag_s:.2f} s at {sim.utilisation:.0%} of "
                                                   f"{sim.cores:.1f} cores)"],
        [f"stream nodes ({n.cores} cores, {n.memory_gib:g} GiB, {n.nic_gbps:g} GbE)", p.stream_nodes],
        *[_row(f"H200 rate, {name}", f"{r:,.0f} chips/s ({why})") for name, (r, why) in rates.items()],
        ["H200s busy, no cascade / with cascade", f"{p.gpu_load:.2f} / {p.gpu_load_cascade:.2f}"],
        [f"GPU nodes (one H200 each, at {a.gpu_utilisation:.0%})", p.gpus],
        *[_row(k, f"{v:,.1f}") for k, v in p.db.items()],
        ["one PostgreSQL?", db_verdict(p)]]
    cluster = markdown_table(["cluster", "value"], rows)
    return "\n\n".join([stages, limits, cluster])


def check(m: Measurements, resolution: str, fps: float, cores: float, measured: int | None) -> str:
    """How many streams ``cores`` cores sustain in real time, everything (embedding too) on the CPU."""
    costs = m.streams[resolution].at(fps)
    predicted = simulated_streams(costs, cores, embed_on_cpu=True)
    arithmetic = cores / costs.cores(True)
    rows: list[list[object]] = [
        ["cores per stream (stream_costs.py, all stages on CPU)", f"{costs.cores(True):.3f}"],
        ["streams, arithmetic (cores / cores per stream)", f"{arithmetic:.2f}"],
        ["streams, simulated (lag bounded at 2 s)", predicted]]
    sims = [simulate(costs, s, cores) for s in (predicted, predicted + 1)]
    rows += [[f"simulated lag at {s.streams} streams", f"max {s.max_lag_s:.2f} s, utilisation {s.utilisation:.0%}"]
             for s in sims]
    if measured is not None:
        rows += [["streams, measured (benchmarks/cluster.py, real Ray deployment)", measured],
                 ["measured / predicted", f"{measured / max(predicted, 1):.2f}"],
                 ["cores per stream the measurement implies", _implied(cores, measured, costs)]]
    return markdown_table([f"{cores:g} cores, {resolution}, {fps:g} frames/s searched", "value"], rows)


def _implied(cores: float, measured: int, costs: StreamCosts) -> str:
    per_stream = cores / max(measured, 1)
    return f"{per_stream:.3f} (beyond the pipeline: {per_stream - costs.cores(True):+.3f})"


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--costs", type=Path, help="stream_costs.py --json output (default: the built-in numbers)")
    p.add_argument("--cameras", type=int, default=10_000)
    p.add_argument("--resolution", default="1920x1080", help="1920x1080 or 640x360 (what was measured)")
    p.add_argument("--fps", type=float, default=10.0, help="frames searched per second per camera")
    p.add_argument("--camera-fps", type=float, help="frames a camera sends (default: the clip's 29.97)")
    p.add_argument("--cores", type=int, default=32, help="cores per stream node")
    p.add_argument("--memory-gib", type=float, default=128.0)
    p.add_argument("--nic-gbps", type=float, default=10.0)
    p.add_argument("--utilisation", type=float, default=0.8, help="share of a node's resources planned for")
    p.add_argument("--gpu-fp16", action="store_true", help="plan on the fp16 rate (measured for MobileFaceNet only)")
    p.add_argument("--cpu-embedding", action="store_true", help="embed on the stream nodes' cores, no GPUs")
    p.add_argument("--hit-rate", type=float, default=0.01)
    p.add_argument("--watchlist", type=int, default=10_000, help="people on each camera's watchlist")
    p.add_argument("--check", action="store_true", help="predict streams on --cores cores, compare with measured")
    p.add_argument("--measured-streams", type=int, help="streams benchmarks/cluster.py sustained (with --check)")
    p.add_argument("--no-record", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse(argv)
    m = load_measurements(args.costs) if args.costs else DEFAULTS
    command = "python benchmarks/cluster_sim.py " + " ".join(sys.argv[1:] if argv is None else argv)
    if args.check:
        table = check(m, args.resolution, args.fps, args.cores, args.measured_streams)
        title = f"Cluster model check: Hamilton-clip streams on {args.cores} cores"
    else:
        node = NodeKind(args.cores, args.memory_gib, args.nic_gbps, args.utilisation)
        a = Assumptions(cameras=args.cameras, camera_fps=args.camera_fps, hit_rate=args.hit_rate,
                        watchlist=args.watchlist, gpu_precision="fp16" if args.gpu_fp16 else "fp32",
                        embed_on_gpu=not args.cpu_embedding)
        table = plan_tables(plan(m, args.resolution, args.fps, node, a), m)
        title = f"Cluster capacity model: {args.cameras:,} cameras, {args.resolution}, {args.fps:g} frames/s"
    print(f"Costs: {m.label}\n")
    print(table)
    if not args.no_record:
        record(title, command.strip(), table, f"Per-stream costs: {m.label}. Assumptions are the script's defaults "
               "unless given; see docs/SCALE.md for what the model leaves out.")


if __name__ == "__main__":
    main()
