"""1:N identification metrics in NIST's terms (FRVT / FRTE 1:N, NISTIR 8271), in plain numpy.

A *gallery* holds one enrolled template per identity. A *mated* probe's identity is enrolled; a
*non-mated* probe's is not. Each probe is searched against the whole gallery and returns a candidate
list: the ``L`` highest-scoring gallery entries, each with its score. At a threshold ``T``:

* FPIR(T), the false positive identification rate: the fraction of non-mated searches that return at
  least one candidate scoring at or above ``T`` (equivalently, whose top-1 score is at or above ``T``).
* FNIR(T, L), the false negative identification rate: the fraction of mated searches whose enrolled mate
  is not among the first ``L`` candidates with a score at or above ``T``. A mate that is ranked below
  ``L``, or missing from the candidate list altogether, is a miss at any threshold.

Thresholds are set on the non-mated searches: for a target FPIR ``f`` over ``N`` non-mated probes, at most
``m = floor(f * N)`` of them may score at or above ``T``, and ``T`` is the lowest threshold that allows
that: just above the ``(m + 1)``-th highest non-mated top-1 score. With few non-mated probes the operating
point rests on a handful of scores (with 4,069 probes, FPIR 1e-3 allows 4 false positives and FPIR 1e-4
none), so each operating point says how many false positives it rests on and whether that is enough
(Doddington's "rule of 30": at least 30 errors for the observed rate to be within about ±30% of the true
one with 90% confidence). ``resolved`` is false, never silently, when it is not.

Example:
    >>> top_scores, top_idx = search_topk(gallery, probes, k=10)
    >>> result = identification_result("default", gallery, mated, mate_ids, nonmated)
    >>> result.at(1e-2).fnir, result.at(1e-2).resolved
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray

FloatArray = NDArray[np.float32]
IndexArray = NDArray[np.int64]

#: Fewest false positives for an FPIR to count as measured (Doddington's rule of 30).
RULE_OF_30 = 30


# --- search -----------------------------------------------------------------------------------------------
def search_topk(
    gallery: ArrayLike,
    probes: ArrayLike,
    k: int,
    *,
    probe_block: int = 2048,
    gallery_block: int = 65536,
) -> tuple[FloatArray, IndexArray]:
    """Exact inner-product search: the ``k`` best gallery rows for every probe, best first.

    Args:
        gallery: ``(G, d)`` templates (unit vectors for cosine similarity).
        probes: ``(P, d)`` search templates.
        k: candidate list length; more than ``G`` gives ``G`` columns.
        probe_block, gallery_block: the similarity matrix is computed ``probe_block x gallery_block`` at a
            time, so memory stays at about ``4 * probe_block * (gallery_block + k)`` bytes whatever ``G``
            and ``P`` are.

    Returns:
        ``scores`` ``(P, min(k, G))`` float32, decreasing along each row, and ``indices`` ``(P, min(k, G))``
        int64 gallery rows. Equal scores are ordered by gallery row.
    """
    g = np.ascontiguousarray(gallery, dtype=np.float32)
    p = np.ascontiguousarray(probes, dtype=np.float32)
    if g.ndim != 2 or p.ndim != 2 or g.shape[1] != p.shape[1]:
        raise ValueError(f"gallery {g.shape} and probes {p.shape} must be 2-D with the same width")
    if k < 1:
        raise ValueError(f"k must be at least 1, not {k}")
    if probe_block < 1 or gallery_block < 1:
        raise ValueError("block sizes must be positive")
    k = min(k, len(g))
    scores = np.empty((len(p), k), np.float32)
    indices = np.empty((len(p), k), np.int64)
    if len(p) == 0 or k == 0:
        return scores, indices
    for ps in range(0, len(p), probe_block):
        block = p[ps : ps + probe_block]
        best_s = np.full((len(block), 0), -np.inf, np.float32)
        best_i = np.zeros((len(block), 0), np.int64)
        for gs in range(0, len(g), gallery_block):
            sims = block @ g[gs : gs + gallery_block].T
            cols = np.broadcast_to(np.arange(gs, gs + sims.shape[1], dtype=np.int64), sims.shape)
            cand_s = np.concatenate([best_s, sims], axis=1)
            cand_i = np.concatenate([best_i, cols], axis=1)
            if cand_s.shape[1] > k:
                part = np.argpartition(-cand_s, k - 1, axis=1)[:, :k]
                cand_s = np.take_along_axis(cand_s, part, axis=1)
                cand_i = np.take_along_axis(cand_i, part, axis=1)
            best_s, best_i = cand_s, cand_i
        # Best first; ties by gallery row (lexsort's last key is the primary one).
        order = np.lexsort((best_i, -best_s), axis=1)
        scores[ps : ps + len(block)] = np.take_along_axis(best_s, order, axis=1)
        indices[ps : ps + len(block)] = np.take_along_axis(best_i, order, axis=1)
    return scores, indices


def mate_hits(top_indices: ArrayLike, mated_truth: ArrayLike) -> NDArray[np.bool_]:
    """``(P, k)`` booleans: whether the candidate at each rank is the probe's enrolled mate."""
    idx = np.asarray(top_indices)
    truth = np.asarray(mated_truth)
    if idx.ndim != 2 or truth.shape != (len(idx),):
        raise ValueError(f"top indices {idx.shape} need one mate per row, got {truth.shape}")
    return np.asarray(idx == truth[:, None])


