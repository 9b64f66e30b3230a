"""A face recognizer: aligned chips in, unit-length embeddings out, many chips per model call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesearch.align import TEMPLATES, AlignmentTemplate
from facesearch.models.registry import RecognizerSpec
from facesearch.models.runtime import OnnxModel, RuntimeOptions

CPU_PROVIDERS = frozenset({"CPUExecutionProvider", "TorchCPU"})
GPU_BATCH_CHIPS = 1024


def l2_normalize(x: NDArray[np.float32]) -> NDArray[np.float32]:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12)).astype(np.float32)


class Recognizer(OnnxModel):
    """One ONNX recognizer described by a ``RecognizerSpec``.

    With ``flip`` (the default) a face's embedding is the normalised sum of the embeddings of its chip
    and of the chip's mirror image, as ArcFace-family evaluations do: it costs a second pass and
    measurably lowers errors (LFW: dlib 99.07% -> 99.20%, MobileFaceNet 99.20% -> 99.30%).
    """

    def __init__(
        self, spec: RecognizerSpec, path: Path, options: RuntimeOptions, batch_size: int = 64, flip: bool = True
    ) -> None:
        super().__init__(options)
        self.spec = spec
        self.name = spec.name
        self.path = path
        self.batch_size = batch_size
        self.flip = flip
        self._input_name: str | None = None

    def _load_bytes(self) -> Path:
        return self.path

    @property
    def template(self) -> AlignmentTemplate:
        base = TEMPLATES[self.spec.alignment]
        return base if base.size == self.spec.input_size else base.scaled(self.spec.input_size)

    def to_tensor(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """``(n, h, w, 3)`` RGB uint8 chips to the model's ``(n, 3, h, w)`` float input."""
        x = chips if self.spec.channels == "rgb" else chips[..., ::-1]
        t = x.astype(np.float32).transpose(0, 3, 1, 2)
        if self.spec.mean != 0.0 or self.spec.std != 1.0:
            t = (t - np.float32(self.spec.mean)) / np.float32(self.spec.std)
        return np.ascontiguousarray(t)

    def raw(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """The model's own output (not normalised), batched."""
        if len(chips) == 0:
            return np.zeros((0, self.spec.embedding_size), np.float32)
        session = self.session
        if self._input_name is None:
            self._input_name = session.get_inputs()[0].name  # type: ignore[attr-defined]
        # A GPU wants large calls (a node's pooled chips, mirrors included, in one); a CPU gains nothing past 64.
        step = self.batch_size if session.get_providers()[0] in CPU_PROVIDERS else GPU_BATCH_CHIPS
        outs = []
        for start in range(0, len(chips), step):
            tensor = self.to_tensor(chips[start : start + step])
            outs.append(np.asarray(session.run(None, {self._input_name: tensor})[0], np.float32))
        return np.vstack(outs)

    def embed(self, chips: NDArray[np.uint8]) -> NDArray[np.float32]:
        """Unit-length embeddings ``(n, embedding_size)``."""
        if not self.flip or len(chips) == 0:
            return l2_normalize(self.raw(chips))
        n = len(chips)
        # One batch holding the chips and their mirrors: fewer, larger model calls.
        both = self.raw(np.concatenate([chips, chips[:, :, ::-1]]))
        return l2_normalize(l2_normalize(both[:n]) + l2_normalize(both[n:]))
