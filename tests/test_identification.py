"""1:N identification metrics: exact search, rank-1 / CMC, FNIR at FPIR on hand-computed cases."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from facesearch.eval.identification import (
    cmc,
    fnir_at_fpir,
    fnir_fpir_curve,
    identification_result,
    mate_hits,
    rank1_rate,
    search_topk,
    split_by_identity,
)


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize(("probe_block", "gallery_block", "k"), [(3, 4, 5), (1, 1, 1), (100, 100, 17), (4, 5, 40)])
def test_block_search_equals_brute_force(probe_block: int, gallery_block: int, k: int) -> None:
    rng = np.random.default_rng(0)
    gallery, probes = _unit(rng.normal(size=(17, 8))), _unit(rng.normal(size=(11, 8)))
    scores, idx = search_topk(gallery, probes, k, probe_block=probe_block, gallery_block=gallery_block)
    sims = probes @ gallery.T
    want = np.argsort(-sims, axis=1, kind="stable")[:, : min(k, 17)]
    assert idx.shape == scores.shape == (11, min(k, 17))
    np.testing.assert_array_equal(idx, want)
    np.testing.assert_allclose(scores, np.take_along_axis(sims, want, axis=1), rtol=0, atol=1e-6)
    assert (np.diff(scores, axis=1) <= 0).all()


def test_search_ties_are_ordered_by_gallery_row() -> None:
    gallery = np.array([[0, 1], [1, 0], [1, 0], [0, 1], [1, 0]], np.float32)
    scores, idx = search_topk(gallery, np.array([[1, 0]], np.float32), 3, gallery_block=2)
    assert idx.tolist() == [[1, 2, 4]] and scores.tolist() == [[1, 1, 1]]


def test_search_rejects_bad_shapes() -> None:
    with pytest.raises(ValueError, match="same width"):
        search_topk(np.zeros((3, 4)), np.zeros((2, 5)), 1)
    with pytest.raises(ValueError, match="k must be"):
        search_topk(np.zeros((3, 4)), np.zeros((2, 4)), 0)


def test_rank1_and_cmc_by_hand() -> None:
    top = np.array([[2, 0], [1, 2], [0, 1], [3, 0]])
    truth = np.array([2, 2, 1, 3])
    assert rank1_rate(top, truth) == 0.5
    assert cmc(top, truth).tolist() == [0.5, 1.0]
    assert mate_hits(top, truth).tolist() == [[True, False], [False, True], [False, True], [True, False]]


# Ten non-mated top-1 scores, 0.9 down to 0.0, and five mated searches with two candidates each:
#   a: mate first, 0.95      b: mate first, 0.75      c: mate first, exactly 0.70
#   d: a stranger first (0.90), mate second (0.85)    e: mate not in the candidate list
NONMATED = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0])
MATED_SCORES = np.array([[0.95, 0.3], [0.75, 0.2], [0.70, 0.1], [0.90, 0.85], [0.6, 0.5]])
MATED_CORRECT = np.array([[True, False], [True, False], [True, False], [False, True], [False, False]])


@pytest.mark.parametrize(
    ("fpir", "rank", "allowed", "fnir", "above"),
    [
        (0.2, 1, 2, 3 / 5, 0.7),  # T just above 0.7: a, b hit; c (= 0.7) does not
        (0.25, 1, 2, 3 / 5, 0.7),  # floor(2.5) = 2 false positives
        (0.3, 1, 3, 2 / 5, 0.6),  # 0.3 * 10 is 2.999...: still 3 allowed; c now hits
        (0.2, 2, 2, 2 / 5, 0.7),  # L = 2: d's mate at rank 2 (0.85) hits too
        (0.05, 1, 0, 4 / 5, 0.9),  # below 1 / N: only a (above every non-mated score)
        (1.0, 1, 10, 2 / 5, -math.inf),  # no threshold: 1 - rank-1 rate; e misses even so
        (1.0, 2, 10, 1 / 5, -math.inf),
    ],
)
def test_fnir_at_fpir_by_hand(fpir: float, rank: int, allowed: int, fnir: float, above: float) -> None:
    p = fnir_at_fpir(MATED_SCORES, MATED_CORRECT, NONMATED, fpir, rank=rank)
    assert p.fnir == pytest.approx(fnir)
    assert p.false_positives_allowed == allowed
    if math.isinf(above):
        assert p.threshold == -math.inf
    else:  # the lowest threshold allowing that many: the next float above the (m+1)-th non-mated score
        assert p.threshold == np.nextafter(above, np.inf)
    assert p.fpir_achieved == pytest.approx(allowed / 10)
    assert p.fpir_achieved == np.mean(NONMATED >= p.threshold)
    assert not p.resolved  # 10 non-mated probes never resolve an FPIR under the rule of 30
    assert p.measurable == (allowed > 0)
    fnir_, threshold = p[:2]
    assert (fnir_, threshold) == (p.fnir, p.threshold)


def test_nonmated_candidate_lists_use_their_best_score() -> None:
    lists = np.stack([NONMATED[::-1] * 0, NONMATED], axis=1)  # best score in the second column
    assert fnir_at_fpir(MATED_SCORES, MATED_CORRECT, lists, 0.2) == fnir_at_fpir(
        MATED_SCORES, MATED_CORRECT, NONMATED, 0.2
    )


def test_ties_in_nonmated_scores_keep_fpir_at_or_below_target() -> None:
    p = fnir_at_fpir(np.array([[0.5], [0.6]]), np.array([[True], [True]]), np.array([0.5, 0.5, 0.5, 0.1]), 0.5)
    assert p.false_positives_allowed == 2 and p.fpir_achieved == 0.0  # three tie: none may pass
    assert p.fnir == 0.5  # 0.5 is not above the tie


def test_resolution_flag_follows_the_rule_of_30() -> None:
    nonmated = np.random.default_rng(1).uniform(size=4069)
    mated, correct = np.array([[0.99]]), np.array([[True]])
    at_1e2 = fnir_at_fpir(mated, correct, nonmated, 1e-2)
    at_1e3 = fnir_at_fpir(mated, correct, nonmated, 1e-3)
    assert (at_1e2.false_positives_allowed, at_1e2.resolved) == (40, True)
    assert (at_1e3.false_positives_allowed, at_1e3.resolved, at_1e3.measurable) == (4, False, True)
    at_1e4 = fnir_at_fpir(mated, correct, nonmated, 1e-4)
    assert (at_1e4.false_positives_allowed, at_1e4.measurable) == (0, False)
    assert fnir_at_fpir(mated, correct, nonmated, 1e-3, min_events=4).resolved


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="rank"):
        fnir_at_fpir(MATED_SCORES, MATED_CORRECT, NONMATED, 0.1, rank=3)
    with pytest.raises(ValueError, match="FPIR"):
        fnir_at_fpir(MATED_SCORES, MATED_CORRECT, NONMATED, 1.5)
    with pytest.raises(ValueError, match="same"):
        fnir_at_fpir(MATED_SCORES, MATED_CORRECT[:, :1], NONMATED, 0.1)


def test_curve_matches_pointwise_and_falls() -> None:
    rng = np.random.default_rng(2)
    nonmated = np.round(rng.normal(0.3, 0.1, size=200), 2)  # rounded: many ties
    scores = np.sort(np.round(rng.normal(0.6, 0.15, size=(300, 3)), 2), axis=1)[:, ::-1]
    correct = np.zeros((300, 3), bool)
    correct[np.arange(300), rng.integers(0, 4, size=300) % 3] = rng.uniform(size=300) < 0.9
    for rank in (1, 3):
        curve = fnir_fpir_curve(scores, correct, nonmated, rank=rank)
        assert len(curve.fpir) == 200 and curve.fpir_resolution == 1 / 200
        for i in range(0, 200, 7):
            p = fnir_at_fpir(scores, correct, nonmated, float(curve.fpir[i]), rank=rank)
            assert (curve.fnir[i], curve.thresholds[i], curve.fpir_achieved[i]) == pytest.approx(
                (p.fnir, p.threshold, p.fpir_achieved)
            )
            assert curve.resolved[i] == p.resolved
        assert (np.diff(curve.fnir) <= 1e-12).all() and (curve.fpir_achieved <= curve.fpir + 1e-12).all()
    grid = fnir_fpir_curve(scores, correct, nonmated, [0.1, 0.01, 1.0])
    assert grid.fpir.tolist() == [0.01, 0.1, 1.0] and grid.fnir[-1] == pytest.approx(1 - correct[:, 0].mean())


def test_split_by_identity() -> None:
    split = split_by_identity(["a", "a", "b", "c", "c", "c", "d"])
    assert split.gallery.tolist() == [0, 3]
    assert split.mated.tolist() == [1, 4, 5] and split.mate_of.tolist() == [0, 1, 1]
    assert split.nonmated.tolist() == [2, 6]


def test_identification_result_end_to_end() -> None:
    rng = np.random.default_rng(3)
    gallery = _unit(rng.normal(size=(50, 16)))
    mate_of = np.repeat(np.arange(50), 2)
    mated = _unit(gallery[mate_of] + rng.normal(scale=0.15, size=(100, 16)))
    nonmated = _unit(rng.normal(size=(500, 16)))
    result = identification_result("toy", gallery, mated, mate_of, nonmated, fpirs=(1e-1, 1e-2, 1e-3), k=5)
    sims = mated @ gallery.T
    assert result.rank1 == float((sims.argmax(axis=1) == mate_of).mean())
    assert (result.gallery_size, result.mated_probes, result.nonmated_probes) == (50, 100, 500)
    assert result.at(1e-1).resolved and not result.at(1e-2).resolved and not result.at(1e-3).measurable
    assert result.cmc[0] == result.rank1 and result.cmc[-1] >= result.cmc[0]
    data = json.loads(json.dumps(result.to_json()))
    assert data["operating_points"][2]["measurable"] is False and data["fpir_resolution"] == 1 / 500
    with pytest.raises(KeyError):
        result.at(0.5)
