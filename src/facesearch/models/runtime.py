"""Inference sessions: providers chosen explicitly, reported, and never silently downgraded.

On ``cuda`` a model runs on ONNX Runtime's CUDA provider where it is installed, and otherwise through PyTorch
on CUDA (``torch_graph``: the same graph file, interpreted), which is how a GPU machine with PyTorch runs the
recognizers without ``onnxruntime-gpu``. A graph PyTorch cannot run (the detector's) stays on the CPU.

Each model class holds a lazily created session (``OnnxModel.session``), guarded by a lock so that
threads share one. The providers actually in use are read back from the session after it is made:
asking for CUDA and getting the CPU is logged as a warning, or raised when ``require_gpu`` is set.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import onnxruntime as ort

from facesearch.errors import ModelError

log = logging.getLogger(__name__)

Device = Literal["cpu", "cuda"]
DeviceChoice = Literal["cpu", "cuda", "auto"]  # auto: cuda where this machine has a GPU facesearch can use


class Session(Protocol):
    """What facesearch needs of an inference session (ONNX Runtime's, or a test double)."""

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[Any]: ...

    def get_providers(self) -> list[str]: ...


@dataclass(frozen=True)
class RuntimeOptions:
    """Where and how models run."""

    device: Device = "cpu"
    require_gpu: bool = False
    threads: int = 0  # 0: all cores

    @property
    def wanted_providers(self) -> list[str]:
        if self.device == "cuda":
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        return ["CPUExecutionProvider"]


def available_providers() -> list[str]:
    return list(ort.get_available_providers())


def torch_available() -> bool:
    """Whether PyTorch is installed (found without importing it: the import takes seconds)."""
    return importlib.util.find_spec("torch") is not None


def torch_cuda() -> bool:
    """Whether PyTorch is installed and sees a CUDA device."""
    if not torch_available():
        return False
    import torch

    return bool(torch.cuda.is_available())


def resolve_device(device: DeviceChoice) -> Device:
    """``auto`` as this machine allows: cuda where ONNX Runtime's CUDA provider or PyTorch's CUDA is there."""
    if device != "auto":
        return device
    return "cuda" if "CUDAExecutionProvider" in available_providers() or torch_cuda() else "cpu"


def make_session(model: bytes | Path, name: str, options: RuntimeOptions) -> Session:
    """A session for ``model`` on the device ``options`` asks for: ONNX Runtime's, or PyTorch's on CUDA."""
    available = set(available_providers())
    providers = [p for p in options.wanted_providers if p in available]
    if options.device == "cuda" and "CUDAExecutionProvider" not in available:
        torch_refused = ""
        if torch_available():
            from facesearch.models.torch_graph import TorchSession

            try:
                session = TorchSession(model, name, "cuda")
            except ModelError as exc:
                torch_refused = f"; {exc.reason}"
            else:
                log.info("%s: running on %s through PyTorch", name, session.get_providers()[0])
                return session
        message = (
            "device 'cuda' was asked for but ONNX Runtime has no CUDAExecutionProvider "
            f"(available: {', '.join(sorted(available))}){torch_refused or ' and PyTorch is not installed'}; "
            "install onnxruntime-gpu, or PyTorch with CUDA ('facesearch[gpu]')"
        )
        if options.require_gpu:
            raise ModelError(name, message)
        log.warning("%s: %s; running on the CPU", name, message)
    so = ort.SessionOptions()
    threads = options.threads or (os.cpu_count() or 1)
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    # Idle pool threads sleep instead of spinning: a video search runs the detector, the recognizers and the
    # decoder side by side, and threads spinning between one model's layers take the cores the others need
    # (10-20% of a scan's time on two cores; photo batches measure the same either way).
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    source: bytes | str = model if isinstance(model, bytes) else str(model)
    try:
        session = ort.InferenceSession(source, sess_options=so, providers=providers)
    except Exception as exc:
        raise ModelError(name, f"ONNX Runtime cannot load the model ({str(exc).splitlines()[0]})") from None
    in_use = session.get_providers()
    if options.device == "cuda" and in_use[0] != "CUDAExecutionProvider":
        if options.require_gpu:
            raise ModelError(name, f"CUDA was required but the session runs on {in_use[0]}")
        log.warning("%s: CUDA was asked for but the session runs on %s", name, in_use[0])
    log.info("%s: running on %s", name, ", ".join(in_use))
    return session


class OnnxModel:
    """Base class of every model: a lazy, idempotent, lock-guarded session and a ``predict`` call."""

    name: str = "model"

    def __init__(self, options: RuntimeOptions) -> None:
        self.options = options
        self._session: Session | None = None
        self._lock = threading.Lock()

    def _load_bytes(self) -> bytes | Path:
        raise NotImplementedError

    def load(self) -> Session:
        if self._session is None:
            with self._lock:
                if self._session is None:
                    self._session = make_session(self._load_bytes(), self.name, self.options)
        return self._session

    @property
    def session(self) -> Session:
        return self.load()

    @property
    def providers(self) -> list[str]:
        return self.session.get_providers()

    def run(self, inputs: dict[str, np.ndarray]) -> list[np.ndarray]:
        return [np.asarray(o) for o in self.session.run(None, inputs)]
