"""The recognizers' ONNX graphs run by PyTorch: facesearch's GPU path where ONNX Runtime has no CUDA provider.

``onnxruntime-gpu`` is a large, CUDA-version-bound wheel; PyTorch with CUDA is what a GPU machine usually has
already. The converted recognizers (dlib's ResNet, MobileFaceNet) use a handful of operators, so this module
interprets exactly those: the graph's weights become tensors on the device, and each node becomes one
``torch.nn.functional`` call. The weights are the very bytes ONNX Runtime loads (same file, same sha256); a
graph with any other operator is refused, so nothing runs half-translated.

PyTorch is optional (``pip install 'facesearch[gpu]'``): this module is imported only when a torch session is
asked for (``runtime.make_session``).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

from facesearch.errors import ModelError

SUPPORTED_OPS = frozenset({"Conv", "Add", "Mul", "Sub", "Relu", "PRelu", "MaxPool", "AveragePool",
                           "GlobalAveragePool", "Pad", "Flatten", "MatMul", "Gemm", "Reshape",
                           "BatchNormalization", "Identity"})


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _symmetric(pads: list[int], node: onnx.NodeProto) -> list[int]:
    """ONNX pads (begin..., end...) as PyTorch's symmetric padding, where they are symmetric."""
    if not pads:
        return [0, 0]
    half = len(pads) // 2
    if pads[:half] != pads[half:]:
        raise NotImplementedError(f"{node.op_type} {node.name!r}: asymmetric pads {pads}")
    return pads[:half]


def _torch_pads(pads: list[int]) -> list[int]:
    """ONNX pads (x1_begin, x2_begin, ..., x1_end, x2_end, ...) in F.pad's order (last axis first)."""
    n = len(pads) // 2
    out: list[int] = []
    for axis in reversed(range(n)):
        out += [pads[axis], pads[axis + n]]
    while len(out) > 2 and out[-2:] == [0, 0]:  # unpadded outer axes: reflect and edge pads take only inner ones
        out = out[:-2]
    return out


class GraphModule(torch.nn.Module):
    """An ONNX graph made only of ``SUPPORTED_OPS``, as a PyTorch module (one input, one output)."""

    def __init__(self, model: onnx.ModelProto, name: str) -> None:
        super().__init__()
        graph = model.graph
        unsupported = {n.op_type for n in graph.node} - SUPPORTED_OPS
        if unsupported:
            raise ModelError(name, f"PyTorch cannot run it: unsupported operators {', '.join(sorted(unsupported))}")
        initialisers = {i.name for i in graph.initializer}
        inputs = [i.name for i in graph.input if i.name not in initialisers]
        if len(inputs) != 1 or len(graph.output) != 1:
            raise ModelError(name, f"PyTorch runs graphs of one input and one output, not {len(inputs)} and "
                                   f"{len(graph.output)}")
        self.nodes = list(graph.node)
        self.input_name = inputs[0]
        self.output_name = graph.output[0].name
        self.weights = torch.nn.ParameterDict()
        self._keys: dict[str, str] = {}
        for i, init in enumerate(graph.initializer):
            key = f"w{i}"
            self.weights[key] = torch.nn.Parameter(torch.from_numpy(numpy_helper.to_array(init).copy()),
                                                   requires_grad=False)
            self._keys[init.name] = key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {self.input_name: x}

        def get(name: str) -> torch.Tensor:
            if name in values:
                return values[name]
            w = self.weights[self._keys[name]]
            # Float weights follow the activations' dtype (a half-precision run); shapes and pads stay integers.
            return w.to(x.dtype) if w.is_floating_point() else w

        for node in self.nodes:
            values[node.output[0]] = self._run(node, [get(n) for n in node.input if n])
        return values[self.output_name]

    @staticmethod
    def _run(node: onnx.NodeProto, ins: list[torch.Tensor]) -> torch.Tensor:
        a = _attrs(node)
        op = node.op_type
        if op == "Conv":
            pads = a.get("pads", [0, 0, 0, 0])
            x = ins[0]
            if pads[:2] != pads[2:]:  # asymmetric: pad first, as ONNX Runtime does
                x, padding = F.pad(x, _torch_pads(pads)), [0, 0]
            else:
                padding = pads[:2]
            return F.conv2d(x, ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1, 1]),
                            padding=padding, dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
        if op == "Add":
            return ins[0] + ins[1]
        if op == "Mul":
            return ins[0] * ins[1]
        if op == "Sub":
            return ins[0] - ins[1]
        if op == "Relu":
            return F.relu(ins[0])
        if op == "PRelu":
            slope = ins[1]
            return torch.where(ins[0] >= 0, ins[0], ins[0] * slope)
        if op == "Identity":
            return ins[0]
        if op == "BatchNormalization":
            return F.batch_norm(ins[0], ins[3], ins[4], ins[1], ins[2], training=False, eps=a.get("epsilon", 1e-5))
        if op == "MaxPool":
            return F.max_pool2d(ins[0], a["kernel_shape"], a.get("strides"), _symmetric(a.get("pads", []), node),
                                ceil_mode=bool(a.get("ceil_mode", 0)))
        if op == "AveragePool":
            return F.avg_pool2d(ins[0], a["kernel_shape"], a.get("strides"), _symmetric(a.get("pads", []), node),
                                ceil_mode=bool(a.get("ceil_mode", 0)),
                                count_include_pad=bool(a.get("count_include_pad", 0)))
        if op == "GlobalAveragePool":
            return ins[0].mean(dim=(2, 3), keepdim=True)
        if op == "Pad":
            mode = a.get("mode", b"constant")
            mode = mode.decode() if isinstance(mode, bytes) else mode
            value = float(ins[2].reshape(-1)[0]) if len(ins) > 2 and mode == "constant" else 0.0
            return F.pad(ins[0], _torch_pads([int(p) for p in ins[1].tolist()]),
                         mode={"edge": "replicate", "wrap": "circular"}.get(mode, mode), value=value)
        if op == "Flatten":
            return torch.flatten(ins[0], a.get("axis", 1))
        if op == "MatMul":
            return ins[0] @ ins[1]
        if op == "Gemm":
            left = ins[0].t() if a.get("transA", 0) else ins[0]
            right = ins[1].t() if a.get("transB", 0) else ins[1]
            y = a.get("alpha", 1.0) * (left @ right)
            return y + a.get("beta", 1.0) * ins[2] if len(ins) > 2 else y
        if op == "Reshape":
            shape = [int(s) for s in ins[1].tolist()]
            return ins[0].reshape([ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)])
        raise NotImplementedError(op)  # pragma: no cover - refused in __init__


