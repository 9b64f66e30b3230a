"""Grouping faces into people, on vectors made to order: what average linkage keeps apart that chaining
would glue, and the rules that hold whatever the scores (same photo, fixed people, "not this person")."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.typing import NDArray

from facesearch.library.cluster import LinkThresholds, group_from, link

THRESHOLDS = LinkThresholds(edge=0.7, mean=0.6)


def unit(v: NDArray[np.float64]) -> NDArray[np.float32]:
    return (v / np.linalg.norm(v, axis=-1, keepdims=True)).astype(np.float32)


def people(n_people: int, per_person: int, spread: float, dim: int = 64, seed: int = 0
           ) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Faces scattered around one random direction per person."""
    rng = np.random.default_rng(seed)
    centres = unit(rng.normal(size=(n_people, dim)))
    labels = np.repeat(np.arange(n_people), per_person)
    return unit(centres[labels] + spread * rng.normal(size=(len(labels), dim)) / np.sqrt(dim)), labels


def same_partition(a: NDArray[np.int64], b: NDArray[np.int64]) -> bool:
    pairs = {(int(x), int(y)) for x, y in zip(a, b, strict=True)}
    return len(pairs) == len(set(a.tolist())) == len(set(b.tolist()))


def test_separate_people_are_found_without_being_told_how_many() -> None:
    vectors, labels = people(12, 6, spread=0.5)
    result = link(vectors, list(range(len(vectors))), THRESHOLDS)
    assert same_partition(result.labels(), labels)
    assert [len(p) for p in result.new_people] == [6] * 12 and result.joined == {}


def test_a_chain_of_look_alikes_is_not_glued_into_one_person() -> None:
    # Two people (ten faces each) whose faces score 0.4 across, and three faces half-way between them:
    # every step of the chain scores above the edge threshold, so chaining would make one person.
    rng = np.random.default_rng(3)
    a, b = np.array([1.0, 0.0, 0.0, 0.0]), np.array([0.4, np.sqrt(1 - 0.4**2), 0.0, 0.0])
    jitter = np.array([0.0, 0.0, 1.0, 1.0]) * 0.03
    side_a = unit(a + rng.normal(size=(10, 4)) * jitter)
    side_b = unit(b + rng.normal(size=(10, 4)) * jitter)
    bridge = np.stack([unit(a * (1 - t) + b * t) for t in (0.25, 0.5, 0.75)])
    vectors = np.vstack([side_a, side_b, bridge]).astype(np.float32)
    chain = np.vstack([a, bridge, b])
    assert min(float(unit(chain[i]) @ unit(chain[i + 1])) for i in range(4)) > THRESHOLDS.edge
    reached, frontier = {0}, [0]  # single linkage: everything reachable by edges above the threshold
    while frontier:
        here = frontier.pop()
        for there in np.flatnonzero(vectors @ vectors[here] >= THRESHOLDS.edge).tolist():
            if there not in reached:
                reached.add(there)
                frontier.append(there)
    assert reached == set(range(len(vectors)))  # chaining would make one person of all 23
    result = link(vectors, list(range(len(vectors))), THRESHOLDS)
    for members in result.new_people:
        assert not (set(members) & set(range(10)) and set(members) & set(range(10, 20))), result.new_people


def test_two_faces_in_one_photo_are_never_one_person() -> None:
    twin = unit(np.array([1.0, 0.01, 0.0]))
    vectors = np.stack([twin, twin, unit(np.array([1.0, 0.0, 0.01]))]).astype(np.float32)
    result = link(vectors, [7, 7, 8], THRESHOLDS)  # the first two share photo 7
    labels = result.labels()
    assert labels[0] != labels[1]
    assert labels[2] in (labels[0], labels[1])


