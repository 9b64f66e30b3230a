"""RetinaFace-MobileNet0.25: boxes, five landmarks and scores, many images per model call.

Pre-processing follows the network's training (biubug6/Pytorch_Retinaface): BGR, minus the per-channel
means (104, 117, 123), NCHW. Images are shrunk so that their longer side fits ``max_side``, padded at the
bottom and right to a multiple of 32 (the largest stride), and batched with others of the same padded
size. Decoding uses the SSD priors of the training configuration.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesearch.detect.common import DetectorConfig, detect_in_batches, faces_found
from facesearch.detect.weights import retinaface_onnx_bytes
from facesearch.faces import Faces
from facesearch.images import LoadedImage
from facesearch.models.runtime import OnnxModel, RuntimeOptions

log = logging.getLogger(__name__)

_MEAN_BGR = np.array([104.0, 117.0, 123.0], np.float32)
_STEPS = (8, 16, 32)
_MIN_SIZES = ((16, 32), (64, 128), (256, 512))
_VARIANCE = (0.1, 0.2)


@lru_cache(maxsize=16)
def _priors(height: int, width: int) -> NDArray[np.float32]:
    """SSD priors ``(cx, cy, w, h)`` in pixels for a padded input of ``height`` x ``width``."""
    rows = []
    for step, sizes in zip(_STEPS, _MIN_SIZES, strict=True):
        fh, fw = math.ceil(height / step), math.ceil(width / step)
        ys, xs = np.meshgrid(np.arange(fh), np.arange(fw), indexing="ij")
        centres = np.stack([(xs.ravel() + 0.5) * step, (ys.ravel() + 0.5) * step], axis=1)
        for_each = [np.hstack([centres, np.full((len(centres), 2), s, np.float64)]) for s in sizes]
        # Priors are interleaved per cell: cell 0 size 0, cell 0 size 1, cell 1 size 0, ...
        rows.append(np.stack(for_each, axis=1).reshape(-1, 4))
    return np.vstack(rows).astype(np.float32)


class RetinaFaceDetector(OnnxModel):
    """The face detector. ``detect`` takes decoded images and returns one ``Faces`` per image."""

    name = "retinaface-mnet025"

    # The smallest face (px in its input) it finds reliably, from benchmarks/detectors.py:
    # 41% of 24 px faces found at native resolution, 92% of 32 px.
    reliable_face_px = 32

    def __init__(self, options: RuntimeOptions, config: DetectorConfig | None = None,
                 models_dir: Path | None = None) -> None:
        super().__init__(options)
        self.config = config or DetectorConfig()
        self.models_dir = models_dir  # where ``models install`` stored the weights; None: the settings' folder

    def _load_bytes(self) -> bytes:
        return retinaface_onnx_bytes(self.models_dir)

    def detect(self, images: Sequence[LoadedImage], batch_size: int = 16,
               config: DetectorConfig | None = None) -> list[Faces]:
        """Faces in each image, in input order, with quality measures filled in (``config``: instead of
        the detector's own, for this call)."""
        cfg = config or self.config

        def run(pixels: list[NDArray[np.uint8]], originals: list[LoadedImage], scales: list[float], h: int,
                w: int) -> list[Faces]:
            loc, conf, landms = self.run({"input": self._batch(pixels, h, w)})
            return [self._decode(image, scale, loc[row], conf[row], landms[row], h, w, cfg)
                    for row, (image, scale) in enumerate(zip(originals, scales, strict=True))]

        return detect_in_batches(images, cfg, batch_size, run)

    @staticmethod
    def _batch(images: list[NDArray[np.uint8]], height: int, width: int) -> NDArray[np.float32]:
        """NCHW float32, BGR minus the training means, zero-padded at the bottom and right (zero after the
        mean subtraction: the padding looks "average"), built channel by channel without temporaries."""
        batch = np.zeros((len(images), 3, height, width), np.float32)
        for n, pixels in enumerate(images):
            rh, rw = pixels.shape[:2]
            for c in range(3):  # RGB in, BGR out
                np.subtract(pixels[:, :, 2 - c], _MEAN_BGR[c], out=batch[n, c, :rh, :rw], dtype=np.float32)
        return batch

    def _decode(
        self,
        image: LoadedImage,
        scale: float,
        loc: NDArray[np.float32],
        conf: NDArray[np.float32],
        landms: NDArray[np.float32],
        height: int,
        width: int,
        cfg: DetectorConfig,
    ) -> Faces:
        scores = conf[:, 1]
        candidates = np.flatnonzero(scores >= cfg.score_threshold)
        if candidates.size == 0:
            return Faces.empty(image.size, image.source)
        priors = _priors(height, width)[candidates]
        loc, landms, scores = loc[candidates], landms[candidates], scores[candidates]
        centres = priors[:, :2] + loc[:, :2] * _VARIANCE[0] * priors[:, 2:]
        sizes = priors[:, 2:] * np.exp(loc[:, 2:] * _VARIANCE[1])
        boxes = np.hstack([centres - sizes / 2, centres + sizes / 2])
        points = priors[:, None, :2] + landms.reshape(-1, 5, 2) * _VARIANCE[0] * priors[:, None, 2:]
        return faces_found(image, scale, boxes, points, scores, cfg)
