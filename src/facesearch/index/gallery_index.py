"""The search index: derived from the database's templates, never the source of truth.

Three kinds, keyed by template id, over unit vectors (inner product = cosine):

- ``exact``: FAISS ``IndexFlatIP``. 13 ms per query at 1e5 templates on two cores, 150 ms at 1e6.
- ``pq``: product-quantised codes scanned with FAISS's 4-bit fast scan, the best few hundred re-ranked
  by their exact vectors. At 1e6 templates about 1.5 ms per query with recall@1 1.000 against exact
  search, built in seconds. The default from ``APPROXIMATE_FROM`` templates.
- ``hnsw``: an HNSW graph, on request. At 1e5 it is as fast as ``pq``, but at 1e6 320-d templates on
  this hardware it reaches only 0.72 recall@1 at 5 ms (efSearch 256) and takes 12 minutes to build.

(``benchmarks/search_latency.py`` measures all three.) A fingerprint of the template ids an index was
built from tells whether it is stale against the database.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import faiss
import numpy as np
from numpy.typing import NDArray

KINDS = ("auto", "exact", "pq", "hnsw")
APPROXIMATE_FROM = 500_000  # templates; below this exact search answers within ~70 ms on two cores
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
PQ_RERANK_FACTOR = 32  # exact re-ranking of k x this many quantised candidates
PQ_TRAIN_MAX = 100_000  # vectors the codebooks are trained on
SINGLE_THREAD_QUERIES = 4  # searches of this many queries or fewer run on one thread
_THREADS = threading.Lock()


def resolve_kind(kind: str, n: int) -> str:
    """``"exact"``, ``"pq"`` or ``"hnsw"`` for a gallery of ``n`` templates."""
    if kind not in KINDS:
        raise ValueError(f"index kind {kind!r}: expected one of {', '.join(KINDS)}")
    if kind == "auto":
        return "pq" if n >= APPROXIMATE_FROM else "exact"
    return kind


def pq_subquantizers(dim: int) -> int:
    """Sub-vectors per code: the fewest that leave at most 5 dimensions each, dividing ``dim`` and even
    (fast scan packs codes in pairs); 0 when there is none (then search is exact)."""
    return next((m for m in range(2, dim + 1, 2) if dim % m == 0 and dim // m <= 5), 0)


def _faiss_index(dim: int, kind: str, training: NDArray[np.float32]) -> faiss.Index:
    if kind == "exact":
        return faiss.IndexFlatIP(dim)
    if kind == "pq":
        m = pq_subquantizers(dim)
        if m == 0 or len(training) < 16 * 40:
            return faiss.IndexFlatIP(dim)  # too few vectors (or an odd size) to train codebooks on: exact
        index: Any = faiss.index_factory(dim, f"PQ{m}x4fs,RFlat", faiss.METRIC_INNER_PRODUCT)
        index.k_factor = PQ_RERANK_FACTOR
        index.train(training[:PQ_TRAIN_MAX])
        return index
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
        """``kind``: ``"exact"``, ``"pq"``, ``"hnsw"``, or ``"auto"`` (``pq`` from ``APPROXIMATE_FROM``)."""
        vectors = np.ascontiguousarray(vectors, np.float32).reshape(-1, dim)
        resolved = resolve_kind(kind, len(vectors))
        inner = _faiss_index(dim, resolved, vectors)
        if resolved == "pq" and isinstance(inner, faiss.IndexFlatIP):
            resolved = "exact"
        index = faiss.IndexIDMap2(inner)
        if len(template_ids):
            index.add_with_ids(vectors, template_ids.astype(np.int64))
        return cls(dim, template_ids.astype(np.int64), identity_ids.astype(np.int64), vectors, resolved, index)

    @classmethod
    def from_serialized(cls, template_ids: NDArray[np.int64], identity_ids: NDArray[np.int64],
                        vectors: NDArray[np.float32], dim: int, kind: str, data: NDArray[np.uint8]) -> GalleryIndex:
        """An approximate index from ``serialized()``: no rebuild (an HNSW graph of a million templates
        takes minutes)."""
        index = faiss.deserialize_index(np.ascontiguousarray(data, np.uint8))
        if index.ntotal != len(template_ids) or index.d != dim:
            raise ValueError(f"index holds {index.ntotal} vectors of {index.d} dimensions, expected "
                             f"{len(template_ids)} of {dim}")
        inner: Any = faiss.downcast_index(index.index)  # type: ignore[attr-defined]
        if kind == "hnsw":
            inner.hnsw.efSearch = HNSW_EF_SEARCH  # search settings are ours, not the file's
        elif kind == "pq":
            inner.k_factor = PQ_RERANK_FACTOR
        return cls(dim, template_ids.astype(np.int64), identity_ids.astype(np.int64),
                   np.ascontiguousarray(vectors, np.float32).reshape(-1, dim), kind, index)

    def serialized(self) -> NDArray[np.uint8] | None:
        """The approximate index as bytes (``None`` for exact search, rebuilt from the vectors at once)."""
        return faiss.serialize_index(self._index) if self.kind != "exact" else None

    def set_search_effort(self, ef_search: int) -> None:
        """HNSW only: candidates kept while searching (more: slower, closer to exact)."""
        if self.kind == "hnsw":
            inner: Any = faiss.downcast_index(self._index.index)  # type: ignore[attr-defined]
            inner.hnsw.efSearch = ef_search

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
        queries = np.ascontiguousarray(queries, np.float32)
        if len(queries) > SINGLE_THREAD_QUERIES:
            return self._index.search(queries, min(k, len(self)))
        # A few queries gain nothing from OpenMP's threads, and their p99 suffers from waking them (at 1e6
        # templates, pq: 7.3 ms on two threads against 3 ms on one). The thread count is process-wide.
        with _THREADS:
            threads = faiss.omp_get_max_threads()
            faiss.omp_set_num_threads(1)
            try:
                return self._index.search(queries, min(k, len(self)))
            finally:
                faiss.omp_set_num_threads(threads)

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
