"""The ``Faces`` result type: parallel arrays, validated, sliced into new objects."""

from __future__ import annotations

import numpy as np
import pytest

from facesearch.faces import Faces


def make(n: int) -> Faces:
    boxes = np.array([[0, 0, 10 * (i + 1), 10 * (i + 1)] for i in range(n)], np.float32).reshape(n, 4)
    z = np.arange(n, dtype=np.float32)
    return Faces(boxes, z, np.zeros((n, 5, 2), np.float32), z + 1, z + 2, z / 10)


def test_empty_is_a_value_not_none() -> None:
    f = Faces.empty((10, 20), "x.jpg")
    assert len(f) == 0 and f.embeddings.shape == (0, 0) and f.image_size == (10, 20)
    with pytest.raises(IndexError):
        f.largest()


def test_mask_slicing_returns_a_new_object_with_every_column() -> None:
    f = make(3).with_columns(embeddings=np.eye(3, 4, dtype=np.float32))
    g = f[f.scores > 0.5]
    assert len(g) == 2 and g.embeddings.shape == (2, 4) and g.chips.shape[0] == 2
    assert g.scores.tolist() == [1.0, 2.0]
    assert len(f) == 3  # the original is untouched
    assert len(f[1]) == 1 and f.largest() == 2


def test_validation_names_the_field_and_shapes() -> None:
    with pytest.raises(ValueError, match=r"Faces.landmarks: expected shape \(2, 5, 2\)"):
        Faces(np.zeros((2, 4), np.float32), np.zeros(2, np.float32), np.zeros((2, 4, 2), np.float32),
              np.zeros(2, np.float32), np.zeros(2, np.float32), np.zeros(2, np.float32))
    with pytest.raises(ValueError, match=r"Faces\.embeddings: expected 2 rows"):
        make(2).with_columns(embeddings=np.zeros((3, 8), np.float32))


def test_records_for_json() -> None:
    rec = make(1).to_records()[0]
    assert set(rec) == {"box", "score", "landmarks", "face_size", "sharpness", "frontal"}
