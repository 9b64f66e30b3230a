"""Calibration: score -> FMR, thresholds for a target FMR, and the fused embedding's algebra."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from facesearch.calibration import (
    MAX_SCORE,
    Calibration,
    ScoreStats,
    TargetBeyondCalibration,
    fit_fmr,
    genuine_quantiles,
    load_calibrations,
)
from facesearch.engine import Engine
from facesearch.models.registry import BUILTIN_PROFILES, profile_flips


def synthetic(n: int = 200_000) -> Calibration:
    impostors = np.random.default_rng(0).normal(0.3, 0.1, n)
    grid, fmr, a, b = fit_fmr(impostors)
    return Calibration("x", ("m",), {"m": ScoreStats(0.3, 0.1)}, 0.6, grid, fmr, a, b, n)


def test_fmr_matches_the_impostor_distribution() -> None:
    cal = synthetic()
    from math import erfc, sqrt

    for score in (0.3, 0.5, 0.6):
        expected = 0.5 * erfc((score - 0.3) / 0.1 / sqrt(2))
        value, extrapolated = cal.fmr(score)
        assert not extrapolated
        assert value == pytest.approx(expected, rel=0.1)


def test_fmr_falls_with_score_and_is_extrapolated_past_the_data() -> None:
    cal = synthetic()
    scores = np.linspace(0, 1.2, 50)
    values = [cal.fmr(s)[0] for s in scores]
    assert all(a >= b for a, b in itertools.pairwise(values))
    assert cal.fmr(1.2)[1] is True and cal.fmr(1.2)[0] < cal.smallest_measured_fmr


def test_threshold_for_fmr_inverts_fmr() -> None:
    cal = synthetic()
    for target in (1e-2, 1e-3, 1e-4):
        t, extrapolated = cal.threshold_for_fmr(target)
        assert not extrapolated
        assert cal.fmr(t)[0] <= target * 1.05
        assert cal.fmr(t - 0.01)[0] > target
    assert cal.threshold_for_fmr(1e-9)[1] is True
    with pytest.raises(ValueError):
        cal.threshold_for_fmr(0)


def test_a_target_no_score_can_reach_is_refused_not_searched_silently() -> None:
    # A watchlist of a million at FPIR 1e-3 asks 1e-9 per comparison: with the dlib calibration the threshold
    # lies above any score, so a search would match nobody and say nothing. It is refused with the reason.
    cal = load_calibrations(None)["dlib"]
    reachable, _ = cal.operating_threshold(1e-3, subject="C1", advice="raise the FPIR")
    assert reachable == cal.threshold_for_fmr(1e-3)[0] <= MAX_SCORE
    assert cal.threshold_for_fmr(1e-12)[0] > MAX_SCORE
    with pytest.raises(TargetBeyondCalibration) as refused:
        cal.operating_threshold(1e-12, subject="C1", advice="raise the FPIR")
    message = str(refused.value)
    assert message.startswith("C1: a false match rate of 1e-12 per comparison is beyond the dlib calibration")
    assert "raise the FPIR" in message and "\n" not in message


def test_shipped_calibrations_cover_the_builtin_profiles() -> None:
    cals = load_calibrations(None)
    for profile, models in BUILTIN_PROFILES.items():
        cal = cals[profile]
        assert cal.models == models
        assert cal.flip == profile_flips(profile, models)
        assert cal.impostor_comparisons > 1_000_000
        # The operating point of verify (FMR 1e-3) is stricter than LFW's accuracy-optimal threshold.
        assert cal.threshold_for_fmr(1e-3)[0] > cal.threshold
        # What each operating point costs: LFW View 2's genuine pairs.
        assert cal.genuine_pairs >= 2900 and len(cal.genuine_quantiles) == 401
        assert 0 < cal.fnmr(cal.threshold_for_fmr(1e-3)[0]) < cal.fnmr(cal.threshold_for_fmr(1e-5)[0]) < 1  # type: ignore[operator]


def test_what_a_threshold_costs_in_false_non_matches_comes_from_the_genuine_pairs() -> None:
    genuine = np.random.default_rng(1).normal(0.8, 0.05, 3000)
    cal = synthetic()
    assert cal.fnmr(0.8) is None  # a calibration made before genuine scores were kept
    from dataclasses import replace

    cal = replace(cal, genuine_quantiles=genuine_quantiles(genuine), genuine_pairs=3000)
    for threshold in (0.7, 0.8, 0.85):
        assert cal.fnmr(threshold) == pytest.approx(float((genuine < threshold).mean()), abs=0.005)
    assert cal.fnmr(0.0) == 0.0 and cal.fnmr(2.0) == 1.0
    stricter = [cal.fnmr(cal.threshold_for_fmr(t)[0]) for t in (1e-2, 1e-3, 1e-4)]
    assert stricter == sorted(stricter)  # a smaller FMR costs more refusals of the right person
    again = Calibration.from_json(cal.to_json())
    assert again.genuine_pairs == 3000 and again.fnmr(0.8) == pytest.approx(cal.fnmr(0.8), abs=1e-5)


def test_the_engine_uses_the_calibration_made_for_its_profile(engine: Engine) -> None:
    assert engine.flips == (True, False)  # the mirror pass of MobileFaceNet does not pay inside the fusion
    assert engine.calibration is not None and engine.calibration.matches(engine.model_names, engine.flips)
    assert Engine("mobilefacenet").flips == (True,)


def test_fused_score_is_the_weighted_mean_of_the_models_cosines(engine: Engine, people: Path) -> None:
    images = [engine.load(people / "obama.jpg"), engine.load(people / "obama2.jpg")]
    faces = engine.detect(images)
    per_model, _ = engine.embed_per_model(images, faces)
    fused = engine.fuse(per_model)
    cosines = [float(e[0] @ e[1]) for e in per_model]
    assert float(fused[0] @ fused[1]) == pytest.approx(float(np.dot(engine.weights, cosines)), abs=1e-6)
    np.testing.assert_allclose(np.linalg.norm(fused, axis=1), 1.0, atol=1e-6)
