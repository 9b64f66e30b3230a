"""What the interfaces cost around the services: a CLI command's wall time and the API's requests per
second on routes that load no model, for this tree and a baseline commit, side by side in one run.

Each tree is run from its own source (``PYTHONPATH=<tree>/src``, the same virtual environment) over a data
directory of its own with the same content: 30 cases and an API key, made through the CLI. Measured, in
alternating rounds so that the machine's drift falls on both alike:

- ``facesearch case list --json`` (start-up, opening the database, listing): median wall time;
- ``facesearch serve`` on loopback: ``GET /v1/cases`` and ``GET /health`` one after another for a few
  seconds each: requests per second and median latency.

    python benchmarks/interface_overhead.py [--baseline REV] [--rounds 2] [--seconds 4]

The default baseline is the commit before the service layer (issue 12) began.
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, markdown_table, record
from _trees import cli, export_tree, served, short_rev

CASES = 30
FIRST_COMMIT_OF_THE_CHANGE = ":/^Foundation for one service layer"


def baseline_rev() -> str:
    first = subprocess.run(["git", "rev-parse", FIRST_COMMIT_OF_THE_CHANGE], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.strip()
    return f"{first}~1"


def prepare(src: Path, home: Path) -> str:
    """A data directory with CASES cases; returns an officer's API key."""
    cli(src, home, "init")
    auth = ["--purpose", "victim", "--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z"]
    until = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 5 * 86400))
    for i in range(CASES):
        cli(src, home, "case", "create", "--title", f"case {i}", *auth, "--valid-until", until)
    return str(json.loads(cli(src, home, "apikey", "add", "bench", "--role", "officer", "--json").stdout)["key"])


def time_cli(src: Path, home: Path, runs: int = 5) -> float:
    walls = []
    for _ in range(runs):
        began = time.perf_counter()
        listed = json.loads(cli(src, home, "case", "list", "--json").stdout)
        walls.append(time.perf_counter() - began)
        assert len(listed) == CASES
    return statistics.median(walls)


def hammer(port: int, path: str, key: str, seconds: float) -> tuple[float, float]:
    """Requests per second and median latency (ms) of ``GET path``, one request after another."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline and len(latencies) < 100_000:
        began = time.perf_counter()
        conn.request("GET", path, headers={"Authorization": f"Bearer {key}"})
        answer = conn.getresponse()
        answer.read()
        assert answer.status == 200, (path, answer.status)
        latencies.append(time.perf_counter() - began)
    conn.close()
    return len(latencies) / sum(latencies), statistics.median(latencies) * 1e3


def time_api(src: Path, home: Path, key: str, seconds: float) -> dict[str, float]:
    with served(src, home) as port:
        hammer(port, "/v1/cases", key, 0.5)  # warm-up
        cases_rps, cases_ms = hammer(port, "/v1/cases", key, seconds)
        health_rps, health_ms = hammer(port, "/health", key, seconds)
    return {"cases_rps": cases_rps, "cases_ms": cases_ms, "health_rps": health_rps, "health_ms": health_ms}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=None, help="Commit to compare with (default: before issue 12).")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args()
    rev = args.baseline or baseline_rev()
    short = short_rev(rev)
    with tempfile.TemporaryDirectory(prefix="fs-interfaces-") as work:
        trees = {f"baseline {short}": export_tree(rev, Path(work) / "baseline"), "this tree": ROOT / "src"}
        homes = {name: Path(work) / f"home-{i}" for i, name in enumerate(trees)}
        keys = {name: prepare(src, homes[name]) for name, src in trees.items()}
        samples: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
        for _ in range(args.rounds):
            for name, src in trees.items():
                sample = {"cli_s": time_cli(src, homes[name])}
                sample.update(time_api(src, homes[name], keys[name], args.seconds))
                samples[name].append(sample)
    medians = {name: {k: statistics.median(s[k] for s in runs) for k in runs[0]} for name, runs in samples.items()}
    base, now = (medians[n] for n in trees)
    rows = [[name, f"{m['cli_s']:.2f}", f"{m['cases_rps']:.0f}", f"{m['cases_ms']:.2f}", f"{m['health_rps']:.0f}",
             f"{m['health_ms']:.2f}"] for name, m in medians.items()]
    rows.append(["ratio (this / baseline)", f"{now['cli_s'] / base['cli_s']:.2f}",
                 f"{now['cases_rps'] / base['cases_rps']:.2f}", f"{now['cases_ms'] / base['cases_ms']:.2f}",
                 f"{now['health_rps'] / base['health_rps']:.2f}", f"{now['health_ms'] / base['health_ms']:.2f}"])
    table = markdown_table(["tree", "case list --json (s)", "GET /v1/cases (req/s)", "p50 (ms)",
                            "GET /health (req/s)", "p50 (ms)"], rows)
    print(table)
    record("Interface overhead: the service layer (issue 12) against its baseline",
           " ".join(["python benchmarks/interface_overhead.py", *sys.argv[1:]]), table,
           f"{CASES} cases; medians of {args.rounds} alternating rounds; CLI: median of 5 runs per round; API: one "
           f"client, sequential requests for {args.seconds:g} s per route, on loopback.")


if __name__ == "__main__":
    main()
