"""The evaluation report on small generated data: each section the data cannot support is replaced by its
note, never a traceback, and the page is still drawn (issue 14)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from facesearch.eval.report import Evidence, ReportSettings, _fitted, build_report
from facesearch.eval.report_html import render

SETTINGS = ReportSettings(rounds=50, watchlist_sizes=(3, 10))


def _data(sizes: list[int], dim: int = 16, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    person = np.repeat(np.arange(len(sizes)), sizes)
    centres = rng.normal(size=(len(sizes), dim))
    vectors = centres[person] + 0.5 * rng.normal(size=(len(person), dim))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    images = [f"P{p:03d}/P{p:03d}_{k:04d}.jpg" for p, n in enumerate(sizes) for k in range(1, n + 1)]
    return vectors, images


def _calibration() -> object:
    return _fitted(np.random.default_rng(1).normal(0, 0.2, 5000).astype(np.float32), "synthetic")


def _report(tmp_path: Path, sizes: list[int], *, folds: dict[str, int] | None = None, calibrated: bool = True,
            pair_images: list[str] | None = None) -> dict[str, object]:
    vectors, images = _data(sizes)
    report = build_report(Evidence("synthetic", "default", ("m",), "test"), vectors, images,
                          images if pair_images is None else pair_images, folds or {},
                          _calibration() if calibrated else None, SETTINGS)  # type: ignore[arg-type]
    data = report.to_json()
    assert render(data, tmp_path / "out").exists()  # the page is drawn whatever is missing
    return data


def test_everyone_with_two_or_more_photos_costs_only_the_full_watchlist_row(tmp_path: Path) -> None:
    data = _report(tmp_path, [3] * 12)
    ident = data["identification"]
    assert isinstance(ident, dict) and "rows" in ident  # smaller watchlists still have strangers
    assert [r["watchlist"] for r in ident["rows"]] == [3, 10] and "12 people: no stranger searches" in ident["note"]
    assert "thresholds" in data["one_to_one"]  # type: ignore[operator]


def test_no_stranger_at_any_size_is_a_note_not_a_traceback(tmp_path: Path) -> None:
    data = _report(tmp_path, [2, 2])
    assert "need at least one non-mated probe score" in data["identification"]["note"]  # type: ignore[index]


def test_no_person_with_two_photos_leaves_1n_out_with_its_note(tmp_path: Path) -> None:
    data = _report(tmp_path, [1] * 30)
    assert data["identification"] == {"note": "no person has two images: no mated searches"}
    one = data["one_to_one"]
    assert isinstance(one, dict) and ("thresholds" in one or "note" in one)


def test_without_a_pair_list_1to1_compares_every_pair_and_calibration_says_why_not(tmp_path: Path) -> None:
    data = _report(tmp_path, [3] * 12)
    one = data["one_to_one"]
    assert one["images"] == 36 and one["genuine"] == 12 * 3 and one["impostor"] == 36 * 35 // 2 - 36  # type: ignore[index]
    assert "no pair list (--pairs)" in data["calibration"]["note"]  # type: ignore[index]


def test_one_fold_and_too_few_impostors_are_notes(tmp_path: Path) -> None:
    _, images = _data([3] * 12)
    one_fold = _report(tmp_path, [3] * 12, folds=dict.fromkeys(images, 1))
    assert one_fold["calibration"] == {"note": "the pair list has one fold: nothing to hold out"}
    few = images[:6]  # two people: 9 impostor pairs, too few to fit a calibration on any fold
    tiny = _report(tmp_path, [3] * 12, folds={x: i % 2 for i, x in enumerate(few)}, pair_images=few)
    assert "calibration: not computed" in tiny["calibration"]["note"]  # type: ignore[index]
    assert any("calibration: not computed" in p for p in tiny["problems"])  # type: ignore[attr-defined]


def test_an_uncalibrated_profile_and_an_empty_pair_list_are_notes(tmp_path: Path) -> None:
    data = _report(tmp_path, [3] * 12, calibrated=False, pair_images=[])
    assert "no 1:1 section" in data["one_to_one"]["note"]  # type: ignore[index]
    assert "identification" not in data and any("not calibrated" in p for p in data["problems"])  # type: ignore[attr-defined]


@pytest.mark.parametrize("sizes", [[1], [2], [5]])
def test_a_single_person_still_gives_a_report(tmp_path: Path, sizes: list[int]) -> None:
    data = _report(tmp_path, sizes)
    for name in ("one_to_one", "calibration", "identification"):
        assert isinstance(data[name], dict), name
