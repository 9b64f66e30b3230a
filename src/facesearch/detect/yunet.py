"""YuNet (2023mar): an anchor-free detector of faces with five landmarks, much stronger than RetinaFace-MobileNet
on small faces (WIDER FACE hard AP 0.75 against 0.47, published figures), at a tenth of its weights.

Input: BGR, 0-255, not normalised, NCHW, padded at the bottom and right to a multiple of 32 (as OpenCV's
``FaceDetectorYN`` does). For each stride (8, 16, 32) the network scores every cell of the grid once: class and
objectness probabilities (the face score is their geometric mean), a box as offsets of its centre from the cell
and log sizes, and five landmarks as offsets, all in strides. The graph flattens the batch into the cells
(``[1, batch x cells, k]``), so a batch's rows are split back per image in order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesearch.detect.common import DetectorConfig, detect_in_batches, faces_found
from facesearch.detect.yunet_weights import YUNET_NAME, yunet_onnx_bytes
from facesearch.faces import Faces
from facesearch.images import LoadedImage
from facesearch.models.runtime import OnnxModel, RuntimeOptions

log = logging.getLogger(__name__)

STRIDES = (8, 16, 32)
_OUTPUTS = [f"{kind}_{s}" for kind in ("cls", "obj", "bbox", "kps") for s in STRIDES]


@lru_cache(maxsize=64)  # a video's tiles, crops and reduced views: a few sizes, over and over
def _cells(height: int, width: int, stride: int) -> NDArray[np.float32]:
    """``(cells, 2)`` column and row of every grid cell of a padded input, row by row."""
    rows, cols = np.meshgrid(np.arange(height // stride), np.arange(width // stride), indexing="ij")
    return np.stack([cols.ravel(), rows.ravel()], axis=1).astype(np.float32)


class YuNetDetector(OnnxModel):
    """The YuNet face detector; ``detect`` takes decoded images and returns one ``Faces`` per image."""

    name = YUNET_NAME

    # The smallest face (px in its input) it finds reliably, from benchmarks/detectors.py:
    # 91% of 24 px faces found at native resolution, 100% of 32 px.
    reliable_face_px = 24

    def __init__(self, options: RuntimeOptions, config: DetectorConfig | None = None,
                 models_dir: Path | None = None) -> None:
        super().__init__(options)
        self.config = config or DetectorConfig()
        self.models_dir = models_dir

    def _load_bytes(self) -> bytes:
        if self.models_dir is None:
            from facesearch.settings import get_settings

            return yunet_onnx_bytes(get_settings().models_dir)
        return yunet_onnx_bytes(self.models_dir)

    def detect(self, images: Sequence[LoadedImage], batch_size: int = 16,
               config: DetectorConfig | None = None) -> list[Faces]:
        """Faces in each image, in input order, with quality measures filled in (``config``: instead of
        the detector's own, for this call)."""
        cfg = config or self.config

        def run(pixels: list[NDArray[np.uint8]], originals: list[LoadedImage], scales: list[float], h: int,
                w: int) -> list[Faces]:
            outputs = dict(zip(_OUTPUTS, self.session.run(_OUTPUTS, {"input": self._batch(pixels, h, w)}),
                               strict=True))
            return self._decode(originals, scales, outputs, h, w, cfg)

        return detect_in_batches(images, cfg, batch_size, run)

    @staticmethod
    def _batch(images: list[NDArray[np.uint8]], height: int, width: int) -> NDArray[np.float32]:
        """NCHW float32 BGR 0-255, zero-padded at the bottom and right."""
        batch = np.zeros((len(images), 3, height, width), np.float32)
        for n, pixels in enumerate(images):
            rh, rw = pixels.shape[:2]
            batch[n, :, :rh, :rw] = pixels[:, :, ::-1].transpose(2, 0, 1)  # RGB in, BGR out
        return batch

    @staticmethod
    def _decode(images: list[LoadedImage], scales: list[float], outputs: dict[str, NDArray[np.float32]],
                height: int, width: int, cfg: DetectorConfig) -> list[Faces]:
        """Each image's faces from the batch's outputs: the cells over the threshold are found for the whole
        batch at once (most inputs of a video search hold one face or none)."""
        found: list[list[tuple[NDArray[np.float32], NDArray[np.float32], NDArray[np.float32]]]] = [[] for _ in images]
        for stride in STRIDES:
            cells = _cells(height, width, stride)
            n = len(cells)
            cls = outputs[f"cls_{stride}"][0, : n * len(images), 0]
            obj = outputs[f"obj_{stride}"][0, : n * len(images), 0]
            score = np.sqrt(np.clip(cls, 0, 1) * np.clip(obj, 0, 1))
            hit = np.flatnonzero(score >= cfg.score_threshold)
            if hit.size == 0:
                continue
            bbox = outputs[f"bbox_{stride}"][0, hit]
            kps = outputs[f"kps_{stride}"][0, hit].reshape(-1, 5, 2)
            at = cells[hit % n]
            centre = (at + bbox[:, :2]) * stride
            size = np.exp(bbox[:, 2:]) * stride
            boxes = np.hstack([centre - size / 2, centre + size / 2])
            points = (kps + at[:, None, :]) * stride
            rows = hit // n  # which image of the batch each cell belongs to
            for row in np.unique(rows):
                mine = rows == row
                found[row].append((boxes[mine], points[mine], score[hit[mine]]))
        out = []
        for image, scale, parts in zip(images, scales, found, strict=True):
            if not parts:
                out.append(Faces.empty(image.size, image.source))
                continue
            out.append(faces_found(image, scale, np.vstack([p[0] for p in parts]),
                                   np.concatenate([p[1] for p in parts]), np.concatenate([p[2] for p in parts]), cfg))
        return out
