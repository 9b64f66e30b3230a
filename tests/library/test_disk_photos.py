"""Telling copies from new photos: the difference hash finds candidates, the pictures decide."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter

from facesearch.library.disk_photos import NEAR_COPY_BITS, difference_hash, near_copies, same_picture


def test_photos_of_different_people_that_hash_alike_are_not_copies(lfw: Path) -> None:
    # Centred faces make look-alike hashes: these two are 3 bits apart, yet different photos.
    a, b = lfw / "Bill_Clinton" / "Bill_Clinton_0002.jpg", lfw / "Andy_Rooney" / "Andy_Rooney_0001.jpg"
    ha, hb = difference_hash(str(a)), difference_hash(str(b))
    assert ha is not None and hb is not None and bin(ha ^ hb).count("1") <= NEAR_COPY_BITS
    assert near_copies(ha, np.array([hb], np.uint64)) == [0]
    assert not same_picture(str(a), str(b))
    # LFW files one photograph under two names: a copy, although the crops differ a little.
    assert same_picture(str(lfw / "Andrew_Gilligan" / "Andrew_Gilligan_0001.jpg"),
                        str(lfw / "Andrew_Caldecott" / "Andrew_Caldecott_0001.jpg"))


def test_re_encoded_resized_and_blurred_copies_are_copies(lfw: Path, tmp_path: Path) -> None:
    source = lfw / "Tony_Blair" / "Tony_Blair_0002.jpg"
    with Image.open(source) as image:
        variants = {"q30.jpg": (image, 30), "small.png": (image.resize((70, 70)), None),
                    "blurred.jpg": (image.filter(ImageFilter.GaussianBlur(3)), 90)}
        for name, (picture, quality) in variants.items():
            buffer = io.BytesIO()
            picture.save(buffer, format="PNG" if quality is None else "JPEG", **({"quality": quality} if quality
                                                                                 else {}))
            (tmp_path / name).write_bytes(buffer.getvalue())
    for name in variants:
        copy = str(tmp_path / name)
        assert near_copies(difference_hash(copy) or 0, np.array([difference_hash(str(source))], np.uint64)) == [0]
        assert same_picture(copy, str(source)), name
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    assert difference_hash(str(tmp_path / "broken.jpg")) is None
    assert not same_picture(str(tmp_path / "broken.jpg"), str(source))
