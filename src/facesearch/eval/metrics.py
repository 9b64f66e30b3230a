"""Verification metrics: k-fold accuracy, ROC, AUC and TAR at a fixed FAR."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Scores = NDArray[np.float64]
Labels = NDArray[np.bool_]


def best_threshold(scores: Scores, same: Labels) -> float:
    """The threshold that maximises accuracy (midpoint between neighbouring scores)."""
    order = np.argsort(scores)
    s, y = scores[order], same[order]
    # Accuracy when the threshold sits just above s[i]: negatives at or below, positives above.
    neg_below = np.cumsum(~y)
    pos_above = y.sum() - np.cumsum(y)
    acc = neg_below + pos_above
    i = int(np.argmax(acc))
    if (neg_below[0] + y.sum()) > acc[i]:  # threshold below everything
        return float(s[0] - 1e-6)
    return float((s[i] + s[i + 1]) / 2) if i + 1 < len(s) else float(s[i] + 1e-6)


def accuracy(scores: Scores, same: Labels, threshold: float) -> float:
    return float(((scores >= threshold) == same).mean())


@dataclass(frozen=True)
class Roc:
    far: Scores  # increasing
    tar: Scores
    thresholds: Scores

    def auc(self) -> float:
        return float(np.trapezoid(self.tar, self.far))

    def tar_at(self, far: float) -> float:
        """The largest TAR whose FAR is at most ``far``."""
        ok = self.far <= far + 1e-12
        return float(self.tar[ok].max()) if ok.any() else 0.0


def roc(scores: Scores, same: Labels) -> Roc:
    order = np.argsort(-scores, kind="stable")
    s, y = scores[order], same[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]
    tp = np.cumsum(y)[distinct]
    fp = np.cumsum(~y)[distinct]
    tar = np.r_[0.0, tp / max(y.sum(), 1)]
    far = np.r_[0.0, fp / max((~y).sum(), 1)]
    return Roc(far=far, tar=tar, thresholds=np.r_[np.inf, s[distinct]])


@dataclass(frozen=True)
class FoldResult:
    accuracies: Scores
    thresholds: Scores
    out_of_fold_scores: Scores  # each pair scored as in its test fold

    @property
    def mean(self) -> float:
        return float(self.accuracies.mean())

    @property
    def std(self) -> float:
        return float(self.accuracies.std())


def kfold_accuracy(
    per_model: list[Scores], same: Labels, folds: NDArray[np.int_], impostor_std: bool = True
) -> FoldResult:
    """LFW's protocol: each fold's threshold (and, for several models, each model's z-norm weight) is
    chosen on the other folds (with a single fold, on that fold itself: training accuracy, a floor for
    tests and small data, not a protocol result). With several models the fused score is
    ``sum_i c_i / std_i`` normalised, where ``std_i`` is the standard deviation of model i's impostor
    scores on the training folds."""
    n_folds = int(folds.max()) + 1
    accs, ths = np.zeros(n_folds), np.zeros(n_folds)
    oof = np.zeros(len(same))
    for k in range(n_folds):
        test = folds == k
        train = ~test if n_folds > 1 else test
        fused = fuse_scores(per_model, training=train & ~same if impostor_std else train)
        t = best_threshold(fused[train], same[train])
        accs[k], ths[k] = accuracy(fused[test], same[test], t), t
        oof[test] = fused[test]
    return FoldResult(accs, ths, oof)


def fuse_scores(per_model: list[Scores], training: Labels) -> Scores:
    """Weighted mean of the models' cosines with weights ``1 / std`` of the training impostor scores."""
    if len(per_model) == 1:
        return per_model[0]
    w = np.array([1.0 / max(float(s[training].std()), 1e-6) for s in per_model])
    w = w / w.sum()
    return np.sum([wi * s for wi, s in zip(w, per_model, strict=True)], axis=0)
