"""Load on loopback: 20 concurrent clients calling ``POST /v1/verify`` with real photos for 30 s against
``facesearch serve`` (uvicorn, one process), as a program with an API key would.

Reports requests per second, p50 and p99 latency, and errors (which must be 0). Bounded in time and
in count (``--seconds``, ``--clients``).

    python benchmarks/api_load.py [--clients 20] [--seconds 30]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, markdown_table, record

PHOTOS = (SHARED / "people" / "obama.jpg", SHARED / "people" / "obama2.jpg")


def multipart(files: dict[str, tuple[str, bytes]]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for field, (name, data) in files.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
                     "Content-Type: image/jpeg\r\n\r\n".encode() + data + b"\r\n")
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    facesearch = [sys.executable, "-m", "facesearch.cli"]
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "FACESEARCH_HOME": home}
        env.pop("FACESEARCH_KEY", None)
        env.pop("FACESEARCH_DATABASE_URL", None)
        subprocess.run([*facesearch, "init"], env=env, check=True, capture_output=True)
        key = json.loads(subprocess.run([*facesearch, "apikey", "add", "load", "--role", "officer", "--json"],
                                        env=env, check=True, capture_output=True, text=True).stdout)["key"]
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = subprocess.Popen([*facesearch, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/v1/verify"
        body, content_type = multipart({"a": ("a.jpg", PHOTOS[0].read_bytes()), "b": ("b.jpg", PHOTOS[1].read_bytes())})
        headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
        try:
            for _ in range(300):
                try:
                    urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2)
                    break
                except OSError:
                    time.sleep(0.1)
            urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers), timeout=120)  # warm-up
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            deadline = time.monotonic() + args.seconds

            def client() -> None:
                while time.monotonic() < deadline:
                    began = time.perf_counter()
                    try:
                        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers),
                                                    timeout=120) as answer:
                            ok = answer.status == 200 and json.loads(answer.read())["same"] is True
                            problem = "" if ok else f"status {answer.status}"
                    except (urllib.error.URLError, OSError) as exc:
                        problem = str(exc)
                    with lock:
                        (errors.append(problem) if problem else latencies.append(time.perf_counter() - began))

            threads = [threading.Thread(target=client) for _ in range(args.clients)]
            began = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            elapsed = time.perf_counter() - began
        finally:
            server.terminate()
            server.wait(timeout=30)
    ms = np.array(latencies) * 1e3
    rows = [[args.clients, f"{elapsed:.0f}", len(latencies), f"{len(latencies) / elapsed:.1f}",
             f"{np.percentile(ms, 50):.0f}", f"{np.percentile(ms, 99):.0f}", len(errors)]]
    table = markdown_table(["clients", "seconds", "requests", "requests/s", "p50 ms", "p99 ms", "errors"], rows)
    print(table)
    if errors:
        print("errors:", errors[:5])
    if not args.no_record:
        record("API load: concurrent verify on loopback", f"python benchmarks/api_load.py --clients {args.clients} "
               f"--seconds {args.seconds:g}", table,
               "Each request uploads two real photos (obama.jpg, obama2.jpg; 2 faces detected and embedded). One "
               "uvicorn process; handlers run in its thread pool; the models use both cores.")


if __name__ == "__main__":
    main()
