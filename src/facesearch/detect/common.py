"""What every detector shares: its settings, the shrink before the model, non-maximum suppression, and the
``Faces`` made from decoded boxes and landmarks (clipped, filtered by size, measured for quality)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from facesearch.faces import Faces
from facesearch.images import LoadedImage
from facesearch.quality import face_size, frontal, sharpness

ALIGN = 32  # inputs are padded at the bottom and right to a multiple of the largest stride


@dataclass(frozen=True)
class DetectorConfig:
    """How the detector runs: confidence and overlap thresholds, and the working resolution."""

    score_threshold: float = 0.5
    nms_threshold: float = 0.4
    max_side: int = 640
    min_face: float = 0.0  # drop faces smaller than this (pixels, in the original image)
    sharpness: bool = True  # measure each face's sharpness (video search ranks faces without it)


def shrink(image: LoadedImage, max_side: int) -> tuple[NDArray[np.uint8], float]:
    """The image shrunk to fit ``max_side`` (never enlarged), and the scale from image to it."""
    h, w = image.size
    scale = min(1.0, max_side / max(h, w))
    if scale == 1.0:
        return image.pixels, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(cv2.resize(image.pixels, size, interpolation=cv2.INTER_AREA), np.uint8), scale


def padded(size: int) -> int:
    return -(-size // ALIGN) * ALIGN


def nms(boxes: NDArray[np.float32], scores: NDArray[np.float32], threshold: float) -> NDArray[np.intp]:
    """Indices kept by greedy non-maximum suppression, best first."""
    order = np.argsort(-scores)
    keep: list[int] = []
    x1, y1, x2, y2 = boxes.T
    areas = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.clip(np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]), 0, None)
        h = np.clip(np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]), 0, None)
        inter = w * h
        iou = inter / (areas[i] + areas[rest] - inter + 1e-9)
        order = rest[iou <= threshold]
    return np.asarray(keep, np.intp)


def faces_found(image: LoadedImage, scale: float, boxes: NDArray[np.floating], points: NDArray[np.floating],
                scores: NDArray[np.floating], cfg: DetectorConfig) -> Faces:
    """``Faces`` from candidate boxes ``(n, 4)`` x1 y1 x2 y2 and landmarks ``(n, 5, 2)`` in the shrunk
    image's pixels: suppressed, scaled back to ``image``, clipped to it, filtered by size and measured."""
    if len(boxes) == 0:
        return Faces.empty(image.size, image.source)
    keep = nms(boxes.astype(np.float32), scores.astype(np.float32), cfg.nms_threshold)
    boxes = (boxes[keep] / scale).astype(np.float32)
    points = (points[keep] / scale).astype(np.float32)
    scores = scores[keep].astype(np.float32)
    h, w = image.size
    boxes[:, 0::2] = np.clip(boxes[:, 0::2], 0, w)
    boxes[:, 1::2] = np.clip(boxes[:, 1::2], 0, h)
    sizes_px = face_size(boxes)
    if cfg.min_face > 0:
        big = sizes_px >= cfg.min_face
        boxes, points, scores, sizes_px = boxes[big], points[big], scores[big], sizes_px[big]
    return Faces(
        boxes=boxes,
        scores=scores,
        landmarks=points,
        face_size=sizes_px,
        sharpness=sharpness(image.pixels, points) if cfg.sharpness else np.zeros(len(points), np.float32),
        frontal=frontal(points),
        image_size=image.size,
        source=image.source,
    )


# (shrunk images of one padded size, the originals, and the scales between them; padded height, width) -> Faces
BatchRunner = Callable[[list[NDArray[np.uint8]], list[LoadedImage], list[float], int, int], list[Faces]]


def detect_in_batches(images: Sequence[LoadedImage], cfg: DetectorConfig, batch_size: int,
                      run: BatchRunner) -> list[Faces]:
    """Faces in each image, in input order: the images shrunk to ``cfg.max_side``, grouped by their padded
    size, and given to ``run`` ``batch_size`` at a time (one model call each)."""
    shrunk = [shrink(im, cfg.max_side) for im in images]
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, (pixels, _) in enumerate(shrunk):
        groups[(padded(pixels.shape[0]), padded(pixels.shape[1]))].append(i)
    results: list[Faces | None] = [None] * len(images)
    for (h, w), members in groups.items():
        for start in range(0, len(members), batch_size):
            chunk = members[start : start + batch_size]
            found = run([shrunk[i][0] for i in chunk], [images[i] for i in chunk], [shrunk[i][1] for i in chunk], h, w)
            for i, faces in zip(chunk, found, strict=True):
                results[i] = faces
    return [r if r is not None else Faces.empty() for r in results]
