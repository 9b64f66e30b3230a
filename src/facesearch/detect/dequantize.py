"""Weight-only quantised ONNX graphs made plain float, so that any runtime runs them.

YuNet is published block-quantised: its weights are int8 tensors, each followed by a ``DequantizeLinear``
(opset 21, with ``axis`` and ``block_size``) that makes them float again at run time. ONNX Runtime refuses
some of those nodes (a one-element scale with a block size), and OpenCV 5 runs the graph only in its own
engine. The arithmetic is simple and the weights are constants, so it is done once here: every
``DequantizeLinear`` whose inputs are all initialisers becomes a float initialiser, ``(x - zero_point) *
scale``, exactly as the node would compute it. Activations were never quantised, so nothing else changes.
"""

from __future__ import annotations

import numpy as np
import onnx
from numpy.typing import NDArray
from onnx import numpy_helper


def _expanded(values: NDArray[np.generic], x: NDArray[np.generic], axis: int, block_size: int) -> NDArray[np.generic]:
    """A scale or zero point shaped to broadcast against ``x``: per tensor, per axis, or per block."""
    if values.size == 1:
        return values.reshape(())
    if block_size > 0:  # blocks of ``block_size`` along ``axis`` share one value
        return np.repeat(values, block_size, axis=axis).take(range(x.shape[axis]), axis=axis)
    shape = [1] * x.ndim
    shape[axis] = -1
    return values.reshape(shape)


def dequantized(x: NDArray[np.generic], scale: NDArray[np.floating], zero_point: NDArray[np.generic] | None,
                axis: int = 1, block_size: int = 0) -> NDArray[np.float32]:
    """What ``DequantizeLinear`` computes for constant inputs."""
    axis = axis % max(x.ndim, 1)
    shift = np.zeros((), np.float32) if zero_point is None else \
        _expanded(zero_point, x, axis, block_size).astype(np.float32)
    return ((x.astype(np.float32) - shift) * _expanded(scale, x, axis, block_size).astype(np.float32)).astype(
        np.float32)


def fold_weight_dequantization(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """``model`` with every constant ``DequantizeLinear`` folded into a float initialiser; and how many were.
    The model is changed in place and returned."""
    graph = model.graph
    constants = {i.name: i for i in graph.initializer}
    kept: list[onnx.NodeProto] = []
    folded = 0
    for node in graph.node:
        inputs = [n for n in node.input if n]
        if node.op_type != "DequantizeLinear" or not all(n in constants for n in inputs):
            kept.append(node)
            continue
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        arrays = [numpy_helper.to_array(constants[n]) for n in inputs]
        value = dequantized(arrays[0], arrays[1], arrays[2] if len(arrays) > 2 else None,
                            int(attrs.get("axis", 1)), int(attrs.get("block_size", 0)))
        graph.initializer.append(numpy_helper.from_array(value, node.output[0]))
        folded += 1
    del graph.node[:]
    graph.node.extend(kept)
    used = {n for node in graph.node for n in node.input} | {o.name for o in graph.output}
    unused = [i for i in graph.initializer if i.name not in used]
    for init in unused:
        graph.initializer.remove(init)
    return model, folded


def make_size_free(model: onnx.ModelProto) -> onnx.ModelProto:
    """Batch, height and width of the (image) input, and every output's shape, left to the data: a graph
    exported for one input size whose layers do not depend on it runs at any size then."""
    graph = model.graph
    dims = graph.input[0].type.tensor_type.shape.dim
    for dim, name in zip(dims, ("batch", None, "height", "width"), strict=False):
        if name is not None:
            dim.ClearField("dim_value")
            dim.dim_param = name
    for out in graph.output:
        for k, dim in enumerate(out.type.tensor_type.shape.dim):
            dim.ClearField("dim_value")
            dim.dim_param = f"{out.name}_{k}"
    del graph.value_info[:]  # shapes inferred for the exported size would be wrong at others
    return model
