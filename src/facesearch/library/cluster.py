"""Grouping faces into people: average linkage over a nearest-neighbour graph, with what is known.

Why this method. A photo library has no known number of people, tens of thousands of faces, and
many people seen once. Single linkage (connected components, and in practice Chinese whispers too)
chains look-alikes: one false edge glues two families together. Full average-linkage clustering is
quadratic. So: each face's ``k`` nearest neighbours (exact inner-product search) give the candidate
edges; edges are taken strongest first, and an edge joins its two groups only when

- the edge itself is a confident match (``thresholds.edge``), and
- the two groups, taken whole, still look like one person: the *mean* score over every pair of
  faces across them is at least ``thresholds.mean``. For unit embeddings that mean is
  ``sum_A . sum_B / (|A| |B|)``, so each check costs one dot product however large the groups;
- no photo holds a face of each (two faces in one photo are two people);
- neither side carries a "not this person" mark for the other.

Existing people (``Group``) are fixed: new faces may join them, but two existing people are never
merged by the machine and nobody is renamed; only a person decides that (``merge``).

Both thresholds come from the calibrated score -> false-match-rate mapping, so they mean the same for
any model: an edge at FMR 1e-5 and a group mean at FMR 1e-4 by default.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import faiss
import numpy as np
from numpy.typing import NDArray

from facesearch.calibration import Calibration

EDGE_FMR = 1e-5
MEAN_FMR = 1e-4
NEIGHBOURS = 20


@dataclass(frozen=True)
class LinkThresholds:
    """Scores (inner products of unit embeddings) an edge and a group mean must reach."""

    edge: float
    mean: float

    @classmethod
    def from_calibration(cls, calibration: Calibration, edge_fmr: float = EDGE_FMR,
                         mean_fmr: float = MEAN_FMR) -> LinkThresholds:
        return cls(edge=calibration.threshold_for_fmr(edge_fmr)[0], mean=calibration.threshold_for_fmr(mean_fmr)[0])

    def stricter(self, calibration: Calibration, factor: float = 10.0) -> LinkThresholds:
        """Thresholds ``factor`` times less likely to join strangers (used to split a person)."""
        edge_fmr, mean_fmr = calibration.fmr(self.edge)[0], calibration.fmr(self.mean)[0]
        return LinkThresholds.from_calibration(calibration, edge_fmr / factor, mean_fmr / factor)


def split_attempts(calibration: Calibration) -> list[LinkThresholds]:
    """To split a person: the usual thresholds first (undoing a wrong merge), then ten times stricter."""
    usual = LinkThresholds.from_calibration(calibration)
    return [usual, usual.stricter(calibration)]


@dataclass
class Group:
    """An existing person: the sum and count of their faces' embeddings, and the photos they are in."""

    key: int
    vector_sum: NDArray[np.float64]
    size: int
    photos: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class LinkResult:
    """Where each new face went: into an existing person (``joined``: face -> group key), or into one
    of the ``new_people`` (lists of face indices, largest first)."""

    joined: dict[int, int]
    new_people: list[list[int]]

    def labels(self) -> NDArray[np.int64]:
        """One label per new face: the group key for joined faces, ``-(j + 1)`` for new person ``j``."""
        n = len(self.joined) + sum(len(p) for p in self.new_people)
        out = np.zeros(n, np.int64)
        for face, key in self.joined.items():
            out[face] = key
        for j, people in enumerate(self.new_people):
            out[people] = -(j + 1)
        return out


