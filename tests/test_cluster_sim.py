"""The capacity model's arithmetic and its simulation (benchmarks/cluster_sim.py): no video, no models."""

from __future__ import annotations

import importlib
import json
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


@pytest.fixture(scope="module")
def sim() -> Any:
    # benchmarks/ is a folder of scripts, not a package: loaded the way the scripts load each other
    sys.path.insert(0, str(BENCHMARKS))
    try:
        return importlib.import_module("cluster_sim")
    finally:
        sys.path.remove(str(BENCHMARKS))


def test_per_stream_arithmetic(sim: Any) -> None:
    c = sim.DEFAULTS.streams["1920x1080"]
    frame = (c.decode_ms_per_s + c.detect_ms_per_s + c.track_ms_per_s) / 1000
    assert c.frame_cores == pytest.approx(frame)
    assert c.cores(False) == pytest.approx(frame + c.tracks_embedded_per_s * c.align_ms_per_track / 1000)
    assert c.cores(True) - c.cores(False) == pytest.approx(c.tracks_embedded_per_s * c.embed_ms_per_track / 1000)


def test_rates_scale_with_what_they_depend_on(sim: Any) -> None:
    c = sim.DEFAULTS.streams["640x360"]
    half = c.at(c.searched_fps / 2, c.source_fps / 3)
    assert half.detect_ms_per_s == pytest.approx(c.detect_ms_per_s / 2)
    assert half.decode_ms_per_s == pytest.approx(c.decode_ms_per_s / 3)
    assert half.tracks_embedded_per_s == c.tracks_embedded_per_s  # the scene's, not the frame rate's


def test_too_many_streams_fall_behind_and_fewer_keep_up(sim: Any) -> None:
    c = sim.DEFAULTS.streams["640x360"]
    fits = int(4 / c.cores(True))
    over = sim.simulate(c, 2 * fits, 4.0, seconds=120)
    under = sim.simulate(c, fits // 2, 4.0, seconds=120)
    assert over.utilisation > 1 and not over.bounded and over.final_lag_s > 10
    assert under.bounded and under.max_lag_s < 2.0


def test_doubling_cores_doubles_streams(sim: Any) -> None:
    c = sim.DEFAULTS.streams["1920x1080"]
    small = sim.simulated_streams(c, 16.0, embed_on_cpu=False)
    large = sim.simulated_streams(c, 32.0, embed_on_cpu=False)
    assert small > 0
    assert 1.8 <= large / small <= 2.3  # bursts weigh a little less on more cores


def test_bursts_cost_lag_the_mean_does_not_show(sim: Any) -> None:
    c = sim.DEFAULTS.streams["640x360"]
    calm = replace(c, faces_per_s=c.searched_fps)  # one track per burst
    crowd = replace(c, faces_per_s=20 * c.searched_fps)  # twenty tracks end at once
    assert (sim.simulate(crowd, 5, 2.0, seed=1).max_lag_s > sim.simulate(calm, 5, 2.0, seed=1).max_lag_s)


def test_ten_thousand_cameras_plan_names_what_saturates(sim: Any) -> None:
    p = sim.plan(sim.DEFAULTS, "1920x1080", 10.0, sim.NodeKind(), sim.Assumptions())
    names = {limit.resource for limit in p.limits}
    assert p.saturating in names
    assert p.per_node == min(limit.streams for limit in p.limits)
    assert p.simulated.bounded
    assert p.stream_nodes * p.per_node >= 10_000 > (p.stream_nodes - 1) * p.per_node
    assert p.gpus >= p.gpu_load / 0.75 and p.gpu_load >= p.gpu_load_cascade
    assert p.db["lease renewals per s (one transaction per node)"] == pytest.approx(p.stream_nodes / 2)
    c = p.costs
    assert p.db["commits per s, all"] == pytest.approx(p.stream_nodes / 2 + 10_000 * c.tracks_embedded_per_s * 0.01)


def test_more_cores_per_node_fewer_nodes_unless_the_gil_binds(sim: Any) -> None:
    a = sim.Assumptions()
    small = sim.plan(sim.DEFAULTS, "640x360", 10.0, sim.NodeKind(cores=8), a)
    large = sim.plan(sim.DEFAULTS, "640x360", 10.0, sim.NodeKind(cores=16), a)
    assert large.stream_nodes <= small.stream_nodes
    if small.saturating == "CPU cores" and large.saturating == "CPU cores":
        assert large.per_node == pytest.approx(2 * small.per_node, abs=1)


def test_dlib_gpu_rate_is_labelled_an_estimate(sim: Any) -> None:
    rates = sim.gpu_rates(sim.DEFAULTS, "fp32")
    assert rates["mobilefacenet"][0] == 16_000 and "measured" in rates["mobilefacenet"][1]
    assert "ESTIMATE" in rates["dlib-resnet"][1]


def test_costs_read_from_stream_costs_json(sim: Any, tmp_path: Path) -> None:
    c = sim.DEFAULTS.streams["640x360"]
    stream = {"resolution": "640x360", "source_fps": 30.0, "searched_fps": 10.0, "align_ms_per_track": 9.0,
              "embed_ms_per_track": 90.0, "faces_per_s": 27.0, "tracks_embedded_per_s": 1.5,
              "chips_per_s": c.chips_per_s, "chips_per_s_no_cascade": c.chips_per_s_no_cascade,
              "cpu_ms_per_s": {"decode": 30.0, "detect": 80.0, "track": 20.0, "align": 13.5, "embed": 135.0}}
    raw = {"date": "2026-01-01", "machine": "test", "streams": [stream], "bytes_per_chip": {"mobilefacenet": 1},
           "embed_ms_per_chip": {"mobilefacenet": 1.0}, "index_bytes_per_1000": {"in_memory": 5}}
    path = tmp_path / "costs.json"
    path.write_text(json.dumps(raw))
    m = sim.load_measurements(path)
    assert m.streams["640x360"].frame_cores == pytest.approx(0.13)
    assert "2026-01-01" in m.label and m.index_bytes_per_1000 == 5


def test_check_compares_with_the_measured_number(sim: Any) -> None:
    table = sim.check(sim.DEFAULTS, "640x360", 10.0, 2.0, 4)
    assert "measured / predicted" in table and "| 4 |" in table
