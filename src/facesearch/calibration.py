"""Score calibration: z-norm statistics for fusion, the decision threshold, and score -> FMR.

A calibration is measured on LFW's pairs by ``facesearch eval lfw --save-calibration`` and shipped for
the built-in profiles in ``facesearch/data/calibration.json``; registered models get theirs in
``<home>/calibration.json``.

Fusion: each recognizer's cosine is z-normalised with its impostor mean and standard deviation, and
the z-scores are averaged. Because a z-score is affine in the cosine, the average is an increasing
affine function of ``sum_i c_i / std_i``, which is the cosine of the concatenated embeddings when each
model's unit vector is weighted by ``sqrt(1 / std_i)``. So a fused face has *one* unit-length embedding,
comparable by a plain inner product (and searchable in one vector index), and the fused score is that
inner product.

FMR: the fraction of impostor comparisons scoring at or above a score. Beyond the highest impostor
scores measured, the tail is extrapolated from an exponential fit to the top of the impostor
distribution, and marked as extrapolated.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesearch.errors import ModelError, RefusedError


@dataclass(frozen=True)
class ScoreStats:
    """Impostor cosine statistics of one recognizer."""

    mean: float
    std: float


class TargetBeyondCalibration(RefusedError):
    """A false match rate smaller than any score can promise under this calibration."""


MAX_SCORE = 1.0  # a score is the inner product of two unit-length embeddings: no threshold above it means anything
FEW_PAIRS = 10  # a rate resting on fewer measured impostor pairs than this is uncertain by a third or more


@dataclass(frozen=True)
class ThresholdSupport:
    """A threshold for a target FMR and what it rests on: ``impostor_pairs`` of the measured impostor
    comparisons score at or above it (0 when extrapolated); ``reachable`` is False when the threshold lies
    above ``MAX_SCORE``, i.e. the target is beyond anything the calibration's data can support."""

    threshold: float
    extrapolated: bool
    impostor_pairs: int
    measured: int
    reachable: bool

    @property
    def few(self) -> bool:
        return self.impostor_pairs < FEW_PAIRS


@dataclass(frozen=True)
class Calibration:
    profile: str
    models: tuple[str, ...]
    znorm: dict[str, ScoreStats]
    threshold: float  # the fused-cosine threshold that best separates LFW's pairs
    fmr_scores: tuple[float, ...]  # increasing scores ...
    fmr_values: tuple[float, ...]  # ... and the FMR at each (decreasing)
    tail_intercept: float  # log10 FMR = intercept + slope * score, above the measured range
    tail_slope: float
    impostor_comparisons: int
    dataset: str = "LFW"
    created: str = ""
    notes: dict[str, str] = field(default_factory=dict)
    flip: tuple[bool, ...] = ()  # whether each model embedded the mirror image too
    # The genuine (same-person) pairs' scores, as GENUINE_QUANTILES evenly spaced quantiles: what a threshold costs
    # in false non-matches. Empty in calibrations made before they were kept.
    genuine_quantiles: tuple[float, ...] = ()
    genuine_pairs: int = 0

    def matches(self, models: tuple[str, ...], flip: tuple[bool, ...]) -> bool:
        """Was this calibration measured with these recognizers, run this way?"""
        return self.models == models and self.flip == flip

    @property
    def smallest_measured_fmr(self) -> float:
        return 1.0 / max(self.impostor_comparisons, 1)

    def weights(self) -> NDArray[np.float64]:
        """Per-model weights ``1 / std`` of the fused cosine (sum to 1)."""
        return fusion_weights([self.znorm[m] for m in self.models])

    def fmr(self, score: float) -> tuple[float, bool]:
        """The false match rate at ``score`` and whether it was extrapolated beyond the measured data."""
        scores = np.asarray(self.fmr_scores)
        if score <= scores[-1]:
            return float(np.interp(score, scores, np.asarray(self.fmr_values))), False
        value = 10 ** (self.tail_intercept + self.tail_slope * score)
        return float(min(value, self.fmr_values[-1])), True

    def fnmr(self, threshold: float) -> float | None:
        """The share of the calibration's genuine pairs scoring under ``threshold`` (refused at it); None when the
        calibration holds no genuine scores."""
        if not self.genuine_quantiles:
            return None
        quantiles = np.asarray(self.genuine_quantiles)
        shares = np.linspace(0.0, 1.0, len(quantiles))
        return float(np.interp(threshold, quantiles, shares, left=0.0, right=1.0))

    def threshold_for_fmr(self, target: float) -> tuple[float, bool]:
        """The lowest score whose FMR is at most ``target`` (extrapolated below the measured range)."""
        if target <= 0:
            raise ValueError("target FMR must be positive")
        values = np.asarray(self.fmr_values)
        if target >= self.smallest_measured_fmr and target >= values[-1]:
            idx = int(np.argmax(values <= target))
            return float(self.fmr_scores[idx]), False
        return float((math.log10(target) - self.tail_intercept) / self.tail_slope), True

    def operating_threshold(self, target: float, *, subject: str, advice: str) -> tuple[float, bool]:
        """``threshold_for_fmr(target)`` for a search or comparison that acts on it. A target whose threshold
        lies above ``MAX_SCORE`` would match nothing without saying so (no score reaches it), so it is refused,
        naming the smallest rate this calibration reaches and ``advice`` (what the caller can change)."""
        value, extrapolated = self.threshold_for_fmr(target)
        if value > MAX_SCORE:
            raise TargetBeyondCalibration(subject, f"a false match rate of {target:.2g} per comparison is beyond the "
                                          f"{self.profile} calibration (its smallest, at a perfect score, is "
                                          f"{self.smallest_supported_fmr():.2g}): {advice}")
        return value, extrapolated

    def support(self, target: float) -> ThresholdSupport:
        """``threshold_for_fmr(target)`` with what it rests on (see ``ThresholdSupport``)."""
        value, extrapolated = self.threshold_for_fmr(target)
        n = self.impostor_comparisons
        pairs = 0 if extrapolated else round(self.fmr(value)[0] * n)
        return ThresholdSupport(value, extrapolated, pairs, n, value <= MAX_SCORE)

    def smallest_supported_fmr(self) -> float:
        """The FMR at the highest possible score (extrapolated): no smaller target has a threshold."""
        return self.fmr(MAX_SCORE)[0]

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["models"] = list(self.models)
        d["flip"] = list(self.flip)
        d["fmr_scores"] = [round(x, 6) for x in self.fmr_scores]
        d["fmr_values"] = [float(f"{x:.6g}") for x in self.fmr_values]
        d["genuine_quantiles"] = [round(x, 6) for x in self.genuine_quantiles]
        return d

    @classmethod
    def from_json(cls, data: dict[str, object]) -> Calibration:
        d = dict(data)
        d["models"] = tuple(d["models"])  # type: ignore[arg-type]
        d["znorm"] = {k: ScoreStats(**v) for k, v in d["znorm"].items()}  # type: ignore[attr-defined]
        d["fmr_scores"] = tuple(d["fmr_scores"])  # type: ignore[arg-type]
        d["fmr_values"] = tuple(d["fmr_values"])  # type: ignore[arg-type]
        d["flip"] = tuple(d.get("flip", ()))  # type: ignore[arg-type]
        d["genuine_quantiles"] = tuple(d.get("genuine_quantiles", ()))  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


