"""Alignment must reproduce what each recognizer was trained with; a wrong one silently costs accuracy."""

from __future__ import annotations

import random
from pathlib import Path

import cv2
import numpy as np
import pytest

from facesearch.align import ARCFACE_112, DLIB_150, align, dlib_template, similarity_transform
from facesearch.detect.retinaface import RetinaFaceDetector
from facesearch.images import load_image
from facesearch.models.runtime import RuntimeOptions


def test_similarity_transform_recovers_a_known_one() -> None:
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rot = scale * np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ rot.T + shift
    m = similarity_transform(src, dst)
    np.testing.assert_allclose(m[:, :2], rot, atol=1e-9)
    np.testing.assert_allclose(m[:, 2], shift, atol=1e-9)


def test_landmarks_land_on_the_template() -> None:
    """Draw dots at five landmark positions of a rotated, scaled face; the chip has them at the template."""
    image = np.zeros((400, 500, 3), np.uint8)
    m = similarity_transform(ARCFACE_112.points, ARCFACE_112.points * 2.3 @ np.array([[0.9, -0.44], [0.44, 0.9]]).T
                             + [180, 90])
    landmarks = ARCFACE_112.points @ m[:, :2].T + m[:, 2]
    for x, y in landmarks:
        cv2.circle(image, (round(x), round(y)), 8, (255, 255, 255), -1)
    chip = align(image, landmarks, ARCFACE_112)
    for tx, ty in ARCFACE_112.points:
        patch = chip[round(ty) - 1 : round(ty) + 2, round(tx) - 1 : round(tx) + 2]
        assert patch.min() > 200, (tx, ty)


def test_large_faces_are_shrunk_without_aliasing() -> None:
    """A face 20x the chip size: a fine stripe pattern must average to grey, not alias into bands."""
    stripes = np.zeros((3000, 3000, 3), np.uint8)
    stripes[:, ::2] = 255
    landmarks = ARCFACE_112.points * 20 + 200
    chip = align(stripes, landmarks, ARCFACE_112)
    assert abs(float(chip[20:90, 20:90].mean()) - 127.5) < 10
    assert float(chip[20:90, 20:90].std()) < 10


def test_dlib_template_is_dlibs_mean_face() -> None:
    # The nose tip of dlib's mean face (point 30) and the padding rule of get_face_chip_details.
    np.testing.assert_allclose(dlib_template(150, 0.25)[2], (0.25 + np.array([0.490127, 0.515625])) / 1.5 * 150)
    assert DLIB_150.size == 150


def test_dlib_chips_match_dlibs_own_alignment(lfw: Path) -> None:
    """Our RetinaFace-landmark chips against dlib's own (HOG detector, 5-point shape predictor,
    ``get_face_chip(150, 0.25)``), compared through dlib's own recognizer: the descriptors agree
    closely; the ArcFace template scaled to 150 px, a plausible mistake, agrees much less."""
    dlib = pytest.importorskip("dlib", reason="dlib-bin is a dev dependency: pip install -e '.[dev]'")
    import face_recognition_models as frm

    hog = dlib.get_frontal_face_detector()
    shapes = dlib.shape_predictor(frm.pose_predictor_five_point_model_location())
    net = dlib.face_recognition_model_v1(frm.face_recognition_model_location())
    detector = RetinaFaceDetector(RuntimeOptions())
    files = sorted(lfw.glob("*/*.jpg"))
    random.Random(7).shuffle(files)
    ours, wrong = [], []
    for path in files[:40]:
        image = load_image(path)
        found = hog(image.pixels, 1)
        faces = detector.detect([image])[0]
        if len(found) == 0 or len(faces) == 0:
            continue
        # LFW centres the labelled person; other people may be in the picture too.
        box = min(found, key=lambda r: abs(r.center().x - 125) + abs(r.center().y - 125))
        reference = dlib.get_face_chip(image.pixels, shapes(image.pixels, box), 150, 0.25)
        centres = (faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2
        face = int(np.argmin(np.hypot(*(centres - 125).T)))
        chips = [reference, align(image.pixels, faces.landmarks[face], DLIB_150),
                 align(image.pixels, faces.landmarks[face], ARCFACE_112.scaled(150))]
        d = [np.asarray(net.compute_face_descriptor(c)) for c in chips]
        d = [v / np.linalg.norm(v) for v in d]
        ours.append(d[0] @ d[1])
        wrong.append(d[0] @ d[2])
    assert len(ours) >= 30
    # A hard face or two (profile, occlusion) may put the two landmark models apart; most must agree.
    assert np.median(ours) > 0.985 and np.mean(np.array(ours) > 0.97) >= 0.9
    assert np.mean(wrong) < np.mean(ours) - 0.05