class _Linker:
    """Union-find over groups (fixed, first) and new faces, carrying what each merge rule needs."""

    def __init__(self, groups: Sequence[Group], vectors: NDArray[np.float32], photos: Sequence[int],
                 forbidden: dict[int, set[int]]) -> None:
        m = len(groups)
        self.fixed = m
        self.parent = np.arange(m + len(vectors))
        self.sums = np.zeros((m + len(vectors), vectors.shape[1]), np.float64)
        for i, g in enumerate(groups):
            self.sums[i] = g.vector_sum
        self.sums[m:] = vectors
        self.sizes = np.array([*(g.size for g in groups), *([1] * len(vectors))], np.float64)
        self.photos: list[set[int]] = [set(g.photos) for g in groups] + [{int(p)} for p in photos]
        self.keys = [g.key for g in groups]
        key_node = {k: i for i, k in enumerate(self.keys)}
        self.forbidden: list[set[int]] = [set() for _ in groups] + [
            {key_node[k] for k in forbidden.get(i, ()) if k in key_node} for i in range(len(vectors))]

    def find(self, i: int) -> int:
        parent = self.parent
        root = i
        while parent[root] != root:
            root = parent[root]
        while parent[i] != root:  # path compression
            parent[i], i = root, parent[i]
        return int(root)

    def try_join(self, a: int, b: int, mean_threshold: float) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb or (ra < self.fixed and rb < self.fixed):
            return False
        if rb < self.fixed or (ra >= self.fixed and len(self.photos[rb]) > len(self.photos[ra])):
            ra, rb = rb, ra  # a fixed group stays the root; otherwise the larger one does
        if ra in self.forbidden[rb] or rb in self.forbidden[ra]:
            return False
        if not self.photos[ra].isdisjoint(self.photos[rb]):
            return False
        mean = float(self.sums[ra] @ self.sums[rb]) / (self.sizes[ra] * self.sizes[rb])
        if mean < mean_threshold:
            return False
        self.parent[rb] = ra
        self.sums[ra] += self.sums[rb]
        self.sizes[ra] += self.sizes[rb]
        self.photos[ra] |= self.photos[rb]
        self.forbidden[ra] |= self.forbidden[rb]
        return True


def link(
    vectors: NDArray[np.float32],
    photos: Sequence[int],
    thresholds: LinkThresholds,
    *,
    groups: Sequence[Group] = (),
    group_faces: NDArray[np.float32] | None = None,
    group_of_face: Sequence[int] = (),
    forbidden: dict[int, set[int]] | None = None,
    neighbours: int = NEIGHBOURS,
) -> LinkResult:
    """Assign new faces to existing people or to new ones.

    Args:
        vectors: ``(n, d)`` unit embeddings of the new faces.
        photos: the photo each new face is in (faces of one photo never share a person).
        thresholds: see ``LinkThresholds``.
        groups: the existing people, fixed.
        group_faces: ``(m, d)`` the existing people's face embeddings, searched for neighbours.
        group_of_face: for each row of ``group_faces``, the index into ``groups`` of its person.
        forbidden: new face index -> group keys it must not join ("not this person").
        neighbours: candidate edges per face.

    Example:
        >>> result = link(vectors, photo_ids, LinkThresholds.from_calibration(engine.calibration))
        >>> result.new_people[0]        # face indices of the largest new person
    """
    n = len(vectors)
    if n == 0:
        return LinkResult({}, [])
    if len(photos) != n:
        raise ValueError(f"photos: expected {n} entries (one per face), got {len(photos)}")
    old = np.zeros((0, vectors.shape[1]), np.float32) if group_faces is None else group_faces
    if len(old) != len(group_of_face):
        raise ValueError(f"group_of_face: expected {len(old)} entries, got {len(group_of_face)}")
    linker = _Linker(groups, vectors, photos, forbidden or {})

    # Candidate edges: each new face's nearest neighbours among the new faces and the existing ones.
    index = faiss.IndexFlatIP(vectors.shape[1])
    index.add(np.ascontiguousarray(np.vstack([vectors, old]), dtype=np.float32))
    k = min(neighbours + 1, n + len(old))
    scores, found = index.search(np.ascontiguousarray(vectors, dtype=np.float32), k)
    source = np.repeat(np.arange(n), k)
    target, score = found.ravel(), scores.ravel()
    keep = (target >= 0) & (target != source) & (score >= thresholds.edge)
    source, target, score = source[keep], target[keep], score[keep]
    # Node numbers: existing people first (0..m-1), then new faces (m..m+n-1).
    m = len(groups)
    target_node = target + m
    existing = target >= n
    target_node[existing] = np.asarray(group_of_face, np.int64)[target[existing] - n]
    source_node = source + m
    for e in np.argsort(-score, kind="stable"):
        linker.try_join(int(source_node[e]), int(target_node[e]), thresholds.mean)

    joined: dict[int, int] = {}
    clusters: dict[int, list[int]] = {}
    for i in range(n):
        root = linker.find(i + m)
        if root < m:
            joined[i] = linker.keys[root]
        else:
            clusters.setdefault(root, []).append(i)
    new_people = sorted(clusters.values(), key=lambda c: (-len(c), c[0]))
    return LinkResult(joined, new_people)


def group_from(key: int, vectors: NDArray[np.float32], photos: Sequence[int]) -> Group:
    """An existing person's ``Group`` from their faces' embeddings and photos."""
    return Group(key=key, vector_sum=vectors.astype(np.float64).sum(axis=0), size=len(vectors),
                 photos={int(p) for p in photos})
