"""Audited writes under concurrent load, on loopback: clients creating cases and exporting them (each an
audit entry; an export's transaction reads the log's head before it writes anything, the race a deferred
SQLite transaction loses) against ``facesearch serve`` on SQLite, for this tree and a baseline commit in one
run.

Reports, per tree: requests per second, server errors (5xx) and dropped connections (both must be 0), and
whether the audit chain verifies afterwards. Bounded in time and count (``--seconds``, ``--clients``).

    python benchmarks/audited_writes.py [--baseline REV] [--clients 8] [--seconds 15]

The default baseline is the commit before audited writes were serialised (issue 13, item 2).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, markdown_table, record
from _trees import cli, export_tree, served, short_rev

THE_CHANGE = ":/^Audited writes serialise"


def load(port: int, key: str, clients: int, seconds: float) -> Counter[str]:
    """``clients`` threads, each alternating a new case and an export of its last one, until ``seconds`` pass.
    (No failed sign-ins here: each costs an argon2 check, which would measure the hash, not the log.)"""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    deadline = time.monotonic() + seconds
    until = (datetime.now(UTC) + timedelta(days=3)).isoformat()

    def client(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n, made = 0, "C1"
        auth = {"Authorization": f"Bearer {key}"}
        while time.monotonic() < deadline and n < 100_000:
            n += 1
            if n % 2:
                body, path = {"title": f"c{k}-{n}", "purpose": "victim", "valid_until": until}, "/v1/cases"
            else:  # an audited hand-over whose transaction reads the log's head before it writes anything
                body, path = {}, f"/v1/exports?case={made}"
            try:
                conn.request("POST", path, body=json.dumps(body), headers={"Content-Type": "application/json",
                                                                           **auth})
                answer = conn.getresponse()
                text = answer.read()
                kind = "5xx" if answer.status >= 500 else "ok"
                if path == "/v1/cases" and answer.status == 201:  # the case to export next
                    made = json.loads(text)["id"]
            except (OSError, http.client.HTTPException):
                kind = "dropped"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with lock:
                outcomes[kind] += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(k,)) for k in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=None, help="Commit to compare with (default: before the change).")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    rev = args.baseline or f"{short_rev(THE_CHANGE)}~1"
    rows = []
    with tempfile.TemporaryDirectory(prefix="fs-audited-") as work:
        trees = {f"baseline {short_rev(rev)}": export_tree(rev, Path(work) / "baseline"), "this tree": ROOT / "src"}
        for i, (name, src) in enumerate(trees.items()):
            home = Path(work) / f"home-{i}"
            cli(src, home, "init")
            key = json.loads(cli(src, home, "apikey", "add", "load", "--role", "officer", "--json").stdout)["key"]
            with served(src, home) as port:
                began = time.monotonic()
                outcomes = load(port, key, args.clients, args.seconds)
                elapsed = time.monotonic() - began
            verified = subprocess.run([sys.executable, "-m", "facesearch.cli", "audit", "verify", "--json"],
                                      env={**os.environ, "PYTHONPATH": str(src), "FACESEARCH_HOME": str(home)},
                                      capture_output=True, text=True, check=False)
            chain = json.loads(verified.stdout) if verified.stdout else {"ok": False, "checked": 0}
            total = sum(outcomes.values())
            rows.append([name, total, f"{total / elapsed:.0f}", outcomes["5xx"], outcomes["dropped"],
                         f"{'yes' if chain['ok'] else 'NO'} ({chain['checked']} entries)"])
    table = markdown_table(["tree", "requests", "req/s", "server errors", "dropped", "chain verifies"], rows)
    print(table)
    record("Audited writes under concurrent load (issue 13, item 2)",
           " ".join(["python benchmarks/audited_writes.py", *sys.argv[1:]]), table,
           f"{args.clients} clients for {args.seconds:g} s on SQLite, each alternating POST /v1/cases and POST "
           "/v1/exports?case=<it> (both audited); one uvicorn process.")


if __name__ == "__main__":
    main()