# --- rank-based metrics -------------------------------------------------------------------------------------
def rank1_rate(top_indices: ArrayLike, mated_truth: ArrayLike) -> float:
    """The rank-1 identification rate: the fraction of mated probes whose best candidate is their mate
    (no threshold; ``1 - rank1_rate`` is FNIR at FPIR 1 with ``L = 1``)."""
    hits = mate_hits(top_indices, mated_truth)
    return float(hits[:, 0].mean()) if len(hits) else math.nan


def cmc(top_indices: ArrayLike, mated_truth: ArrayLike) -> NDArray[np.float64]:
    """The cumulative match characteristic: entry ``r - 1`` is the fraction of mated probes whose mate
    is within the first ``r`` candidates, for ``r = 1 .. k``."""
    hits = mate_hits(top_indices, mated_truth)
    if not len(hits):
        return np.full(hits.shape[1], math.nan)
    return np.asarray(np.logical_or.accumulate(hits, axis=1).mean(axis=0), np.float64)


# --- threshold-based metrics --------------------------------------------------------------------------------
class OperatingPoint(NamedTuple):
    """FNIR at a target FPIR, with the threshold that sets it and how much data that threshold rests on.

    ``threshold`` is the lowest score ``T`` with FPIR(T) <= ``fpir``: a candidate is returned when its
    score is at or above ``T`` (``-inf`` when every non-mated probe may be a false positive).
    ``fpir_achieved`` can be below the target where non-mated scores tie. ``false_positives_allowed`` is
    ``floor(fpir * N)``; ``resolved`` is whether it reaches ``min_events`` (30 by default). Where it is
    0 (``fpir < 1 / N``) the FPIR is not measurable at all: the threshold merely sits above the highest
    non-mated score, and ``fnir`` is an optimistic floor of the FNIR at that FPIR, not an estimate.
    """

    fnir: float
    threshold: float
    fpir: float
    fpir_achieved: float
    false_positives_allowed: int
    nonmated_probes: int
    rank: int
    resolved: bool

    @property
    def measurable(self) -> bool:
        """Whether at least one non-mated false positive is allowed (``fpir >= 1 / N``)."""
        return self.false_positives_allowed >= 1

    def to_json(self) -> dict[str, Any]:
        return {
            "fpir": self.fpir,
            "fnir": round(self.fnir, 6),
            "threshold": None if math.isinf(self.threshold) else round(self.threshold, 6),
            "fpir_achieved": round(self.fpir_achieved, 6),
            "false_positives_allowed": self.false_positives_allowed,
            "nonmated_probes": self.nonmated_probes,
            "rank": self.rank,
            "resolved": self.resolved,
            "measurable": self.measurable,
        }


def _nonmated_top1(nonmated_top_scores: ArrayLike) -> NDArray[np.float64]:
    s = np.asarray(nonmated_top_scores, np.float64)
    if s.ndim == 2:
        s = s.max(axis=1) if s.shape[1] else np.full(len(s), -np.inf)
    if s.ndim != 1 or not len(s):
        raise ValueError("need at least one non-mated probe score")
    return s


def _mate_scores(mated_top_scores: ArrayLike, mated_correct_top: ArrayLike, rank: int) -> NDArray[np.float64]:
    """Each mated probe's mate score within the first ``rank`` candidates; ``-inf`` where it is not there."""
    scores = np.asarray(mated_top_scores, np.float64)
    correct = np.asarray(mated_correct_top, bool)
    if scores.ndim != 2 or scores.shape != correct.shape:
        raise ValueError(f"mated scores {scores.shape} and mate flags {correct.shape} must be the same (P, k)")
    if not 1 <= rank <= scores.shape[1]:
        raise ValueError(f"rank must be between 1 and the candidate list length {scores.shape[1]}, not {rank}")
    if not len(scores):
        raise ValueError("need at least one mated probe")
    within = np.where(correct[:, :rank], scores[:, :rank], -np.inf)
    return np.asarray(within.max(axis=1), np.float64)


def _allowed(fpir: float, n: int) -> int:
    if not 0 <= fpir <= 1:
        raise ValueError(f"FPIR must be between 0 and 1, not {fpir}")
    return min(n, math.floor(fpir * n + 1e-9))  # 1e-9: 0.3 * 10 must allow 3, not 2.9999...


