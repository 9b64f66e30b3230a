"""1:1 error rates over every pair of a set of images, with confidence intervals by bootstrap over people.

Pairs of images are not independent: one person's photos take part in thousands of comparisons. So
intervals come from resampling *people* with replacement (each resample keeps a person's every
comparison, counted as many times as the person was drawn), not pairs.

Comparisons are every genuine pair (two images of one person) and every impostor pair (two people).
For the bootstrap, an impostor pair of people ``a`` and ``b`` weighs ``c_a * c_b`` when they were drawn
``c_a`` and ``c_b`` times. The total weight has a closed form, so only the impostor pairs that score
high enough to matter (``keep_from``) are kept with their people: a few hundred thousand, not tens of
millions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

RULE_OF_30 = 30  # fewest errors for an observed rate to be within about +-30% (90% confidence)


@dataclass(frozen=True)
class Comparisons:
    """Every genuine and impostor score among a set of images, and who took part in them."""

    genuine: NDArray[np.float32]
    genuine_person: NDArray[np.int64]
    impostor: NDArray[np.float32]  # every impostor score, ascending (for distributions and thresholds)
    high: NDArray[np.float32]  # impostor scores >= keep_from ...
    high_a: NDArray[np.int64]  # ... and the two people of each
    high_b: NDArray[np.int64]
    keep_from: float
    images_per_person: NDArray[np.int64]

    @property
    def people(self) -> int:
        return int((self.images_per_person > 0).sum())


def compare_all(vectors: NDArray[np.float32], person: NDArray[np.int64], *, keep_from: float,
                block: int = 1024) -> Comparisons:
    """Score every pair of rows of ``vectors`` (unit embeddings); ``person`` numbers each row's person."""
    n = len(vectors)
    people = int(person.max()) + 1 if n else 0
    genuine, g_person, impostor, high, ha, hb = [], [], [], [], [], []
    for start in range(0, n, block):
        stop = min(start + block, n)
        sims = vectors[start:stop] @ vectors.T
        rows = np.arange(start, stop)[:, None]
        upper = np.arange(n)[None, :] > rows
        same = person[start:stop][:, None] == person[None, :]
        genuine.append(sims[upper & same])
        g_person.append(np.broadcast_to(person[start:stop][:, None], sims.shape)[upper & same])
        different = upper & ~same
        impostor.append(sims[different])
        hot = different & (sims >= keep_from)
        r, c = np.nonzero(hot)
        high.append(sims[r, c])
        ha.append(person[start + r])
        hb.append(person[c])

    def cat(parts: list[NDArray[Any]], dtype: type) -> NDArray[Any]:
        return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)

    return Comparisons(cat(genuine, np.float32), cat(g_person, np.int64), np.sort(cat(impostor, np.float32)),
                       cat(high, np.float32), cat(ha, np.int64), cat(hb, np.int64), keep_from,
                       np.bincount(person, minlength=people).astype(np.int64))


@dataclass(frozen=True)
class Rate:
    """An observed error rate, its 95% interval, and the errors and trials it rests on."""

    value: float
    low: float
    high: float
    errors: int
    trials: int

    @property
    def resolved(self) -> bool:
        return self.errors >= RULE_OF_30

    def to_json(self) -> dict[str, object]:
        return {"value": self.value, "ci95": [self.low, self.high], "errors": self.errors, "trials": self.trials,
                "resolved": self.resolved}


def resample_people(people: int, rounds: int, seed: int = 0) -> NDArray[np.int64]:
    """``(rounds, people)``: how many times each person is drawn in each bootstrap resample."""
    rng = np.random.default_rng(seed)
    return rng.multinomial(people, np.full(people, 1.0 / people), size=rounds).astype(np.int64)


def fnmr(c: Comparisons, threshold: float, draws: NDArray[np.int64]) -> Rate:
    misses = c.genuine < threshold
    people = len(c.images_per_person)
    per_misses = np.bincount(c.genuine_person[misses], minlength=people)
    per_pairs = np.bincount(c.genuine_person, minlength=people)
    value = float(misses.mean()) if len(misses) else float("nan")
    boot = (draws @ per_misses) / np.maximum(draws @ per_pairs, 1)
    return Rate(value, *_interval(boot), int(misses.sum()), len(misses))


def fmr(c: Comparisons, threshold: float, draws: NDArray[np.int64]) -> Rate:
    if threshold < c.keep_from:
        raise ValueError(f"threshold {threshold:.4f} is below the scores kept ({c.keep_from:.4f})")
    hits = c.high >= threshold
    value = float(hits.sum() / len(c.impostor)) if len(c.impostor) else float("nan")
    a, b = c.high_a[hits], c.high_b[hits]
    # In slices of resamples: (rounds x false matches) can be gigabytes at FMR 1e-2 on a large set.
    step = max(1, 20_000_000 // max(len(a), 1))
    numerator = np.concatenate([(draws[i:i + step, a] * draws[i:i + step, b]).sum(axis=1)
                                for i in range(0, len(draws), step)]) if len(draws) else np.zeros(0)
    # Impostor pairs in a resample: every pair of images of two different people, a person drawn k
    # times counting k times: sum over a < b of x_a x_b with x_p = k_p n_p, i.e. ((sum x)^2 - sum x^2) / 2.
    x = (draws * c.images_per_person[None, :]).astype(np.float64)
    denominator = (x.sum(axis=1) ** 2 - (x**2).sum(axis=1)) / 2
    boot = numerator / np.maximum(denominator, 1)
    return Rate(value, *_interval(boot), int(hits.sum()), len(c.impostor))


def _interval(boot: NDArray[np.floating]) -> tuple[float, float]:
    finite = boot[np.isfinite(boot)]
    if not len(finite):
        return float("nan"), float("nan")
    return float(np.percentile(finite, 2.5)), float(np.percentile(finite, 97.5))


def threshold_for(impostor: NDArray[np.float32], target: float) -> tuple[float, bool]:
    """The lowest threshold with an observed FMR at most ``target`` over ``impostor`` (ascending), and
    whether the data supports it (at least ``RULE_OF_30`` false matches allowed at that rate)."""
    n = len(impostor)
    if n == 0:
        return float("nan"), False
    allowed = int(np.floor(target * n))
    if allowed >= n:
        return float(impostor[0]), True
    # Just above the (allowed + 1)-th highest score: exactly ``allowed`` impostors score at or above it.
    threshold = float(np.nextafter(impostor[n - 1 - allowed], np.float32(np.inf)))
    return threshold, allowed >= RULE_OF_30


def det_curve(c: Comparisons, points: int = 200) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """(FMR, FNMR) at thresholds spread over the impostor tail (the DET and ROC curves)."""
    impostor = c.impostor
    genuine = np.sort(c.genuine)
    n = len(impostor)
    fmrs = np.logspace(np.log10(max(1.0 / n, 1e-7)), 0, points)
    thresholds = np.quantile(impostor, 1 - fmrs)
    observed_fmr = 1 - np.searchsorted(impostor, thresholds, side="left") / n
    observed_fnmr = np.searchsorted(genuine, thresholds, side="left") / max(len(genuine), 1)
    return observed_fmr, observed_fnmr