def test_new_faces_join_existing_people_who_are_never_merged_or_renamed() -> None:
    vectors, labels = people(3, 6, spread=0.4, seed=1)
    old = np.concatenate([np.flatnonzero(labels == 0)[:5], np.flatnonzero(labels == 1)[:5]])
    groups = [group_from(100, vectors[old[:5]], list(range(5))), group_from(200, vectors[old[5:]], list(range(5, 10)))]
    new_idx = [i for i in range(len(vectors)) if i not in set(old.tolist())]
    # A face half-way between the two existing people: it may join one, never merge them.
    bridge = unit(vectors[old[:5]].mean(0) + vectors[old[5:]].mean(0))
    new = np.vstack([vectors[new_idx], bridge[None]]).astype(np.float32)
    result = link(new, list(range(10, 10 + len(new))), THRESHOLDS, groups=groups, group_faces=vectors[old],
                  group_of_face=[0] * 5 + [1] * 5)
    joined = result.joined
    assert joined[new_idx.index(int(np.flatnonzero(labels == 0)[5]))] == 100
    assert joined[new_idx.index(int(np.flatnonzero(labels == 1)[5]))] == 200
    third = [new_idx.index(int(i)) for i in np.flatnonzero(labels == 2)]
    assert sorted(third) in [sorted(p) for p in result.new_people]  # a new person, not glued to 100 or 200


def test_not_this_person_holds_whatever_the_score() -> None:
    vectors, _ = people(1, 6, spread=0.3, seed=2)
    groups = [group_from(5, vectors[:5], list(range(5)))]
    kept_out = link(vectors[5:], [5], THRESHOLDS, groups=groups, group_faces=vectors[:5], group_of_face=[0] * 5,
                    forbidden={0: {5}})
    assert kept_out.joined == {} and kept_out.new_people == [[0]]
    allowed = link(vectors[5:], [5], THRESHOLDS, groups=groups, group_faces=vectors[:5], group_of_face=[0] * 5)
    assert allowed.joined == {0: 5}


def test_thresholds_come_from_false_match_rates(engine: object) -> None:
    calibration = engine.calibration  # type: ignore[attr-defined]
    thresholds = LinkThresholds.from_calibration(calibration)
    assert calibration.fmr(thresholds.edge)[0] <= 1e-5 < calibration.fmr(thresholds.edge - 0.01)[0]
    assert thresholds.edge > thresholds.mean
    stricter = thresholds.stricter(calibration)
    assert stricter.edge > thresholds.edge and stricter.mean > thresholds.mean


@pytest.mark.parametrize("bad", ["photos", "group_of_face"])
def test_mismatched_inputs_are_named(bad: str) -> None:
    vectors, _ = people(1, 3, spread=0.3)
    with pytest.raises(ValueError, match=bad):
        if bad == "photos":
            link(vectors, [1, 2], THRESHOLDS)
        else:
            link(vectors, [1, 2, 3], THRESHOLDS, group_faces=vectors, group_of_face=[0])


@pytest.mark.parametrize(("predicted", "truth", "expected"), [
    # perfect grouping
    ([0, 0, 1, 1], [7, 7, 8, 8], (1.0, 1.0, 1.0, 1.0)),
    # everyone alone: precise, but recall only counts each face with itself
    ([0, 1, 2, 3], [7, 7, 8, 8], (1.0, 0.0, 1.0, 0.5)),
    # one group of all: pairwise precision 2 of 6 pairs; BCubed precision 1/2 for every face
    ([0, 0, 0, 0], [7, 7, 8, 8], (1 / 3, 1.0, 0.5, 1.0)),
])
def test_clustering_scores(predicted: list[int], truth: list[int], expected: tuple[float, ...]) -> None:
    from facesearch.eval.clustering import score_clustering

    s = score_clustering(np.array(predicted), np.array(truth))
    got = (s.pairwise_precision, s.pairwise_recall, s.bcubed_precision, s.bcubed_recall)
    assert got == pytest.approx(expected)
    assert s.people == 2 and s.clusters == len(set(predicted))