def _operating_point(
    mate: NDArray[np.float64], nonmated_desc: NDArray[np.float64], fpir: float, rank: int, min_events: int
) -> OperatingPoint:
    n = len(nonmated_desc)
    m = _allowed(fpir, n)
    # At most m non-mated scores may be >= T: T is just above the (m+1)-th highest, or -inf for m = n.
    threshold = -math.inf if m >= n else float(np.nextafter(nonmated_desc[m], np.inf))
    achieved = float(np.count_nonzero(nonmated_desc >= threshold)) / n
    # A mate outside the first `rank` candidates (-inf) is a miss even at T = -inf.
    fnir = 1.0 - float(np.count_nonzero(np.isfinite(mate) & (mate >= threshold))) / len(mate)
    return OperatingPoint(fnir, threshold, float(fpir), achieved, m, n, rank, m >= min_events)


def fnir_at_fpir(
    mated_top_scores: ArrayLike,
    mated_correct_top: ArrayLike,
    nonmated_top_scores: ArrayLike,
    fpir: float,
    *,
    rank: int = 1,
    min_events: int = RULE_OF_30,
) -> OperatingPoint:
    """FNIR at a target FPIR, NIST's way (see the module docstring).

    Args:
        mated_top_scores: ``(P, k)`` candidate scores of the mated probes, best first.
        mated_correct_top: ``(P, k)`` whether each candidate is the probe's mate (``mate_hits``).
        nonmated_top_scores: the non-mated probes' top-1 scores ``(N,)``, or their ``(N, k)`` candidate
            scores (the row maximum is used).
        fpir: the target false positive identification rate.
        rank: ``L``, how many candidates are examined (``1``: the mate must be the top candidate).
        min_events: fewest allowed non-mated false positives for ``resolved``.

    Returns:
        An ``OperatingPoint``; its first two fields are ``fnir`` and ``threshold``. Check ``resolved``:
        FPIR ``f`` is resolved by ``N`` non-mated probes only when ``f * N >= min_events``; with 4,069
        probes, FPIR 1e-3 rests on 4 scores and is not (its threshold, and so its FNIR, would move a lot
        with another sample of non-mated probes), and FPIR below ``1 / N`` is not measurable at all.
    """
    mate = _mate_scores(mated_top_scores, mated_correct_top, rank)
    nonmated = np.sort(_nonmated_top1(nonmated_top_scores))[::-1]
    return _operating_point(mate, nonmated, fpir, rank, min_events)


@dataclass(frozen=True)
class FnirFpirCurve:
    """FNIR against FPIR (a DET-style curve for 1:N), point by point; see ``OperatingPoint``."""

    fpir: NDArray[np.float64]  # targets, increasing
    fnir: NDArray[np.float64]
    thresholds: NDArray[np.float64]
    fpir_achieved: NDArray[np.float64]
    resolved: NDArray[np.bool_]
    nonmated_probes: int
    rank: int

    @property
    def fpir_resolution(self) -> float:
        """``1 / N``: the smallest non-zero FPIR the non-mated probes can measure."""
        return 1.0 / self.nonmated_probes


def fnir_fpir_curve(
    mated_top_scores: ArrayLike,
    mated_correct_top: ArrayLike,
    nonmated_top_scores: ArrayLike,
    fpirs: ArrayLike | None = None,
    *,
    rank: int = 1,
    min_events: int = RULE_OF_30,
) -> FnirFpirCurve:
    """FNIR at each FPIR of ``fpirs`` (default: every FPIR the data can show, ``m / N`` for ``m = 1 .. N``).

    Arguments as for ``fnir_at_fpir``. Points with ``resolved`` false rest on fewer than ``min_events``
    non-mated false positives: draw them as such (dashed, shaded), not as measurements like the others.
    """
    mate = _mate_scores(mated_top_scores, mated_correct_top, rank)
    nonmated = np.sort(_nonmated_top1(nonmated_top_scores))[::-1]
    n = len(nonmated)
    targets = np.arange(1, n + 1) / n if fpirs is None else np.sort(np.asarray(fpirs, np.float64).ravel())
    allowed = np.array([_allowed(float(f), n) for f in targets], np.int64)
    # As in _operating_point, for every target at once: T just above the (m+1)-th highest score.
    padded = np.r_[nonmated, -np.inf]
    thresholds = np.where(allowed >= n, -np.inf, np.nextafter(padded[np.minimum(allowed, n)], np.inf))
    ascending, found = nonmated[::-1], np.sort(mate[np.isfinite(mate)])
    achieved = (n - np.searchsorted(ascending, thresholds, side="left")) / n
    fnir = 1.0 - (len(found) - np.searchsorted(found, thresholds, side="left")) / len(mate)
    return FnirFpirCurve(
        fpir=targets,
        fnir=np.asarray(fnir, np.float64),
        thresholds=np.asarray(thresholds, np.float64),
        fpir_achieved=np.asarray(achieved, np.float64),
        resolved=allowed >= min_events,
        nonmated_probes=n,
        rank=rank,
    )


