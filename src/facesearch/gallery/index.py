"""The search index: derived from the database's templates, never the source of truth.

Exact inner-product search (FAISS ``IndexFlatIP``) over unit vectors, keyed by template id; past
``HNSW_FROM`` templates (or when asked) an HNSW graph instead: at 1e5 templates it answers in about
1 ms where exact search takes 13 ms, with recall@1 0.995 (``benchmarks/search_latency.py``). A
fingerprint of the template ids it was built from tells whether it is stale against the database.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

HNSW_FROM = 1_000_000  # templates; below this exact search is fast enough on two cores
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def resolve_kind(kind: str, n: int) -> str:
    """``"exact"`` or ``"hnsw"`` for a gallery of ``n`` templates."""
    if kind not in ("auto", "exact", "hnsw"):
        raise ValueError(f"index kind {kind!r}: expected auto, exact or hnsw")
    if kind == "auto":
        return "hnsw" if n >= HNSW_FROM else "exact"
    return kind


def _faiss_index(dim: int, kind: str) -> faiss.Index:
    if kind == "exact":
        return faiss.IndexFlatIP(dim)
    graph = faiss.IndexHNSWFlat(dim, HNSW_M, faiss.METRIC_INNER_PRODUCT)
    graph.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
    graph.hnsw.efSearch = HNSW_EF_SEARCH
    return graph


def fingerprint(template_ids: NDArray[np.int64]) -> str:
    return hashlib.sha256(np.sort(template_ids).astype("<i8").tobytes()).hexdigest()


@dataclass
class GalleryIndex:
    """Template vectors by id, searchable by inner product (cosine, for unit vectors)."""

    dim: int
    template_ids: NDArray[np.int64]
    identity_ids: NDArray[np.int64]
    vectors: NDArray[np.float32]
    kind: str  # "exact" or "hnsw"
    _index: faiss.Index

    @classmethod
    def build(cls, template_ids: NDArray[np.int64], identity_ids: NDArray[np.int64],
              vectors: NDArray[np.float32], dim: int, kind: str = "auto") -> GalleryIndex:
        """``kind``: ``"exact"``, ``"hnsw"``, or ``"auto"`` (HNSW from ``HNSW_FROM`` templates)."""
        vectors = np.ascontiguousarray(vectors, np.float32).reshape(-1, dim)
        resolved = resolve_kind(kind, len(vectors))
        index = faiss.IndexIDMap2(_faiss_index(dim, resolved))
        if len(template_ids):
            index.add_with_ids(vectors, template_ids.astype(np.int64))
        return cls(dim, template_ids.astype(np.int64), identity_ids.astype(np.int64), vectors, resolved, index)

    @classmethod
    def from_graph(cls, template_ids: NDArray[np.int64], identity_ids: NDArray[np.int64],
                   vectors: NDArray[np.float32], dim: int, graph: NDArray[np.uint8]) -> GalleryIndex:
        """An HNSW index from its serialised graph (``graph_bytes``): no rebuild, which takes minutes at
        a million templates."""
        index = faiss.deserialize_index(np.ascontiguousarray(graph, np.uint8))
        inner: Any = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
        inner.hnsw.efSearch = HNSW_EF_SEARCH  # a search setting: ours, not the file's
        if index.ntotal != len(template_ids) or index.d != dim:
            raise ValueError(f"graph holds {index.ntotal} vectors of {index.d} dimensions, expected "
                             f"{len(template_ids)} of {dim}")
        return cls(dim, template_ids.astype(np.int64), identity_ids.astype(np.int64),
                   np.ascontiguousarray(vectors, np.float32).reshape(-1, dim), "hnsw", index)

    def graph_bytes(self) -> NDArray[np.uint8] | None:
        """The serialised HNSW graph (``None`` for exact search, which needs nothing beyond the vectors)."""
        return faiss.serialize_index(self._index) if self.kind == "hnsw" else None

    def subset(self, identity_ids: set[int]) -> GalleryIndex:
        """The templates of some identities only (a case's watchlist)."""
        keep = np.isin(self.identity_ids, np.fromiter(identity_ids, np.int64, len(identity_ids)))
        return GalleryIndex.build(self.template_ids[keep], self.identity_ids[keep], self.vectors[keep], self.dim)

    def add(self, template_ids: NDArray[np.int64], identity_ids: NDArray[np.int64],
            vectors: NDArray[np.float32]) -> None:
        """Add templates in place: an HNSW graph grows by the new nodes instead of being rebuilt."""
        vectors = np.ascontiguousarray(vectors, np.float32).reshape(-1, self.dim)
        self._index.add_with_ids(vectors, template_ids.astype(np.int64))
        self.template_ids = np.concatenate([self.template_ids, template_ids.astype(np.int64)])
        self.identity_ids = np.concatenate([self.identity_ids, identity_ids.astype(np.int64)])
        self.vectors = np.vstack([self.vectors, vectors])
        self.__dict__.pop("_owner_lookup", None)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.template_ids)

    def __len__(self) -> int:
        return int(self._index.ntotal)

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-``k`` scores and template ids per query (``-1`` ids where the gallery has fewer)."""
        if len(self) == 0 or len(queries) == 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        scores, ids = self._index.search(np.ascontiguousarray(queries, np.float32), min(k, len(self)))
        return scores, ids

    def matches(self, queries: NDArray[np.float32], threshold: float, k: int) -> list[list[tuple[int, float]]]:
        """Per query, the identities with a template scoring at least ``threshold``: ``(identity, best
        score)``, best first, at most ``k`` (several templates of one person count once)."""
        scores, ids = self.search(queries, k * 4)
        owners = self.identity_of(ids)
        out = []
        for row_scores, row_owners in zip(scores, owners, strict=True):
            best: dict[int, float] = {}
            for score, owner in zip(row_scores, row_owners, strict=True):
                if owner >= 0 and score >= threshold:
                    best[int(owner)] = max(best.get(int(owner), -1.0), float(score))
            out.append(sorted(best.items(), key=lambda kv: -kv[1])[:k])
        return out

    @cached_property
    def _owner_lookup(self) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
        order = np.argsort(self.template_ids, kind="stable")
        return self.template_ids[order], self.identity_ids[order]

    def identity_of(self, template_ids: NDArray[np.int64]) -> NDArray[np.int64]:
        """The identity owning each template id (``-1`` for ids not in the index, such as FAISS's padding)."""
        keys, owners = self._owner_lookup
        wanted = np.asarray(template_ids, np.int64)
        if len(keys) == 0:
            return np.full(wanted.shape, -1, np.int64)
        at = np.clip(np.searchsorted(keys, wanted), 0, len(keys) - 1)
        return np.where(keys[at] == wanted, owners[at], -1).astype(np.int64)
