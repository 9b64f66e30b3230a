"""The dlib ResNet converter, checked against dlib itself on real LFW faces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from facesearch.models.dlib_resnet import (
    DLIB_CHIP_PADDING,
    DLIB_CHIP_SIZE,
    Conv,
    FcNoBias,
    convert_dlib_resnet,
    default_dlib_model_path,
    read_dlib_resnet,
)

dlib = pytest.importorskip("dlib")

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data"
LFW = DATA / "lfw"
N_FACES = 64  # at least 50 are required; a few spare in case some images yield no face
PERSON_STRIDE = 89  # spread the sample over the alphabet instead of the first few names


@pytest.fixture(scope="module")
def model_path() -> Path:
    return default_dlib_model_path()


@pytest.fixture(scope="module")
def onnx_model(model_path: Path) -> onnx.ModelProto:
    return convert_dlib_resnet(model_path)


@pytest.fixture(scope="module")
def session(onnx_model: onnx.ModelProto) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def faces(model_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """(chips [n,150,150,3] uint8 RGB, dlib descriptors [n,128]) for real LFW faces, made by dlib."""
    if not LFW.is_dir():
        pytest.skip(f"LFW not found at {LFW}")
    import face_recognition_models

    detector = dlib.get_frontal_face_detector()
    landmarks = dlib.shape_predictor(face_recognition_models.pose_predictor_five_point_model_location())
    recognizer = dlib.face_recognition_model_v1(str(model_path))
    people = sorted(p for p in LFW.iterdir() if p.is_dir())
    chips: list[np.ndarray] = []
    descriptors: list[np.ndarray] = []
    for start in range(PERSON_STRIDE):
        for person in people[start::PERSON_STRIDE]:
            image = dlib.load_rgb_image(str(sorted(person.glob("*.jpg"))[0]))
            detections = detector(image, 0)
            if len(detections) == 0:
                continue
            # LFW centres the named person; other detections are bystanders
            cx, cy = image.shape[1] / 2, image.shape[0] / 2
            box = min(detections, key=lambda d: (d.center().x - cx) ** 2 + (d.center().y - cy) ** 2)
            shape = landmarks(image, box)
            chip = dlib.get_face_chip(image, shape, size=DLIB_CHIP_SIZE, padding=DLIB_CHIP_PADDING)
            chips.append(chip)
            descriptors.append(np.asarray(recognizer.compute_face_descriptor(chip), dtype=np.float64))
            if len(chips) == N_FACES:
                return np.stack(chips), np.stack(descriptors)
    pytest.fail(f"only {len(chips)} faces found in {LFW}")


def _embed(session: ort.InferenceSession, chips: np.ndarray) -> np.ndarray:
    batch = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)  # NHWC -> NCHW
    (out,) = session.run(["embeddings"], {"chips": batch})
    return np.asarray(out)


def test_converted_model_reproduces_dlib_descriptors(
    session: ort.InferenceSession, faces: tuple[np.ndarray, np.ndarray]
) -> None:
    chips, reference = faces
    assert len(chips) >= 50
    ours = _embed(session, chips).astype(np.float64)  # all faces in one batch
    assert ours.shape == reference.shape == (len(chips), 128)
    cosine = (ours * reference).sum(1) / (np.linalg.norm(ours, axis=1) * np.linalg.norm(reference, axis=1))
    max_abs = np.abs(ours - reference).max(axis=1)
    assert cosine.min() >= 0.9999, f"worst cosine {cosine.min():.6f} at face {cosine.argmin()}"
    assert max_abs.max() <= 1e-3, f"worst abs diff {max_abs.max():.2e} at face {max_abs.argmax()}"
    # Measured: under 5e-7. The bounds above would still pass a graph that divides by 255 instead of
    # dlib's 256 (about 4e-4); this one would not, and leaves room for other BLAS builds of dlib.
    assert max_abs.max() <= 1e-5, f"worst abs diff {max_abs.max():.2e}: float noise is below 1e-6"
    # dlib's descriptor is not unit length; the converter must not normalise it either
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), np.linalg.norm(reference, axis=1), rtol=1e-4)


def test_batch_results_equal_single_image_results(
    session: ort.InferenceSession, faces: tuple[np.ndarray, np.ndarray]
) -> None:
    chips, _ = faces
    batched = _embed(session, chips)
    singles = np.concatenate([_embed(session, chips[i : i + 1]) for i in range(len(chips))])
    odd = _embed(session, chips[:7])
    np.testing.assert_allclose(singles, batched, rtol=0, atol=1e-5)
    np.testing.assert_allclose(odd, batched[:7], rtol=0, atol=1e-5)


def test_model_interface(onnx_model: onnx.ModelProto, model_path: Path) -> None:
    assert onnx_model.producer_name == "facesearch"
    assert model_path.name in onnx_model.doc_string
    assert {o.domain: o.version for o in onnx_model.opset_import}[""] == 17
    (inp,) = onnx_model.graph.input
    (out,) = onnx_model.graph.output
    assert inp.name == "chips" and out.name == "embeddings"
    assert inp.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    in_dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    out_dims = [d.dim_param or d.dim_value for d in out.type.tensor_type.shape.dim]
    assert in_dims == ["batch", 3, 150, 150]
    assert out_dims == ["batch", 128]
    assert len(onnx_model.graph.initializer) > 0
    onnx.checker.check_model(onnx_model)


def test_parsed_structure(model_path: Path) -> None:
    net = read_dlib_resnet(model_path)
    assert net.unread_bytes == 0
    # input_rgb_image_sized's default means, as stored in the file
    np.testing.assert_allclose(net.input.mean_rgb, (122.782, 117.001, 104.298), atol=1e-4)
    assert (net.input.rows, net.input.cols) == (150, 150)
    convs = [layer for layer in net.layers if isinstance(layer, Conv)]
    assert len(convs) == 29
    first = convs[0]
    assert first.weights.shape == (32, 3, 7, 7)
    assert first.stride == (2, 2) and first.padding == (0, 0)  # con_ default: stride 2 -> no padding
    assert isinstance(net.layers[-1], FcNoBias) and net.embedding_size == 128


def test_truncated_file_raises_value_error_naming_the_file(model_path: Path, tmp_path: Path) -> None:
    data = model_path.read_bytes()
    for cut in (0, 40, 400, len(data) // 2, len(data) - 1):
        broken = tmp_path / f"truncated_{cut}.dat"
        broken.write_bytes(data[:cut])
        with pytest.raises(ValueError, match=broken.name) as info:
            read_dlib_resnet(broken)
        assert "\n" not in str(info.value)


def test_wrong_layer_raises_value_error_with_offset(model_path: Path, tmp_path: Path) -> None:
    data = model_path.read_bytes()
    at = data.index(b"con_4")  # its length prefix, 01 05, starts two bytes earlier
    broken = tmp_path / "renamed.dat"
    broken.write_bytes(data[:at] + b"foo_4" + data[at + 5 :])
    expected = rf"renamed\.dat: expected layer .*con_4.* at byte {at - 2}, found 'foo_4'"
    with pytest.raises(ValueError, match=expected):
        read_dlib_resnet(broken)
