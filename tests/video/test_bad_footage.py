"""Damaged, truncated, unreadable and undecodable footage: each reported in one line, the rest searched."""

from __future__ import annotations

import json
from pathlib import Path

import av
import numpy as np
import pytest

from facesearch.video.source import VideoError, VideoReader
from owned_keys import run_as as run


def write_video(path: Path, frames: int = 60, codec: str = "mpeg4") -> Path:
    """A small generated clip: a bright bar moving across a dark frame."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=30)
        stream.width, stream.height, stream.pix_fmt = 160, 120, "yuv420p"
        for i in range(frames):
            img = np.zeros((120, 160, 3), np.uint8)
            img[:, (2 * i) % 140 : (2 * i) % 140 + 20] = 255
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def test_a_whole_file_is_read_with_times_from_its_first_frame(tmp_path: Path) -> None:
    with VideoReader(write_video(tmp_path / "ok.mkv")) as reader:
        frames = list(reader.frames())
    assert len(frames) == 60 and reader.problem is None
    assert frames[0].seconds == 0.0 and abs(frames[-1].seconds - 59 / 30) < 1e-3  # Matroska counts in ms
    with VideoReader(tmp_path / "ok.mkv", fps=10) as sampled:
        assert len(list(sampled.frames())) == 20  # every third frame


def test_a_truncated_file_is_read_up_to_the_cut_and_says_so(tmp_path: Path) -> None:
    data = write_video(tmp_path / "whole.mkv").read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[: len(data) // 2])
    with VideoReader(cut) as reader:
        frames = list(reader.frames())
    assert 5 < len(frames) < 60
    assert reader.problem is not None and "truncated or damaged" in reader.problem


def test_damage_in_the_middle_stops_there_and_keeps_what_came_before(tmp_path: Path, video: Path) -> None:
    data = bytearray((video / "short_hamilton_clip.mp4").read_bytes())
    middle = len(data) // 2
    data[middle : middle + 30_000] = np.random.default_rng(0).integers(0, 256, 30_000, dtype=np.uint8).tobytes()
    damaged = tmp_path / "damaged.mp4"
    damaged.write_bytes(bytes(data))
    with VideoReader(damaged) as reader:
        frames = list(reader.frames())
    assert 50 < len(frames) < 275 and reader.problem is not None and "damaged after frame" in reader.problem


@pytest.mark.parametrize("kind", ["garbage", "unknown codec", "missing", "no index"])
def test_unreadable_footage_is_one_clear_error(tmp_path: Path, video: Path, kind: str) -> None:
    path = tmp_path / "bad.avi"
    if kind == "garbage":
        path.write_bytes(b"\x00" * 4096)
        expected = "cannot be read as a video"
    elif kind == "unknown codec":  # an AVI whose FourCC no decoder knows
        good = write_video(tmp_path / "good.avi", frames=10).read_bytes()
        path.write_bytes(good.replace(b"FMP4", b"ZZZZ"))
        expected = "unsupported video codec"
    elif kind == "no index":  # an MP4 cut before its index (moov atom)
        path = tmp_path / "cut.mp4"
        clip = (video / "short_hamilton_clip.mp4").read_bytes()
        path.write_bytes(clip[: len(clip) // 2])
        expected = "truncated before its index"
    else:
        path = tmp_path / "nowhere.mp4"
        expected = "no such file"
    with pytest.raises(VideoError, match=expected) as error:
        VideoReader(path)
    assert str(error.value).startswith(str(path)) and "\n" not in str(error.value)


def test_scan_reports_each_bad_file_and_searches_the_rest(hamilton_case: Path, video: Path, tmp_path: Path) -> None:
    folder = tmp_path / "recordings"
    folder.mkdir()
    (folder / "a_garbage.mp4").write_bytes(b"\x00" * 4096)
    clip = (video / "short_hamilton_clip.mp4").read_bytes()
    (folder / "b_cut.mp4").write_bytes(clip[: len(clip) // 2])
    good = write_video(tmp_path / "good.avi", frames=10).read_bytes()
    (folder / "c_codec.avi").write_bytes(good.replace(b"FMP4", b"ZZZZ"))
    write_video(folder / "d_truncated.mkv")
    data = (folder / "d_truncated.mkv").read_bytes()
    (folder / "d_truncated.mkv").write_bytes(data[: len(data) // 2])
    (folder / "e_carphone.mp4").write_bytes((video / "carphone_pristine.mp4").read_bytes())
    (folder / "notes.txt").write_text("not a video")  # not a video name: not listed

    out = run(hamilton_case, "scan", str(folder), "--case", "C1", "--camera", "cam-1", "--json")
    assert out.returncode == 3, out.stderr  # partial: some files failed, the rest were searched
    files = {Path(f["path"]).name: f for f in json.loads(out.stdout)["files"]}
    assert sorted(files) == ["a_garbage.mp4", "b_cut.mp4", "c_codec.avi", "d_truncated.mkv", "e_carphone.mp4"]
    assert files["a_garbage.mp4"]["status"] == files["b_cut.mp4"]["status"] == "failed"
    assert "unsupported video codec" in files["c_codec.avi"]["problem"]
    assert files["d_truncated.mkv"]["status"] == "scanned" and "truncated" in files["d_truncated.mkv"]["problem"]
    assert files["e_carphone.mp4"]["status"] == "scanned" and files["e_carphone.mp4"]["frames"] == 120

    text = run(hamilton_case, "scan", str(folder), "--case", "C1", "--camera", "cam-1")
    assert text.returncode == 3
    warnings = [ln for ln in text.stderr.splitlines() if ln.startswith("warning:")]
    assert len(warnings) == 3 and all(str(folder) in ln for ln in warnings)  # one line per unreadable file
    assert "e_carphone.mp4: done before, skipped" in text.stdout
