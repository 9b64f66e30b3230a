"""Face alignment: a similarity transform from five landmarks onto a recognizer's template.

A recognizer only works on chips aligned the way it was trained; a different template silently costs
accuracy. Two templates are built in:

* ``ARCFACE_112``: the five-point template of InsightFace/ArcFace models, 112x112 (MobileFaceNet and any
  ArcFace-family model a user registers).
* ``DLIB_150``: dlib's face chip, 150x150 with padding 0.25. dlib aligns with its own landmark models
  onto the mean face shape in ``dlib/image_transforms/interpolation.h``; we place RetinaFace's five
  points (eye centres, nose tip, mouth corners) at the positions of the same features in that mean
  shape: the average of the six contour points of each eye (36-41, 42-47), the nose tip (30) and the
  outer mouth corners (48, 54), mapped with dlib's ``(padding + p) / (1 + 2 * padding) * size``.

Chips much smaller than the face in the image are taken from an area-averaged copy of the face's
neighbourhood, as dlib's image pyramid does, so that large photos do not alias.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

# dlib's mean face shape (68-point iBUG convention), the features RetinaFace marks.
_DLIB_MEAN_EYE_RIGHT_SUBJECT = np.array(  # points 36-41, on the image's left
    [[0.121737, 0.216423], [0.187122, 0.178758], [0.265825, 0.179852],
     [0.334606, 0.231733], [0.260918, 0.245099], [0.182743, 0.244077]]
)
_DLIB_MEAN_EYE_LEFT_SUBJECT = np.array(  # points 42-47
    [[0.645647, 0.231733], [0.714428, 0.179852], [0.793132, 0.178758],
     [0.858516, 0.216423], [0.79751, 0.244077], [0.719335, 0.245099]]
)
_DLIB_MEAN_NOSE_TIP = np.array([0.490127, 0.515625])  # point 30
_DLIB_MEAN_MOUTH_CORNERS = np.array([[0.254149, 0.780233], [0.726104, 0.780233]])  # points 48, 54


def dlib_template(size: int = 150, padding: float = 0.25) -> NDArray[np.float64]:
    """RetinaFace's five points in dlib's ``get_face_chip(size, padding)`` coordinates."""
    unit = np.vstack(
        [
            _DLIB_MEAN_EYE_RIGHT_SUBJECT.mean(axis=0),
            _DLIB_MEAN_EYE_LEFT_SUBJECT.mean(axis=0),
            _DLIB_MEAN_NOSE_TIP,
            _DLIB_MEAN_MOUTH_CORNERS,
        ]
    )
    return (padding + unit) / (2 * padding + 1) * size


@dataclass(frozen=True)
class AlignmentTemplate:
    """Where the five landmarks go in a square chip of ``size`` pixels."""

    name: str
    size: int
    points: NDArray[np.float64]  # (5, 2)

    def scaled(self, size: int) -> AlignmentTemplate:
        return AlignmentTemplate(f"{self.name}@{size}", size, self.points * (size / self.size))


ARCFACE_112 = AlignmentTemplate(
    "arcface112",
    112,
    np.array(
        [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]]
    ),
)
DLIB_150 = AlignmentTemplate("dlib150", 150, dlib_template(150, 0.25))
TEMPLATES: dict[str, AlignmentTemplate] = {t.name: t for t in (ARCFACE_112, DLIB_150)}


def similarity_transform(src: NDArray[np.floating], dst: NDArray[np.floating]) -> NDArray[np.float64]:
    """The least-squares similarity (rotation, uniform scale, translation; no reflection) taking
    ``src`` points onto ``dst`` points (Umeyama, 1991), as a 2x3 matrix."""
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    var_s = (s**2).sum() / len(src)
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    e = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        e[1, 1] = -1
    rot = u @ e @ vt
    scale = float((sig * np.diag(e)).sum() / var_s) if var_s > 0 else 1.0
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def align(
    image: NDArray[np.uint8], landmarks: NDArray[np.floating], template: AlignmentTemplate
) -> NDArray[np.uint8]:
    """One aligned ``(size, size, 3)`` chip. Pixels outside the image are black, as in training."""
    m = similarity_transform(landmarks, template.points)
    scale = float(np.hypot(m[0, 0], m[0, 1]))  # chip pixels per image pixel
    if scale < 0.5:
        image, m = _area_downscaled_region(image, m, scale, template.size)
    chip = cv2.warpAffine(
        image, m, (template.size, template.size), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0),
    )
    return np.asarray(chip, np.uint8)


def align_many(
    image: NDArray[np.uint8], landmarks: NDArray[np.floating], template: AlignmentTemplate
) -> NDArray[np.uint8]:
    """Chips for every face of one image: ``(n, size, size, 3)``."""
    out = np.empty((len(landmarks), template.size, template.size, 3), np.uint8)
    for i, pts in enumerate(landmarks):
        out[i] = align(image, pts, template)
    return out


def _area_downscaled_region(
    image: NDArray[np.uint8], m: NDArray[np.float64], scale: float, size: int
) -> tuple[NDArray[np.uint8], NDArray[np.float64]]:
    """Crop the chip's footprint and shrink it by area averaging to about twice the chip's scale, so that
    the bilinear warp that follows reads a band-limited image (dlib uses a pyramid for the same reason)."""
    inv = cv2.invertAffineTransform(m)
    corners = np.array([[0, 0, 1], [size, 0, 1], [0, size, 1], [size, size, 1]], np.float64) @ inv.T
    h, w = image.shape[:2]
    x0, y0 = np.floor(corners.min(0)).astype(int) - 2
    x1, y1 = np.ceil(corners.max(0)).astype(int) + 2
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return image, m
    region = image[y0:y1, x0:x1]
    factor = min(1.0, 2.0 * scale)  # keep two region pixels per chip pixel for the bilinear step
    new_w, new_h = max(1, round((x1 - x0) * factor)), max(1, round((y1 - y0) * factor))
    small = np.asarray(cv2.resize(region, (new_w, new_h), interpolation=cv2.INTER_AREA), np.uint8)
    fx, fy = new_w / (x1 - x0), new_h / (y1 - y0)
    # chip = m @ [x, y, 1]; x = x0 + (u + 0.5) / fx - 0.5 for pixel centres u of the shrunk region.
    to_image = np.array([[1 / fx, 0, x0 + 0.5 / fx - 0.5], [0, 1 / fy, y0 + 0.5 / fy - 0.5], [0, 0, 1]])
    return small, (m @ to_image)
