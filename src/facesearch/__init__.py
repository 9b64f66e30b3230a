"""facesearch: accountable, offline face recognition.

Example:
    >>> from facesearch import Engine
    >>> result = Engine().verify("a.jpg", "b.jpg")
    >>> result.same, round(result.score, 3), result.fmr

The names below load on first use (PEP 562), so that importing any part of facesearch (the CLI listing
cases, say) does not first load the models' runtimes (ONNX Runtime, OpenCV).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from facesearch.errors import FacesearchError, ImageError, ModelError, NoFaceError

if TYPE_CHECKING:
    from facesearch.engine import Engine, ImageResult
    from facesearch.faces import Faces
    from facesearch.images import LoadedImage, load_image

_LAZY = {"Engine": "facesearch.engine", "ImageResult": "facesearch.engine", "Faces": "facesearch.faces",
         "LoadedImage": "facesearch.images", "load_image": "facesearch.images"}

__all__ = [
    "Engine",
    "Faces",
    "FacesearchError",
    "ImageError",
    "ImageResult",
    "LoadedImage",
    "ModelError",
    "NoFaceError",
    "load_image",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'facesearch' has no attribute {name!r}")
