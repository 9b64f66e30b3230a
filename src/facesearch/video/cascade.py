"""Skip the expensive recognizer for tracks that cannot match anyone: an exact bound, not a guess.

The fused embedding of a face is ``[sqrt(w_1) e_1, ..., sqrt(w_m) e_m]`` (unit parts ``e_i``), and a
track is matched by the normalised mean of its faces' fused embeddings. With every part known except
one, ``X`` (the mean of that model's unit embeddings, so ``|X| = x`` in [0, 1]), the track's score
against a template ``g`` is

    s(x) <= (w_u x + C) / sqrt(w_u x^2 + E),   C = sum_known w_i <X_i, g_i>,   E = sum_known w_i |X_i|^2

because ``<X, g_u> <= |X| = x``. The right side is largest at ``x = E / C`` (when that lies in [0, 1]) or
at an end of the interval. When that largest value is below a watchlist's threshold for every one of
its templates, no value of the unknown embedding could make the track match: the expensive model is
not run. For the default profile, that is dlib's ResNet for most bystanders' tracks.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray


def score_bound(weights: NDArray[np.float64], known: list[int], unknown: int, means: dict[int, NDArray[np.float32]],
                templates: NDArray[np.float32], dims: list[int]) -> NDArray[np.float64]:
    """The highest score each of ``templates`` (fused, unit, ``(n, sum(dims))``) could reach with the
    track, given the mean unit embeddings ``means[i]`` of the ``known`` models only."""
    offsets = np.concatenate([[0], np.cumsum(dims)])
    c = np.zeros(len(templates))
    e = 0.0
    for i in known:
        part = templates[:, offsets[i] : offsets[i + 1]] / np.sqrt(weights[i])  # the template's unit part
        c += weights[i] * (part @ means[i])
        e += weights[i] * float(means[i] @ means[i])
    wu = weights[unknown]

    def s(x: NDArray[np.float64]) -> NDArray[np.float64]:
        return (wu * x + c) / np.sqrt(np.maximum(wu * x * x + e, 1e-12))

    with np.errstate(divide="ignore", invalid="ignore"):
        peak = np.clip(np.where(c > 0, e / c, 1.0), 0.0, 1.0)
    return np.maximum(np.maximum(s(np.zeros_like(c)), s(np.ones_like(c))), s(peak))
