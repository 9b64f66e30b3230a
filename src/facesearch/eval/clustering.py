"""Scoring a grouping of faces against the true identities: pairwise and BCubed precision and recall.

Pairwise counts pairs of faces: precision is the share of pairs put together that are one person,
recall the share of one person's pairs put together. Large people dominate it. BCubed averages over
faces instead: for each face, the share of its group that is its person (precision) and the share of
its person that is in its group (recall), so a person seen twice counts as much as one seen 500 times.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class ClusteringScores:
    pairwise_precision: float
    pairwise_recall: float
    pairwise_f1: float
    bcubed_precision: float
    bcubed_recall: float
    bcubed_f1: float
    clusters: int
    people: int

    def to_json(self) -> dict[str, float | int]:
        return asdict(self)


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r else 0.0


def score_clustering(predicted: NDArray[np.integer], truth: NDArray[np.integer]) -> ClusteringScores:
    """Scores of ``predicted`` group labels against ``truth`` identity labels (one per face).

    Example:
        >>> score_clustering(np.array([0, 0, 1]), np.array([5, 5, 5])).bcubed_precision
        1.0
    """
    if len(predicted) != len(truth):
        raise ValueError(f"predicted has {len(predicted)} labels, truth {len(truth)}")
    n = len(truth)
    if n == 0:
        raise ValueError("no faces to score")
    both = Counter(zip(np.asarray(predicted).tolist(), np.asarray(truth).tolist(), strict=True))
    groups = Counter(np.asarray(predicted).tolist())
    people = Counter(np.asarray(truth).tolist())

    def pairs(counts: Counter[Any]) -> float:
        return sum(c * (c - 1) / 2 for c in counts.values())

    together, grouped, same = pairs(both), pairs(groups), pairs(people)
    p = together / grouped if grouped else 1.0
    r = together / same if same else 1.0
    bp = sum(c * c / groups[g] for (g, _), c in both.items()) / n
    br = sum(c * c / people[t] for (_, t), c in both.items()) / n
    return ClusteringScores(p, r, _f1(p, r), bp, br, _f1(bp, br), len(groups), len(people))
