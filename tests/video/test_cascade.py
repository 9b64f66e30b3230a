"""The cascade's bound is never below the score the full embedding gets."""

from __future__ import annotations

import numpy as np

from facesearch.video.cascade import score_bound


def unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_the_bound_holds_for_random_tracks_and_templates() -> None:
    rng = np.random.default_rng(0)
    dims, weights = [128, 192], np.array([0.45, 0.55])
    for _ in range(200):
        faces = rng.integers(1, 6)
        base = [rng.standard_normal(d) for d in dims]  # one person: faces near a common direction
        spread = rng.uniform(0.1, 2.0)
        parts = [unit(b + rng.standard_normal((faces, d)) * spread) for b, d in zip(base, dims, strict=True)]
        fused = np.hstack([p * np.sqrt(w) for p, w in zip(parts, weights, strict=True)])
        track = unit(fused.mean(axis=0))
        closeness = rng.uniform(0, 3)
        gallery = [unit(rng.standard_normal((20, d)) + closeness * b) for b, d in zip(base, dims, strict=True)]
        templates = np.hstack([g * np.sqrt(w) for g, w in zip(gallery, weights, strict=True)]).astype(np.float32)
        true_scores = templates @ track
        means = {1: parts[1].mean(axis=0).astype(np.float32)}
        bound = score_bound(weights, [1], 0, means, templates, dims)
        assert (bound >= true_scores - 1e-6).all()
