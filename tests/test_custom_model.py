"""A user's own ONNX recognizer (ArcFace 112x112 template) works with every command.

The test builds a small ONNX model itself (a strided convolution, pooling and a projection: random
weights, so its embeddings mean little, but every path they travel is real), registers it in a fresh
data directory, and runs the commands with ``--model`` naming it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pyarrow.parquet as pq
import pytest
from onnx import TensorProto, helper, numpy_helper

CLI = [sys.executable, "-m", "facesearch.cli"]


def tiny_recognizer(path: Path, dim: int = 16) -> Path:
    rng = np.random.default_rng(0)
    inits = [
        numpy_helper.from_array(rng.normal(0, 0.1, (8, 3, 8, 8)).astype(np.float32), "w_conv"),
        numpy_helper.from_array(rng.normal(0, 0.3, (8 * 14 * 14, dim)).astype(np.float32), "w_fc"),
        numpy_helper.from_array(np.array([0, -1], np.int64), "flat_shape"),
    ]
    nodes = [
        helper.make_node("Conv", ["data", "w_conv"], ["c"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Reshape", ["r", "flat_shape"], ["f"]),
        helper.make_node("MatMul", ["f", "w_fc"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["batch", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", dim])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.fixture()
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def run(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACESEARCH_HOME": str(home)}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=600, check=False)


def test_registered_model_works_with_every_command(tmp_path: Path, home: Path, people: Path, lfw: Path) -> None:
    model = tiny_recognizer(tmp_path / "tiny.onnx")
    out = run(home, "models", "register", "tiny", str(model), "--embedding-size", "16", "--license", "test-only")
    assert out.returncode == 0, out.stderr
    listed = json.loads(run(home, "models", "list", "--json").stdout)
    assert listed["profiles"]["tiny"] == ["tiny"]

    # verify: works before calibration (no FMR), and says so
    v = run(home, "verify", str(people / "obama.jpg"), str(people / "obama2.jpg"), "--model", "tiny", "--json")
    assert v.returncode in (0, 1), v.stderr
    assert json.loads(v.stdout)["fmr"] is None

    # eval lfw on a small pairs file, saving a calibration for the model
    pairs = tmp_path / "pairs.txt"
    pairs.write_text(
        "1 4\nAaron_Peirsol 1 2\nAbdullah 1 2\nAkbar_Hashemi_Rafsanjani 1 2\nAli_Naimi 1 2\n"
        "Aaron_Eckhart 1 Abba_Eban 1\nAbdel_Madi_Shabneh 1 Abdullah_Gul 1\nAdam_Sandler 1 Al_Gore 1\n"
        "Alan_Ball 1 Alberto_Fujimori 1\n"
    )
    calibration = home / "calibration.json"
    e = run(home, "eval", "lfw", "--data", str(lfw), "--pairs", str(pairs), "--model", "tiny",
            "--out", str(tmp_path / "eval"), "--save-calibration", str(calibration), "--json")
    assert e.returncode == 0, e.stderr
    report = json.loads(e.stdout)
    assert report["models"] == ["tiny"] and len(report["results"]) == 1
    assert (tmp_path / "eval" / "roc.png").stat().st_size > 1000
    assert "tiny" in json.loads(calibration.read_text())

    # Four impostor pairs cannot promise 1e-3 (the default): refused, saying so, rather than a threshold above any
    # score that would call everyone "different"; a rate the calibration reaches works.
    beyond = run(home, "verify", str(people / "obama.jpg"), str(people / "biden.jpg"), "--model", "tiny")
    assert beyond.returncode == 2 and "beyond the tiny calibration" in beyond.stderr
    v = run(home, "verify", str(people / "obama.jpg"), str(people / "biden.jpg"), "--model", "tiny", "--fmr", "0.1",
            "--json")
    assert json.loads(v.stdout)["fmr"] is not None

    # embed
    emb = run(home, "embed", str(people / "two_people.jpg"), "--out", str(tmp_path / "f.parquet"), "--model", "tiny")
    assert emb.returncode == 0, emb.stderr
    assert len(pq.read_table(tmp_path / "f.parquet").column("embedding")[0]) == 16

    # doctor
    d = json.loads(run(home, "doctor", "--model", "tiny", "--json").stdout)
    assert [m["name"] for m in d["models"]] == ["retinaface-mnet025", "yunet-2023mar", "tiny"]
    assert d["models"][-1]["license"] == "test-only"


def test_register_refuses_a_model_of_the_wrong_shape(tmp_path: Path, home: Path) -> None:
    model = tiny_recognizer(tmp_path / "tiny.onnx")
    out = run(home, "models", "register", "tiny", str(model), "--embedding-size", "512")
    assert out.returncode == 2
    assert "output shape" in out.stderr and "512" in out.stderr


def test_a_changed_registered_file_is_refused(tmp_path: Path, home: Path, people: Path) -> None:
    model = tiny_recognizer(tmp_path / "tiny.onnx")
    assert run(home, "models", "register", "tiny", str(model), "--embedding-size", "16").returncode == 0
    tiny_recognizer(model, dim=16)  # same shape...
    data = bytearray(model.read_bytes())
    data[-10] ^= 0xFF  # ...but not the file that was registered
    model.write_bytes(bytes(data))
    out = run(home, "verify", str(people / "obama.jpg"), str(people / "obama2.jpg"), "--model", "tiny")
    assert out.returncode == 2 and "sha256" in out.stderr
