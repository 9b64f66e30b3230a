"""facesearch: accountable, offline face recognition.

Example:
    >>> from facesearch import Engine
    >>> result = Engine().verify("a.jpg", "b.jpg")
    >>> result.same, round(result.score, 3), result.fmr
"""

from facesearch.engine import Engine, ImageResult
from facesearch.errors import FacesearchError, ImageError, ModelError, NoFaceError
from facesearch.faces import Faces
from facesearch.images import LoadedImage, load_image

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