class _Input:
    def __init__(self, name: str) -> None:
        self.name = name


class TorchSession:
    """``runtime.Session`` over PyTorch: a recognizer's graph on ``device`` ("cuda" or "cpu"), full precision.

    TF32 is turned off, so that a GPU's embeddings agree with the CPU's to float precision: the shipped
    calibrations were measured on full-precision scores."""

    def __init__(self, model: bytes | Path, name: str, device: str = "cuda", threads: int = 0) -> None:
        if device == "cuda":
            if not torch.cuda.is_available():
                raise ModelError(name, "PyTorch sees no CUDA device here")
            torch.backends.cuda.matmul.allow_tf32 = False
            torch.backends.cudnn.allow_tf32 = False
        elif threads:
            torch.set_num_threads(threads)
        try:
            proto = onnx.load_from_string(model) if isinstance(model, bytes) else onnx.load(str(model))
        except Exception as exc:
            raise ModelError(name, f"cannot read the ONNX graph ({str(exc).splitlines()[0]})") from None
        self.name, self.device = name, torch.device(device)
        self.module = GraphModule(proto, name).eval().to(self.device)
        self._lock = threading.Lock()  # one model call at a time per device queue: calls are batched upstream

    def get_inputs(self) -> list[_Input]:
        return [_Input(self.module.input_name)]

    def get_providers(self) -> list[str]:
        return ["TorchCUDA" if self.device.type == "cuda" else "TorchCPU"]

    def run(self, output_names: list[str] | None, input_feed: dict[str, Any]) -> list[np.ndarray]:
        x = torch.from_numpy(np.ascontiguousarray(input_feed[self.module.input_name], np.float32))
        with self._lock, torch.inference_mode():
            y = self.module(x.to(self.device, non_blocking=True))
            return [y.float().cpu().numpy()]

    def memory(self) -> dict[str, int]:
        """The device memory PyTorch holds now (CUDA only: allocated and reserved bytes)."""
        if self.device.type != "cuda":
            return {}
        return {"allocated_bytes": int(torch.cuda.memory_allocated(self.device)),
                "reserved_bytes": int(torch.cuda.memory_reserved(self.device))}


def cuda_device_name() -> str | None:
    """The first CUDA device's name, or None where PyTorch sees none."""
    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
