"""The command line as a user runs it: real processes, real files, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

CLI = [sys.executable, "-m", "facesearch.cli"]


def run(*args: str, env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=timeout, env=full_env, check=False)


def test_verify_exit_codes_and_json(people: Path) -> None:
    same = run("verify", str(people / "obama.jpg"), str(people / "obama2.jpg"), "--json")
    assert same.returncode == 0, same.stderr
    result = json.loads(same.stdout)
    assert result["same"] is True and set(result) >= {"same", "score", "fmr", "threshold", "faces"}
    assert result["fmr"] < 1e-3
    different = run("verify", str(people / "obama.jpg"), str(people / "biden.jpg"))
    assert different.returncode == 1
    assert "different people" in different.stdout and "false match rate" in different.stdout


def test_verify_refuses_a_target_fmr_no_score_reaches(people: Path) -> None:
    refused = run("verify", str(people / "obama.jpg"), str(people / "obama2.jpg"), "--fmr", "1e-15")
    assert refused.returncode == 2
    assert refused.stderr.strip().count("\n") == 0
    assert "beyond the default calibration" in refused.stderr and "choose a larger target FMR" in refused.stderr


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [("empty.jpg", b"", "empty file"), ("notes.png", b"hello, world\n", "not an image")],
)
def test_verify_bad_input_is_one_line(tmp_path: Path, people: Path, name: str, content: bytes, reason: str) -> None:
    bad = tmp_path / name
    bad.write_bytes(content)
    out = run("verify", str(bad), str(people / "obama.jpg"))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(bad) in lines[0] and reason in lines[0]
    assert "Traceback" not in out.stderr


def test_embed_a_thousand_files_with_ten_bad_ones(tmp_path: Path, lfw: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    rng = np.random.default_rng(0)
    real = sorted(lfw.glob("B*/*_0001.jpg"))[:10]
    for p in real:
        shutil.copy(p, folder / p.name)
    for i in range(980):  # small pictures with no face in them
        Image.fromarray(rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)).save(folder / f"noise_{i:04d}.png")
    bad = {
        "zero.jpg": b"",
        "text.jpg": b"not an image at all",
        "truncated.jpg": real[0].read_bytes()[:2000],
        "half.png": (folder / "noise_0000.png").read_bytes()[:60],
        "html.png": b"<html><body>404</body></html>",
        "random.jpeg": rng.integers(0, 255, 500, dtype=np.uint8).tobytes(),
        "pdf.tif": b"%PDF-1.4\n%\xe2\xe3\n",
        "header_only.gif": b"GIF89a",
        "zip.bmp": b"PK\x03\x04" + b"\x00" * 30,
        "bad_jpeg.jpg": b"\xff\xd8\xff\xe0" + b"\x00" * 50,
    }
    for name, data in bad.items():
        (folder / name).write_bytes(data)
    assert len(list(folder.iterdir())) == 1000
    out_file = tmp_path / "faces.parquet"
    out = run("embed", str(folder), "--out", str(out_file), "--json")
    assert out.returncode == 3, out.stderr  # partial
    summary = json.loads(out.stdout)
    assert summary["files"] == 1000 and summary["images"] == 990 and summary["failed"] == 10
    for name in bad:
        assert any(name in e for e in summary["errors"]), name
    table = pq.read_table(out_file)
    sources = set(table.column("source").to_pylist())
    assert {str(folder / p.name) for p in real} <= sources
    emb = np.array(table.column("embedding").to_pylist(), np.float32)
    assert emb.shape[1] == 320
    np.testing.assert_allclose(np.linalg.norm(emb, axis=1), 1.0, atol=1e-5)


def test_doctor_reports_models_checksums_and_providers() -> None:
    out = run("doctor", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    names = [m["name"] for m in report["models"]]
    assert names == ["retinaface-mnet025", "yunet-2023mar", "dlib-resnet", "mobilefacenet"]
    assert [m["task"] for m in report["models"]][:2] == ["detector", "video detector"]
    assert report["video_search"] == {"detector": "yunet", "smallest_face_px": 24.0}
    for m in report["models"]:
        assert len(m["sha256"]) == 64 and m["providers"] == ["CPUExecutionProvider"]
        assert m["license"] and m["training_data"]
    assert report["calibration"]["threshold"] > 0


def test_damaged_model_file_is_caught(tmp_path: Path) -> None:
    from facesearch.models.builtin import model_store
    from facesearch.models.registry import DLIB_RESNET

    store = model_store(tmp_path)
    path = store.ensure(DLIB_RESNET)  # converts from the installed package
    with path.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    from facesearch.errors import ModelError

    with pytest.raises(ModelError, match="sha256"):
        store.ensure(DLIB_RESNET)


def test_embed_killed_midway_leaves_the_previous_output_intact(tmp_path: Path, lfw: Path) -> None:
    import signal
    import time

    out_file = tmp_path / "faces.parquet"
    out_file.write_bytes(b"previous results")
    files = [str(p) for p in sorted(lfw.glob("C*/*.jpg"))[:400]]
    proc = subprocess.Popen([*CLI, "embed", *files, "--out", str(out_file)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    partial = tmp_path / ".faces.parquet.partial"
    deadline = time.monotonic() + 120
    while not partial.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, "embed finished before it could be interrupted"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    # The result file is replaced only by a complete run (write to a side file, then rename).
    assert out_file.read_bytes() == b"previous results"
