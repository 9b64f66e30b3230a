"""Run facesearch's ONNX recognizers in PyTorch (for GPU measurements; not used by the package).

ONNX Runtime's CUDA wheel is too large for the device machines, so GPU numbers are taken with PyTorch
running the *same* converted graphs. This is a small interpreter for exactly the operators our graphs
use (dlib ResNet and MobileFaceNet as converted by facesearch): weights become tensors on the device and
each node becomes one ``torch.nn.functional`` call.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pool_pads(pads: list[int]) -> list[int]:
    if len(pads) == 4 and pads[:2] != pads[2:]:
        raise NotImplementedError(f"asymmetric pooling pads {pads}")
    return pads[:2] if pads else [0, 0]


class OnnxTorch(torch.nn.Module):
    """An ONNX graph of Conv/Add/Mul/Sub/Relu/pooling/Pad/MatMul/Reshape/Flatten nodes, in PyTorch."""

    SUPPORTED = frozenset({"Conv", "Add", "Mul", "Sub", "Relu", "MaxPool", "AveragePool", "GlobalAveragePool",
                           "Pad", "Flatten", "MatMul", "Reshape"})

    def __init__(self, path: Path) -> None:
        super().__init__()
        model = onnx.load(str(path))
        graph = model.graph
        unsupported = {n.op_type for n in graph.node} - self.SUPPORTED
        if unsupported:
            raise NotImplementedError(f"{path}: unsupported operators {sorted(unsupported)}")
        self.nodes = list(graph.node)
        self.input_name = graph.input[0].name
        self.output_name = graph.output[0].name
        self.weights = torch.nn.ParameterDict()
        self._names: dict[str, str] = {}
        for i, init in enumerate(graph.initializer):
            key = f"w{i}"
            self.weights[key] = torch.nn.Parameter(torch.from_numpy(numpy_helper.to_array(init).copy()),
                                                   requires_grad=False)
            self._names[init.name] = key

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: dict[str, torch.Tensor] = {self.input_name: x}

        def get(name: str) -> torch.Tensor:
            if name in values:
                return values[name]
            w = self.weights[self._names[name]]
            # Float weights follow the activations' dtype (fp16 runs); shapes and pads stay integers.
            return w.to(x.dtype) if w.is_floating_point() else w

        for node in self.nodes:
            a = _attrs(node)
            ins = [get(n) for n in node.input if n]
            op = node.op_type
            if op == "Conv":
                pads = a.get("pads", [0, 0, 0, 0])
                inp = ins[0]
                if pads[:2] != pads[2:]:
                    inp = F.pad(inp, [pads[1], pads[3], pads[0], pads[2]])
                    padding: Any = 0
                else:
                    padding = pads[:2]
                y = F.conv2d(inp, ins[1], ins[2] if len(ins) > 2 else None, stride=a.get("strides", [1, 1]),
                             padding=padding, dilation=a.get("dilations", [1, 1]), groups=a.get("group", 1))
            elif op == "Add":
                y = ins[0] + ins[1]
            elif op == "Mul":
                y = ins[0] * ins[1]
            elif op == "Sub":
                y = ins[0] - ins[1]
            elif op == "Relu":
                y = F.relu(ins[0])
            elif op == "MaxPool":
                y = F.max_pool2d(ins[0], a["kernel_shape"], a.get("strides"), _pool_pads(a.get("pads", [])))
            elif op == "AveragePool":
                y = F.avg_pool2d(ins[0], a["kernel_shape"], a.get("strides"), _pool_pads(a.get("pads", [])),
                                 count_include_pad=bool(a.get("count_include_pad", 0)))
            elif op == "GlobalAveragePool":
                y = ins[0].mean(dim=(2, 3), keepdim=True)
            elif op == "Pad":
                pads = [int(p) for p in ins[1].tolist()]
                n = len(pads) // 2
                torch_pads: list[int] = []
                for axis in reversed(range(n)):
                    torch_pads += [pads[axis], pads[axis + n]]
                y = F.pad(ins[0], torch_pads, mode=a.get("mode", b"constant").decode())
            elif op == "Flatten":
                y = torch.flatten(ins[0], a.get("axis", 1))
            elif op == "MatMul":
                y = ins[0] @ ins[1]
            elif op == "Reshape":
                shape = [int(s) for s in ins[1].tolist()]
                shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
                y = ins[0].reshape(shape)
            else:  # pragma: no cover - refused in __init__
                raise NotImplementedError(op)
            values[node.output[0]] = y
        return values[self.output_name]


def run_numpy(model: OnnxTorch, chips: np.ndarray, device: str = "cpu") -> np.ndarray:
    with torch.no_grad():
        return model.to(device)(torch.from_numpy(chips).to(device)).float().cpu().numpy()
