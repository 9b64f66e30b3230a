"""Face quality measures: size, sharpness and a frontal-pose score, from the image and the landmarks.

They decide what is worth embedding, enrolling or clustering; the thresholds live with the callers
(enrolment, clustering) and are reported with reasons there.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

from facesearch.align import ARCFACE_112, align

_SHARPNESS_TEMPLATE = ARCFACE_112.scaled(64)
# Where the nose tip sits between the eye line and the mouth line of a level face (ArcFace template).
_LEVEL_PITCH = float(
    (ARCFACE_112.points[2, 1] - ARCFACE_112.points[:2, 1].mean())
    / (ARCFACE_112.points[3:, 1].mean() - ARCFACE_112.points[:2, 1].mean())
)


def face_size(boxes: NDArray[np.float32]) -> NDArray[np.float32]:
    """Geometric mean of the box's width and height, in pixels."""
    w = np.clip(boxes[:, 2] - boxes[:, 0], 0, None)
    h = np.clip(boxes[:, 3] - boxes[:, 1], 0, None)
    return np.sqrt(w * h).astype(np.float32)


def sharpness(image: NDArray[np.uint8], landmarks: NDArray[np.float32]) -> NDArray[np.float32]:
    """Variance of the Laplacian on a 64x64 aligned grey chip: comparable across face sizes because the
    chip is the same size for every face. Sharp faces score in the hundreds; blurred ones below ~20."""
    out = np.zeros(len(landmarks), np.float32)
    for i, pts in enumerate(landmarks):
        chip = align(image, pts, _SHARPNESS_TEMPLATE)
        grey = cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY)
        # The inner face only: the template's border holds background and, near edges, black fill.
        inner = grey[8:56, 8:56]
        out[i] = float(cv2.Laplacian(inner, cv2.CV_32F).var())
    return out


def frontal(landmarks: NDArray[np.float32]) -> NDArray[np.float32]:
    """1 for a frontal face, falling towards 0 as the head turns (yaw) or tilts up or down (pitch).

    Yaw: where the nose tip falls between the eyes, in the frame of the eye line (0.5 when frontal).
    Pitch: where the nose falls between the eye line and the mouth line, against the same ratio in the
    ArcFace template (0.49); pitch varies more than yaw in ordinary photos, so its scale is wider.
    """
    if len(landmarks) == 0:
        return np.zeros((0,), np.float32)
    lm = landmarks.astype(np.float64)
    eye_r, eye_l, nose, mouth_r, mouth_l = (lm[:, k] for k in range(5))
    axis = eye_l - eye_r
    ied = np.linalg.norm(axis, axis=1) + 1e-6
    ux = axis / ied[:, None]
    uy = np.stack([-ux[:, 1], ux[:, 0]], axis=1)
    yaw_pos = ((nose - eye_r) * ux).sum(1) / ied
    eyes_mid = (eye_r + eye_l) / 2
    mouth_mid = (mouth_r + mouth_l) / 2
    vertical = ((mouth_mid - eyes_mid) * uy).sum(1)
    pitch_pos = ((nose - eyes_mid) * uy).sum(1) / np.where(np.abs(vertical) < 1e-6, 1e-6, vertical)
    yaw_score = 1 - np.clip(np.abs(yaw_pos - 0.5) * 2, 0, 1)
    pitch_score = 1 - np.clip(np.abs(pitch_pos - _LEVEL_PITCH) / 0.6, 0, 1)
    return np.minimum(yaw_score, pitch_score).astype(np.float32)


# A view's weight for matching (a track's views, a sign-in clip's frames): size counts up to what the recognizers
# use, a turned head costs, and a blurred face counts less, down to a floor.
SHARP = 100.0  # sharpness (variance of the Laplacian) from which a view counts fully; blurred faces score ~20
LEAST_SHARP_WEIGHT = 0.1


def usefulness(face_size: NDArray[np.float32], frontal: NDArray[np.float32]) -> NDArray[np.float32]:
    """Higher for faces a recognizer can do more with: size counts up to 112 px, a turned head costs."""
    return (np.minimum(face_size, 112.0) * (0.25 + frontal)).astype(np.float32)


def sharp_weight(sharp: float) -> float:
    """How much a view of this sharpness counts (1 from ``SHARP`` up, never under ``LEAST_SHARP_WEIGHT``)."""
    return max(min(sharp / SHARP, 1.0), LEAST_SHARP_WEIGHT)

