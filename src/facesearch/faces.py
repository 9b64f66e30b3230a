"""``Faces``: the one result type that flows from detection to embedding.

A dataclass of parallel numpy arrays, one row per face, in the manner of supervision's ``Detections``.
Every stage returns a *new* ``Faces`` with more columns filled in; none mutates its input. Columns that a
stage has not computed yet are empty arrays with zero width (never ``None``), so code never branches on
presence: ``faces.embeddings.shape[1] == 0`` means "not embedded".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float32]


def _check_rows(name: str, array: NDArray[Any], n: int, trailing: tuple[int, ...] | None) -> None:
    if array.shape[0] != n:
        raise ValueError(f"Faces.{name}: expected {n} rows (one per face), got shape {array.shape}")
    if trailing is not None and array.shape[1:] != trailing:
        raise ValueError(f"Faces.{name}: expected shape ({n}, {', '.join(map(str, trailing))}), got {array.shape}")


@dataclass(frozen=True)
class Faces:
    """The faces found in one image.

    Attributes:
        boxes: ``(n, 4)`` float32 boxes ``x1, y1, x2, y2`` in image pixels.
        scores: ``(n,)`` detection confidence in ``[0, 1]``.
        landmarks: ``(n, 5, 2)`` points: subject's right eye, left eye, nose tip, right and left mouth
            corner (the image-left eye first for a frontal face).
        face_size: ``(n,)`` face size in pixels: the geometric mean of the box's width and height.
        sharpness: ``(n,)`` variance of the Laplacian of a normalised 64x64 grey crop; below ~20 is blurred.
        frontal: ``(n,)`` 1 for a frontal face, falling to 0 at full profile (from landmark symmetry).
        embeddings: ``(n, d)`` unit-length embeddings, ``d == 0`` until embedded.
        chips: ``(n, h, w, 3)`` uint8 aligned RGB chips, ``h == w == 0`` unless asked for.
        image_size: ``(height, width)`` of the image the faces were found in.
        source: the image's name (file path or a caller-given label), for messages.

    Example:
        >>> faces = engine.analyze("group.jpg")
        >>> large = faces[faces.face_size > 80]
    """

    boxes: FloatArray
    scores: FloatArray
    landmarks: FloatArray
    face_size: FloatArray
    sharpness: FloatArray
    frontal: FloatArray
    embeddings: FloatArray = field(default_factory=lambda: np.zeros((0, 0), np.float32))
    chips: NDArray[np.uint8] = field(default_factory=lambda: np.zeros((0, 0, 0, 3), np.uint8))
    image_size: tuple[int, int] = (0, 0)
    source: str = ""

    def __post_init__(self) -> None:
        n = self.boxes.shape[0]
        _check_rows("boxes", self.boxes, n, (4,))
        _check_rows("scores", self.scores, n, ())
        _check_rows("landmarks", self.landmarks, n, (5, 2))
        _check_rows("face_size", self.face_size, n, ())
        _check_rows("sharpness", self.sharpness, n, ())
        _check_rows("frontal", self.frontal, n, ())
        # Optional columns may be absent (zero rows) before the stage that fills them has run.
        if self.embeddings.shape[0] == 0 and n > 0:
            object.__setattr__(self, "embeddings", np.zeros((n, 0), np.float32))
        if self.chips.shape[0] == 0 and n > 0:
            object.__setattr__(self, "chips", np.zeros((n, 0, 0, 3), np.uint8))
        if self.embeddings.ndim != 2:
            raise ValueError(f"Faces.embeddings: expected shape (n, d), got {self.embeddings.shape}")
        _check_rows("embeddings", self.embeddings, n, None)
        _check_rows("chips", self.chips, n, None)

    @classmethod
    def empty(cls, image_size: tuple[int, int] = (0, 0), source: str = "") -> Faces:
        """No faces (a first-class answer, not an error)."""
        z = np.zeros((0,), np.float32)
        return cls(
            boxes=np.zeros((0, 4), np.float32),
            scores=z,
            landmarks=np.zeros((0, 5, 2), np.float32),
            face_size=z.copy(),
            sharpness=z.copy(),
            frontal=z.copy(),
            image_size=image_size,
            source=source,
        )

    def __len__(self) -> int:
        return int(self.boxes.shape[0])

    def __getitem__(self, index: int | slice | NDArray[np.bool_] | NDArray[np.integer[Any]] | list[int]) -> Faces:
        """Rows by an index, slice, integer array or boolean mask; always a new ``Faces``."""
        if isinstance(index, int | np.integer):
            index = [int(index)]
        return replace(
            self,
            boxes=self.boxes[index],
            scores=self.scores[index],
            landmarks=self.landmarks[index],
            face_size=self.face_size[index],
            sharpness=self.sharpness[index],
            frontal=self.frontal[index],
            embeddings=self.embeddings[index],
            chips=self.chips[index],
        )

    def with_columns(self, **columns: Any) -> Faces:
        """A copy with some columns replaced (validated like a new object)."""
        return replace(self, **columns)

    @property
    def areas(self) -> FloatArray:
        w = np.clip(self.boxes[:, 2] - self.boxes[:, 0], 0, None)
        h = np.clip(self.boxes[:, 3] - self.boxes[:, 1], 0, None)
        return (w * h).astype(np.float32)

    def largest(self) -> int:
        """Index of the largest face (by box area); raises ``IndexError`` when there is none."""
        if len(self) == 0:
            raise IndexError("no faces")
        return int(np.argmax(self.areas))

    def is_embedded(self) -> bool:
        return self.embeddings.shape[1] > 0

    def to_records(self) -> list[dict[str, Any]]:
        """Plain per-face records (for JSON output); embeddings and chips are left out."""
        out: list[dict[str, Any]] = []
        for i in range(len(self)):
            out.append(
                {
                    "box": [round(float(v), 1) for v in self.boxes[i]],
                    "score": round(float(self.scores[i]), 4),
                    "landmarks": [[round(float(x), 1), round(float(y), 1)] for x, y in self.landmarks[i]],
                    "face_size": round(float(self.face_size[i]), 1),
                    "sharpness": round(float(self.sharpness[i]), 1),
                    "frontal": round(float(self.frontal[i]), 3),
                }
            )
        return out
