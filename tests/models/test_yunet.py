"""YuNet, the second detector (issue 16): the published block-quantised file made float here must find what
OpenCV's own ``FaceDetectorYN`` finds with that file, box for box and landmark for landmark; batches change
nothing; a damaged file is refused; and an engine set to it searches as the default one does."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from facesearch import Engine
from facesearch.detect.common import DetectorConfig
from facesearch.detect.dequantize import dequantized, fold_weight_dequantization
from facesearch.detect.yunet import YuNetDetector
from facesearch.detect.yunet_weights import YUNET_FILE, install_yunet, stored_yunet_file
from facesearch.errors import ModelError
from facesearch.images import load_image
from facesearch.models.runtime import RuntimeOptions
from facesearch.settings import Settings, get_settings

PHOTOS = ("obama.jpg", "obama2.jpg", "biden.jpg", "two_people.jpg")


@pytest.fixture(scope="module")
def models_dir() -> Path:
    directory = get_settings().models_dir
    install_yunet(directory)  # stored by install.sh's 'models install'; fetched here only if missing
    return directory


def test_the_float_graph_finds_what_opencv_finds_with_the_published_file(models_dir: Path, people: Path) -> None:
    published = str(stored_yunet_file(models_dir))
    ours = YuNetDetector(RuntimeOptions(threads=1), DetectorConfig(score_threshold=0.6, nms_threshold=0.3,
                                                                   max_side=10_000, sharpness=False), models_dir)
    for name in PHOTOS:
        image = load_image(people / name)
        found = ours.detect([image])[0]
        bgr = cv2.imread(str(people / name))
        height, width = bgr.shape[:2]
        reference = cv2.FaceDetectorYN.create(published, "", (width, height), 0.6, 0.3, 5000)
        _, theirs = reference.detect(bgr)
        assert theirs is not None and len(found) == len(theirs) >= 1, name
        theirs = theirs[np.argsort(-theirs[:, 14])]
        boxes = np.hstack([theirs[:, :2], theirs[:, :2] + theirs[:, 2:4]])
        np.testing.assert_allclose(found.boxes, boxes, atol=0.01, err_msg=name)
        np.testing.assert_allclose(found.landmarks, theirs[:, 4:14].reshape(-1, 5, 2), atol=0.01, err_msg=name)
        np.testing.assert_allclose(found.scores, theirs[:, 14], atol=1e-4, err_msg=name)
        right_eye, left_eye = found.landmarks[0, 0], found.landmarks[0, 1]
        assert right_eye[0] < left_eye[0]  # the subject's right eye first, as RetinaFace gives them


def test_a_batch_gives_what_one_image_at_a_time_gives(models_dir: Path, people: Path) -> None:
    detector = YuNetDetector(RuntimeOptions(threads=1), models_dir=models_dir)
    images = [load_image(people / name) for name in PHOTOS] * 2
    together = detector.detect(images, batch_size=8)
    for image, batched in zip(images, together, strict=True):
        alone = detector.detect([image])[0]
        assert len(alone) == len(batched)
        np.testing.assert_allclose(batched.boxes, alone.boxes, atol=1e-3)


def test_an_engine_set_to_yunet_finds_and_embeds_faces(models_dir: Path, people: Path, engine: Engine) -> None:
    yunet = Engine("default", settings=Settings(detector="yunet", home=get_settings().home))
    assert yunet.detector.name == "yunet-2023mar"
    a, b = yunet.analyze(people / "obama.jpg"), engine.analyze(people / "obama.jpg")
    assert len(a) == len(b) == 1
    ea, eb = a.embeddings[0], b.embeddings[0]
    assert float(ea @ eb / np.linalg.norm(ea) / np.linalg.norm(eb)) > 0.9  # the same face, aligned from other points
    assert yunet.verify(people / "obama.jpg", people / "obama2.jpg").same
    assert not yunet.verify(people / "obama.jpg", people / "biden.jpg").same


def test_a_damaged_or_replaced_file_is_refused(tmp_path: Path, models_dir: Path) -> None:
    (tmp_path / YUNET_FILE).write_bytes(stored_yunet_file(models_dir).read_bytes()[:-10] + b"0123456789")
    detector = YuNetDetector(RuntimeOptions(threads=1), models_dir=tmp_path)
    with pytest.raises(ModelError, match=r"sha256 .* expected 49f000ec.*models install --force"):
        detector.detect([load_image(np.zeros((64, 64, 3), np.uint8), channels="rgb")])


def test_dequantizing_per_tensor_per_axis_and_per_block_is_what_onnx_runtime_computes() -> None:
    rng = np.random.default_rng(3)
    x = rng.integers(-128, 127, size=(4, 6), dtype=np.int8)
    scale = rng.uniform(0.01, 0.1, size=(4,)).astype(np.float32)
    zero = rng.integers(-5, 5, size=(4,), dtype=np.int8)
    per_axis = dequantized(x, scale, zero, axis=0)
    np.testing.assert_allclose(per_axis, (x.astype(np.float32) - zero[:, None]) * scale[:, None], rtol=1e-6)
    assert np.allclose(dequantized(x, scale[:1], None), x.astype(np.float32) * scale[0])
    blocks = rng.uniform(0.01, 0.1, size=(4, 2)).astype(np.float32)  # blocks of 3 along axis 1
    expected = x.astype(np.float32) * np.repeat(blocks, 3, axis=1)
    np.testing.assert_allclose(dequantized(x, blocks, None, axis=1, block_size=3), expected, rtol=1e-6)

    # In a graph: the folded model computes what ONNX Runtime computes from the quantised one.
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["w"], axis=0)
    graph = helper.make_graph(
        [node, helper.make_node("MatMul", ["x", "w"], ["y"])], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 6])],
        [numpy_helper.from_array(x, "q"), numpy_helper.from_array(scale, "s"), numpy_helper.from_array(zero, "z")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    inp = rng.normal(size=(2, 4)).astype(np.float32)

    def run(m: onnx.ModelProto) -> np.ndarray:
        session = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        return np.asarray(session.run(None, {"x": inp})[0])

    before = run(model)
    folded, count = fold_weight_dequantization(model)
    assert count == 1 and [n.op_type for n in folded.graph.node] == ["MatMul"]
    assert [i.name for i in folded.graph.initializer] == ["w"]
    np.testing.assert_allclose(run(folded), before, rtol=1e-5)