@dataclass(frozen=True)
class WorstOf(Calibration):
    """Several populations' calibrations (a site's groups, and all of it) as one: at every score the highest
    FMR of any, so that a threshold chosen for a target holds for every group (the worst group's threshold).
    The fields of ``Calibration`` are the whole population's (its weights, its genuine pairs)."""

    parts: tuple[Calibration, ...] = ()

    def fmr(self, score: float) -> tuple[float, bool]:
        found = [Calibration.fmr(self, score), *(p.fmr(score) for p in self.parts)]
        value, extrapolated = max(found, key=lambda f: f[0])
        return value, extrapolated

    def threshold_for_fmr(self, target: float) -> tuple[float, bool]:
        found = [Calibration.threshold_for_fmr(self, target), *(p.threshold_for_fmr(target) for p in self.parts)]
        return max(found, key=lambda f: f[0])


GENUINE_QUANTILES = 401  # every quarter of a percent of the genuine pairs


def genuine_quantiles(scores: NDArray[np.float64]) -> tuple[float, ...]:
    """``GENUINE_QUANTILES`` evenly spaced quantiles of genuine pairs' scores (``Calibration.genuine_quantiles``)."""
    if len(scores) == 0:
        return ()
    return tuple(float(v) for v in np.quantile(np.asarray(scores, np.float64), np.linspace(0, 1, GENUINE_QUANTILES)))


def fusion_weights(stats: list[ScoreStats]) -> NDArray[np.float64]:
    w = np.array([1.0 / max(s.std, 1e-6) for s in stats])
    return w / w.sum()


def fit_fmr(
    impostor: NDArray[np.floating], points: int = 400
) -> tuple[tuple[float, ...], tuple[float, ...], float, float]:
    """Empirical FMR curve on a grid of scores, and an exponential tail fit to the top 1% of impostors."""
    imp = np.sort(np.asarray(impostor, np.float64))
    n = len(imp)
    if n < 10:
        raise ValueError(f"too few impostor scores to calibrate ({n})")
    # Grid: quantiles of the impostor scores, denser in the upper tail where decisions are made.
    qs = 1 - np.logspace(0, -math.log10(n), points)
    grid = np.unique(np.quantile(imp, np.clip(qs, 0, 1)))
    fmr = 1 - np.searchsorted(imp, grid, side="left") / n
    top = imp[-max(20, n // 100):]
    tail_fmr = 1 - np.searchsorted(imp, top, side="left") / n
    slope, intercept = np.polyfit(top, np.log10(np.maximum(tail_fmr, 1.0 / n)), 1)
    if slope >= 0:  # a degenerate tail; fall back to a steep decline past the data
        slope, intercept = -20.0, math.log10(1.0 / n) + 20.0 * float(imp[-1])
    return tuple(grid.tolist()), tuple(fmr.tolist()), float(intercept), float(slope)


_PACKAGED = "calibration.json"


def _read(path_or_text: str) -> dict[str, dict[str, object]]:
    data = json.loads(path_or_text)
    if not isinstance(data, dict):
        raise ValueError("calibration file must hold a JSON object")
    return data


def load_calibrations(home: Path | None) -> dict[str, Calibration]:
    """Calibrations of every profile: the packaged ones, overridden by ``<home>/calibration.json``."""
    found: dict[str, Calibration] = {}
    packaged = resources.files("facesearch.data").joinpath(_PACKAGED)
    if packaged.is_file():
        for name, raw in _read(packaged.read_text()).items():
            found[name] = Calibration.from_json(raw)
    if home is not None and (home / _PACKAGED).is_file():
        path = home / _PACKAGED
        try:
            for name, raw in _read(path.read_text()).items():
                found[name] = Calibration.from_json(raw)
        except (ValueError, KeyError, TypeError) as exc:
            raise ModelError(str(path), f"unreadable calibration ({exc})") from None
    return found


def save_calibration(path: Path, calibration: Calibration) -> None:
    from facesearch.files import atomic_write

    data: dict[str, object] = dict(_read(path.read_text())) if path.is_file() else {}
    data[calibration.profile] = calibration.to_json()
    atomic_write(path, (json.dumps(data, indent=1) + "\n").encode())
