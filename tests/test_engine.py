"""The engine end to end on real photos, with the real models."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facesearch.engine import Engine
from facesearch.errors import ModelError, NoFaceError


def test_two_people_two_unit_embeddings(engine: Engine, people: Path) -> None:
    faces = engine.analyze(people / "two_people.jpg", chips=True)
    assert len(faces) == 2
    assert faces.embeddings.shape == (2, 128 + 192)
    np.testing.assert_allclose(np.linalg.norm(faces.embeddings, axis=1), 1.0, atol=1e-5)
    assert faces.chips.shape == (2, 150, 150, 3)
    assert (faces.scores > 0.9).all() and (faces.face_size > 100).all() and (faces.frontal > 0.5).all()
    # Two different people: their embeddings must not look alike.
    assert engine.similarity(faces.embeddings[0], faces.embeddings[1]) < engine.calibration.threshold  # type: ignore[union-attr]


def test_every_input_kind_gives_the_same_result(engine: Engine, people: Path) -> None:
    path = people / "obama.jpg"
    data = path.read_bytes()
    pil = Image.open(io.BytesIO(data))
    rgb = np.asarray(pil.convert("RGB"))
    results = [
        engine.analyze(path),
        engine.analyze(data),
        engine.analyze(pil),
        engine.analyze(rgb, channels="rgb"),
        engine.analyze(np.ascontiguousarray(rgb[:, :, ::-1]), channels="bgr"),
    ]
    for r in results[1:]:
        np.testing.assert_allclose(r.embeddings, results[0].embeddings, atol=1e-5)


def test_batched_equals_one_at_a_time(engine: Engine, lfw: Path) -> None:
    files = sorted(lfw.glob("A*/*_0001.jpg"))[:12]
    batched = list(engine.analyze_many(files, batch_size=5))
    assert [r.source for r in batched] == [str(f) for f in files]
    for f, r in zip(files, batched, strict=True):
        single = engine.analyze(f)
        assert r.faces is not None
        np.testing.assert_allclose(r.faces.embeddings, single.embeddings, atol=1e-4)


def test_greyscale_faces_work(engine: Engine) -> None:
    att = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "att_faces"
    image = sorted(att.rglob("*.pgm"))[0]
    padded = Image.new("L", (200, 200), 128)
    padded.paste(Image.open(image), (54, 44))
    faces = engine.analyze(padded)
    assert len(faces) >= 1


def test_no_face_is_an_answer_and_verify_says_so(engine: Engine, tmp_path: Path, people: Path) -> None:
    blank = tmp_path / "wall.png"
    Image.new("RGB", (300, 200), (180, 170, 160)).save(blank)
    assert len(engine.analyze(blank)) == 0
    with pytest.raises(NoFaceError, match=r"wall.png: no face found"):
        engine.verify(blank, people / "obama.jpg")


def test_verification_on_real_photos(engine: Engine, people: Path) -> None:
    same = engine.verify(people / "obama.jpg", people / "obama2.jpg")
    different = engine.verify(people / "obama.jpg", people / "biden.jpg")
    assert same.same and not different.same
    assert same.fmr is not None and different.fmr is not None
    assert same.fmr < 1e-3 < different.fmr
    # Several faces: the largest is used and the others are listed.
    two = engine.verify(people / "two_people.jpg", people / "biden.jpg")
    assert len(two.faces[0].others) == 1


def test_cuda_is_never_a_silent_fallback(people: Path) -> None:
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has CUDA; the fallback path cannot be exercised here")
    strict = Engine("dlib", device="cuda", require_gpu=True)
    with pytest.raises(ModelError, match="CUDAExecutionProvider"):
        strict.analyze(people / "obama.jpg")
    lenient = Engine("dlib", device="cuda", require_gpu=False)
    assert len(lenient.analyze(people / "obama.jpg")) == 1
    assert lenient.providers()["dlib-resnet"] == ["CPUExecutionProvider"]
