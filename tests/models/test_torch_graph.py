"""The GPU path's graph interpreter (``models.torch_graph``) must give ONNX Runtime's numbers.

These run PyTorch's CPU build (scripts/install-test-tools.sh installs it): the interpreter is the same code on
CUDA, where only the kernels differ. The recognizers are the shipped ones on real faces; the operators no
shipped graph uses (registered models may) are checked on small random graphs.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from facesearch import Engine
from facesearch.align import align_many
from facesearch.errors import ModelError
from facesearch.models import runtime, torch_graph
from facesearch.models.torch_graph import GraphModule, TorchSession

RNG = np.random.default_rng(7)


def _ort(model: onnx.ModelProto | bytes | Path, x: np.ndarray) -> np.ndarray:
    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    session = ort.InferenceSession(source if isinstance(source, bytes) else str(source),
                                   providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, {session.get_inputs()[0].name: x})[0])


def _torch(model: onnx.ModelProto, x: np.ndarray) -> np.ndarray:
    return TorchSession(model.SerializeToString(), "test", "cpu").run(None, {"x": x})[0]


def _graph(nodes: list[onnx.NodeProto], weights: dict[str, np.ndarray], x_shape: list[int],
           y_shape: list[int | None]) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, y_shape)],
        [numpy_helper.from_array(v, k) for k, v in weights.items()])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])


@pytest.fixture(scope="module")
def faces(engine: Engine, people: Path) -> dict[str, np.ndarray]:
    """Aligned chips of real faces for each of the engine's recognizers."""
    images = [engine.load(people / name) for name in ("obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg")]
    found = engine.detect(images)
    return {rec.name: np.concatenate([align_many(im.pixels, f.landmarks, rec.template)
                                      for im, f in zip(images, found, strict=True) if len(f)])
            for rec in engine.recognizers}


def test_the_shipped_recognizers_give_onnx_runtimes_embeddings(engine: Engine, faces: dict[str, np.ndarray]) -> None:
    for rec in engine.recognizers:
        chips = faces[rec.name]
        x = rec.to_tensor(chips)
        reference = _ort(rec.path, x)
        session = TorchSession(rec.path, rec.name, "cpu")
        got = session.run(None, {session.get_inputs()[0].name: x})[0]
        assert got.shape == reference.shape == (len(chips), rec.spec.embedding_size)
        cosine = (got * reference).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(reference, axis=1)
        assert cosine.min() > 0.99999, f"{rec.name}: {cosine.min()}"
        assert np.abs(got - reference).max() <= 1e-3 * np.abs(reference).max()


