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


def test_the_bound_rules_out_unrelated_templates() -> None:
    # A bound that never undercuts is easy (1.0 always); this one must also be tight enough to skip the
    # costly model for people who are plainly someone else.
    rng = np.random.default_rng(1)
    dims, weights = [128, 192], np.array([0.45, 0.55])
    faces = unit(rng.standard_normal((3, 192)) + 2 * rng.standard_normal(192))
    templates = np.hstack([unit(rng.standard_normal((200, d))) * np.sqrt(w)
                           for d, w in zip(dims, weights, strict=True)]).astype(np.float32)
    bound = score_bound(weights, [1], 0, {1: faces.mean(axis=0).astype(np.float32)}, templates, dims)
    assert (bound < 0.8).all()  # the default profile's thresholds at FPIR 1e-3 are above 0.82
