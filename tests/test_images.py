"""Every kind of bad and exotic input: one clear line naming the file and the reason, never a traceback."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from facesearch.errors import ImageError
from facesearch.images import list_images, load_image


def _png_bomb(path: Path, side: int = 30000) -> None:
    """A real decompression bomb: a 30000x30000 greyscale PNG of zeros, under 1 MB on disk."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    comp = zlib.compressobj(9)
    row = b"\x00" * (side + 1)
    idat = b"".join(comp.compress(row) for _ in range(side)) + comp.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def _jpeg_bytes(img: Image.Image, **kw: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="JPEG", **kw)
    return buf.getvalue()


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad")
    files = {}
    files["empty"] = d / "empty.jpg"
    files["empty"].write_bytes(b"")
    good = _jpeg_bytes(Image.new("RGB", (64, 64), (120, 80, 60)))
    files["truncated"] = d / "truncated.jpg"
    files["truncated"].write_bytes(good[: len(good) // 2])
    files["text"] = d / "notes.jpg"
    files["text"].write_text("this is not an image\n")
    files["bomb"] = d / "bomb.png"
    _png_bomb(files["bomb"])
    files["missing"] = d / "missing.jpg"
    files["directory"] = d / "folder.jpg"
    files["directory"].mkdir()
    return files


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("empty", "empty file (0 bytes)"),
        ("truncated", "truncated"),
        ("text", "not an image"),
        ("bomb", "decompression bomb"),
        ("missing", "no such file"),
        ("directory", "is a directory"),
    ],
)
def test_bad_files_give_one_line_naming_the_file(bad_files: dict[str, Path], kind: str, reason: str) -> None:
    path = bad_files[kind]
    with pytest.raises(ImageError) as info:
        load_image(path)
    message = str(info.value)
    assert message.startswith(str(path) + ": ")
    assert reason in message
    assert "\n" not in message


def test_bomb_is_refused_before_decoding(bad_files: dict[str, Path]) -> None:
    import resource

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with pytest.raises(ImageError, match="30000x30000"):
        load_image(bad_files["bomb"])
    # Decoding would have needed 900 MB; the refusal must not have allocated anything like it.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 200_000  # KiB


def test_wrongly_named_file_is_read_by_its_content(tmp_path: Path) -> None:
    path = tmp_path / "photo.jpg"
    Image.new("RGB", (40, 30), (10, 200, 30)).save(path, format="PNG")
    img = load_image(path)
    assert img.size == (30, 40)
    assert tuple(img.pixels[0, 0]) == (10, 200, 30)


@pytest.mark.parametrize(
    ("mode", "fmt", "value", "expected"),
    [
        ("L", "PNG", 77, (77, 77, 77)),
        ("RGBA", "PNG", (255, 0, 0, 255), (255, 0, 0)),
        ("RGBA", "PNG", (255, 0, 0, 0), (255, 255, 255)),  # fully transparent shows as white
        ("LA", "PNG", (50, 255), (50, 50, 50)),
        ("P", "GIF", 3, None),
        ("CMYK", "JPEG", (0, 255, 255, 0), (255, 0, 0)),
        ("RGB", "WEBP", (0, 0, 255), (0, 0, 255)),
        ("RGB", "BMP", (1, 2, 3), (1, 2, 3)),
        ("RGB", "TIFF", (9, 8, 7), (9, 8, 7)),
    ],
)
def test_exotic_modes_become_rgb(
    tmp_path: Path, mode: str, fmt: str, value: object, expected: tuple[int, ...] | None
) -> None:
    path = tmp_path / f"img.{fmt.lower()}"
    Image.new(mode, (16, 12), value).save(path, format=fmt)  # type: ignore[arg-type]
    img = load_image(path)
    assert img.pixels.shape == (12, 16, 3) and img.pixels.dtype == np.uint8
    if expected is not None:
        assert np.abs(img.pixels[6, 8].astype(int) - expected).max() <= 3


def test_sixteen_bit_greyscale_is_scaled_not_clipped(tmp_path: Path) -> None:
    arr = np.full((10, 10), 40000, np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(arr).save(path)
    assert load_image(path).pixels[0, 0, 0] == 40000 >> 8


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = Image.new("RGB", (60, 20), (0, 0, 0))
    img.paste((255, 255, 255), (0, 0, 10, 20))  # white band at the stored image's left
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "rotated.jpg"
    path.write_bytes(_jpeg_bytes(img, exif=exif.tobytes(), quality=95))
    loaded = load_image(path)
    assert loaded.size == (60, 20)  # displayed upright: 20 wide, 60 high
    assert loaded.pixels[:10, :, 0].mean() > 200  # the band is now at the top


def test_arrays_need_their_channel_order() -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0] = 255  # blue in BGR
    with pytest.raises(ImageError, match="channel order"):
        load_image(bgr)
    assert tuple(load_image(bgr, channels="bgr").pixels[0, 0]) == (0, 0, 255)
    assert tuple(load_image(bgr, channels="rgb").pixels[0, 0]) == (255, 0, 0)
    assert load_image(np.full((3, 3), 9, np.uint8)).pixels.shape == (3, 3, 3)
    with pytest.raises(ImageError, match="shape"):
        load_image(np.zeros((2, 2, 2), np.uint8))


def test_bytes_and_pil_inputs() -> None:
    data = _jpeg_bytes(Image.new("RGB", (8, 8), (200, 100, 50)), quality=100)
    assert load_image(data).size == (8, 8)
    assert load_image(Image.new("L", (5, 7))).size == (7, 5)
    with pytest.raises(ImageError, match="empty"):
        load_image(b"")


def test_folder_listing_survives_symlink_loops(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    Image.new("RGB", (4, 4)).save(tmp_path / "a" / "x.png")
    (tmp_path / "a" / "loop").symlink_to(tmp_path / "a")
    (tmp_path / "a" / "readme.txt").write_text("not listed")
    found = list_images([tmp_path])
    assert [p.name for p in found] == ["x.png"]


def test_forty_eight_bit_colour_png_is_scaled(tmp_path: Path) -> None:
    import cv2

    bgr = np.zeros((10, 12, 3), np.uint16)
    bgr[..., 2] = 60000  # red, in OpenCV's BGR order
    path = tmp_path / "deep.png"
    cv2.imwrite(str(path), bgr)
    assert tuple(load_image(path).pixels[0, 0]) == (60000 >> 8, 0, 0)


@pytest.mark.parametrize("suffix", [".heic", ".avif"])
def test_phone_formats(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"photo{suffix}"
    Image.new("RGB", (32, 24), (200, 10, 10)).save(path)
    pixels = load_image(path).pixels
    assert pixels.shape == (24, 32, 3) and abs(int(pixels[12, 16, 0]) - 200) < 10


def test_animation_gives_its_first_frame(tmp_path: Path) -> None:
    frames = [Image.new("RGB", (8, 8), c) for c in [(255, 0, 0), (0, 255, 0)]]
    path = tmp_path / "anim.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    assert tuple(load_image(path).pixels[0, 0]) == (255, 0, 0)