def test_an_engine_on_cuda_embeds_through_pytorch_and_keeps_the_detector_on_the_cpu(
    monkeypatch: pytest.MonkeyPatch, engine: Engine, people: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # No GPU here: a TorchSession asked for "cuda" runs on the CPU instead, so the wiring is what is tested.
    class CpuTorchSession(TorchSession):
        def __init__(self, model: bytes | Path, name: str, device: str = "cuda", threads: int = 0) -> None:
            super().__init__(model, name, "cpu")

    monkeypatch.setattr(torch_graph, "TorchSession", CpuTorchSession)
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("ONNX Runtime has CUDA here: it is used before PyTorch")
    on_gpu = Engine("default", device="cuda", require_gpu=False)
    with caplog.at_level(logging.WARNING):
        providers = on_gpu.providers()
    assert {name: p[0] for name, p in providers.items()} == {
        on_gpu.detector.name: "CPUExecutionProvider", "dlib-resnet": "TorchCPU", "mobilefacenet": "TorchCPU"}
    assert "PyTorch cannot run it: unsupported operators" in caplog.text  # the detector, said so
    image = people / "obama.jpg"
    a, b = on_gpu.analyze(image), engine.analyze(image)
    assert len(a) == len(b) == 1
    ea, eb = a.embeddings[0], b.embeddings[0]
    assert float(ea @ eb / np.linalg.norm(ea) / np.linalg.norm(eb)) > 0.99999
    # A detector PyTorch cannot run is an error where a GPU is required, never a quiet CPU run.
    with pytest.raises(ModelError, match="unsupported operators"):
        Engine("default", device="cuda", require_gpu=True).providers()


def test_without_cuda_the_torch_path_is_refused_or_falls_back_loudly(
    people: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    if runtime.resolve_device("auto") == "cuda":
        pytest.skip("this machine has a GPU")
    with pytest.raises(ModelError, match="PyTorch sees no CUDA device"):
        TorchSession(Engine("mobilefacenet").recognizers[0].path, "mobilefacenet", "cuda")
    with caplog.at_level(logging.WARNING):
        lenient = Engine("mobilefacenet", device="cuda")
        assert lenient.providers()["mobilefacenet"] == ["CPUExecutionProvider"]
    assert "PyTorch sees no CUDA device" in caplog.text


def test_auto_means_cuda_only_where_there_is_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runtime, "available_providers", lambda: ["CPUExecutionProvider"])
    monkeypatch.setattr(runtime, "torch_cuda", lambda: False)
    assert runtime.resolve_device("auto") == "cpu"
    monkeypatch.setattr(runtime, "torch_cuda", lambda: True)
    assert runtime.resolve_device("auto") == "cuda"
    assert runtime.resolve_device("cpu") == "cpu"


def test_every_operator_it_accepts_matches_onnx_runtime() -> None:
    w = {
        "conv_w": RNG.normal(size=(4, 3, 3, 3)).astype(np.float32), "conv_b": RNG.normal(size=4).astype(np.float32),
        "dw_w": RNG.normal(size=(4, 1, 3, 3)).astype(np.float32),
        "slope": RNG.uniform(0, 0.5, size=(4, 1, 1)).astype(np.float32),
        "bn_s": RNG.uniform(0.5, 2, size=4).astype(np.float32), "bn_b": RNG.normal(size=4).astype(np.float32),
        "bn_m": RNG.normal(size=4).astype(np.float32), "bn_v": RNG.uniform(0.5, 2, size=4).astype(np.float32),
        "pads": np.array([0, 0, 1, 0, 0, 0, 0, 1], np.int64),
        "shape": np.array([0, -1], np.int64), "pad_value": np.array(-1.5, np.float32),
        "gemm_w": RNG.normal(size=(6, 4 * 5 * 5)).astype(np.float32), "gemm_b": RNG.normal(size=6).astype(np.float32),
        "mm_w": RNG.normal(size=(6, 5)).astype(np.float32), "k": np.full((1, 5), 0.5, np.float32),
    }
    nodes = [
        helper.make_node("Conv", ["x", "conv_w", "conv_b"], ["c1"], pads=[1, 0, 1, 2], strides=[1, 1]),  # asymmetric
        helper.make_node("PRelu", ["c1", "slope"], ["p1"]),
        helper.make_node("BatchNormalization", ["p1", "bn_s", "bn_b", "bn_m", "bn_v"], ["b1"], epsilon=1e-3),
        helper.make_node("Conv", ["b1", "dw_w"], ["c2"], group=4, pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["c2"], ["r1"]),
        helper.make_node("Pad", ["r1", "pads"], ["pd"], mode="reflect"),
        helper.make_node("Pad", ["pd", "pads"], ["pe"], mode="edge"),
        helper.make_node("Pad", ["pe", "pads", "pad_value"], ["pc"]),
        helper.make_node("MaxPool", ["pc"], ["m1"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("AveragePool", ["m1"], ["a1"], kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("Identity", ["a1"], ["i1"]),
        helper.make_node("Reshape", ["i1", "shape"], ["f1"]),
        helper.make_node("Gemm", ["f1", "gemm_w", "gemm_b"], ["g1"], transB=1, alpha=0.5, beta=2.0),
        helper.make_node("MatMul", ["g1", "mm_w"], ["mm"]),
        helper.make_node("Sub", ["mm", "k"], ["s1"]),
        helper.make_node("Mul", ["s1", "k"], ["y1"]),
        helper.make_node("Add", ["y1", "k"], ["y"]),
    ]
    model = _graph(nodes, w, [2, 3, 14, 14], [2, 5])
    onnx.checker.check_model(model)
    x = RNG.normal(size=(2, 3, 14, 14)).astype(np.float32)
    np.testing.assert_allclose(_torch(model, x), _ort(model, x), rtol=1e-4, atol=1e-4)
    pooled = _graph([helper.make_node("GlobalAveragePool", ["x"], ["g"]), helper.make_node("Flatten", ["g"], ["y"])],
                    {}, [2, 3, 5, 5], [2, 3])
    np.testing.assert_allclose(_torch(pooled, x[:, :, :5, :5]), _ort(pooled, x[:, :, :5, :5]), rtol=1e-5, atol=1e-6)


def test_a_graph_with_other_operators_is_refused_whole() -> None:
    model = _graph([helper.make_node("Sigmoid", ["x"], ["s"]), helper.make_node("Relu", ["s"], ["y"])],
                   {}, [1, 3], [1, 3])
    with pytest.raises(ModelError, match="unsupported operators Sigmoid"):
        GraphModule(model, "sigmoid-net")
    with pytest.raises(ModelError, match="cannot read the ONNX graph"):
        TorchSession(b"not an onnx graph", "junk", "cpu")