# --- protocol -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class IdentificationSplit:
    """Sample positions of a gallery / mated / non-mated split (see ``split_by_identity``)."""

    gallery: IndexArray  # one sample per enrolled identity
    mated: IndexArray  # the enrolled identities' other samples
    mate_of: IndexArray  # for each mated probe, its mate's row in ``gallery``
    nonmated: IndexArray  # every sample of the identities that are not enrolled


def split_by_identity(labels: Sequence[str], min_samples: int = 2) -> IdentificationSplit:
    """NIST-style open-set split: each identity with at least ``min_samples`` samples enrols its first
    sample (in ``labels`` order) and probes with the rest (mated); identities with fewer are searched
    with all their samples and never enrolled (non-mated)."""
    first: dict[str, int] = {}
    count: dict[str, int] = {}
    for i, label in enumerate(labels):
        first.setdefault(label, i)
        count[label] = count.get(label, 0) + 1
    enrolled = [label for label in first if count[label] >= min_samples]
    row = {label: r for r, label in enumerate(enrolled)}
    mated = [i for i, label in enumerate(labels) if label in row and first[label] != i]
    return IdentificationSplit(
        gallery=np.array([first[label] for label in enrolled], np.int64),
        mated=np.array(mated, np.int64),
        mate_of=np.array([row[labels[i]] for i in mated], np.int64),
        nonmated=np.array([i for i, label in enumerate(labels) if label not in row], np.int64),
    )


@dataclass(frozen=True)
class IdentificationResult:
    """One system's 1:N results on one gallery and probe set."""

    name: str
    gallery_size: int
    mated_probes: int
    nonmated_probes: int
    rank1: float
    cmc: NDArray[np.float64]  # rank 1 .. k
    operating_points: list[OperatingPoint]
    curve: FnirFpirCurve
    notes: dict[str, Any] = field(default_factory=dict)

    @property
    def fpir_resolution(self) -> float:
        """``1 / N``: the smallest non-zero FPIR the non-mated probes can measure."""
        return 1.0 / self.nonmated_probes

    def at(self, fpir: float) -> OperatingPoint:
        """The operating point computed for this target FPIR."""
        for p in self.operating_points:
            if math.isclose(p.fpir, fpir, rel_tol=1e-9):
                return p
        raise KeyError(f"no operating point at FPIR {fpir}; have {[p.fpir for p in self.operating_points]}")

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "gallery_size": self.gallery_size,
            "mated_probes": self.mated_probes,
            "nonmated_probes": self.nonmated_probes,
            "fpir_resolution": self.fpir_resolution,
            "rank1_identification_rate": round(self.rank1, 6),
            "cmc": {str(r + 1): round(float(v), 6) for r, v in enumerate(self.cmc)},
            "operating_points": [p.to_json() for p in self.operating_points],
            "rule_of_30_min_false_positives": RULE_OF_30,
            "notes": self.notes,
        }


def identification_result(
    name: str,
    gallery: ArrayLike,
    mated_probes: ArrayLike,
    mate_of: ArrayLike,
    nonmated_probes: ArrayLike,
    *,
    fpirs: Sequence[float] = (1e-2, 1e-3),
    rank: int = 1,
    k: int = 20,
    min_events: int = RULE_OF_30,
    notes: dict[str, Any] | None = None,
) -> IdentificationResult:
    """Search every probe against the gallery and compute rank-1, the CMC up to ``k``, FNIR at each
    ``fpirs`` (candidate list length ``rank``) and the full FNIR/FPIR curve."""
    if rank > k:
        raise ValueError(f"rank {rank} is beyond the candidate list length k={k}")
    g = np.asarray(gallery, np.float32)
    m_scores, m_idx = search_topk(g, mated_probes, k)
    n_scores, _ = search_topk(g, nonmated_probes, 1)
    correct = mate_hits(m_idx, mate_of)
    nonmated = n_scores[:, 0]
    return IdentificationResult(
        name=name,
        gallery_size=len(g),
        mated_probes=len(m_idx),
        nonmated_probes=len(nonmated),
        rank1=rank1_rate(m_idx, mate_of),
        cmc=cmc(m_idx, mate_of),
        operating_points=[
            fnir_at_fpir(m_scores, correct, nonmated, f, rank=rank, min_events=min_events) for f in fpirs
        ],
        curve=fnir_fpir_curve(m_scores, correct, nonmated, rank=rank, min_events=min_events),
        notes=dict(notes or {}),
    )
