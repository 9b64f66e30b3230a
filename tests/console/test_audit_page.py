"""The console's audit page (``/console/audit``) through the ASGI test client: who may open it, the filter form
and its answers, paging, details as JSON, and bad input as one line on the page (never a trace or a 500)."""

from __future__ import annotations

import html
import json
import os
import re
import threading
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from facesearch.accounts import service as accounts
from facesearch.accounts.roles import ROLES, allowed
from facesearch.api.app import create_app
from facesearch.audit import log as audit
from facesearch.context import Context
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from support.audit import open_audited

PASSWORD = "correct horse battery"
ROW = re.compile(r"<tr><td>(\d+)</td><td class=\"at\">([^<]*)</td>\s*<td>([^<]*)</td><td>([^<]*)</td><td>([^<]*)</td>")


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("audit-page")
    _, sessions = open_audited(f"sqlite:///{home / 'c.db'}")
    for role in ROLES:
        accounts.add_user(sessions, role, PASSWORD, role, actor="setup")
    with sessions.begin() as s:  # 120 entries besides the accounts': three pages of case.update for C1 and C2
        for i in range(120):
            audit.append(s, actor=f"user:olga{i % 2}", action="case.update" if i % 3 else "case.note",
                         case_id=f"C{1 + i % 2}", subject=f"field-{i}",
                         details={"value": i, "note": "line one\nline two", "hash": "ab" * 32,
                                                    "bidi": "txt\u202eexe"})
    return create_app(Context(Settings(home=home), sessions, Sealer(os.urandom(32))), run_jobs=False)


def signed_in(app: Any, user: str) -> TestClient:
    client = TestClient(app)
    page = client.post("/console/login", data={"username": user, "password": PASSWORD})
    assert page.status_code == 200 and "Sign out" in page.text, page.text[:300]
    return client


def rows(text: str) -> list[tuple[int, str, str, str, str]]:
    return [(int(seq), at, html.unescape(actor), action, case) for seq, at, actor, action, case in ROW.findall(text)]


@pytest.mark.parametrize("role", ROLES)
def test_only_roles_that_read_the_audit_log_see_it(app: Any, role: str) -> None:
    page = signed_in(app, role).get("/console/audit")
    if allowed(role, "audit.read"):
        assert page.status_code == 200 and "Chain verified" in page.text and 'id="audit-filter"' in page.text
    else:
        assert page.status_code == 403 and page.headers["content-type"].startswith("text/html")
        assert "Not allowed" in page.text and "audit.read" in page.text and "Chain verified" not in page.text


def test_without_credentials_it_sends_to_sign_in(app: Any) -> None:
    answer = TestClient(app).get("/console/audit?case=C1&page=2", follow_redirects=False)
    assert answer.status_code == 303 and "/console/login" in answer.headers["location"]


def test_the_first_page_newest_first_with_paging_and_the_form(app: Any) -> None:
    page = signed_in(app, "auditor").get("/console/audit")
    assert page.status_code == 200
    shown = rows(page.text)
    seqs = [r[0] for r in shown]
    assert len(shown) == 50 and seqs == sorted(seqs, reverse=True)
    total = seqs[0] + 1
    assert f"{total} entries" in page.text and f"page 1 of {-(-total // 50)}" in page.text
    assert 'rel="next"' in page.text and 'href="/console/audit?page=2"' in page.text and 'rel="prev"' not in page.text
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", r[1]) for r in shown)
    assert "white-space:nowrap" in page.text and 'class="fields"' in page.text
    for field in ("case", "actor", "action", "from", "until"):
        assert f'name="{field}"' in page.text
    assert '<option value="case.*">case.* (all)</option>' in page.text and "<option>case.update</option>" in page.text
    # Details: a one-line summary, and the whole JSON, pretty and escaped, to open.
    assert "<details><summary>field-119 · " in page.text
    assert '&#34;value&#34;: 119' in page.text or '&quot;value&quot;: 119' in page.text
    assert "line one\\nline two" in page.text  # the newline as its JSON escape, not a second line
    pre = html.unescape(re.search(r"<pre>(.*?)</pre>", page.text, re.S).group(1))  # type: ignore[union-attr]
    assert json.loads(pre) == {"value": 119, "note": "line one\nline two", "hash": "ab" * 32, "bidi": "txt\u202eexe"}
    assert "\u202e" not in page.text and "\\u202e" in pre  # shown as an escape, still the same JSON


def test_filters_narrow_and_paging_keeps_them(app: Any) -> None:
    client = signed_in(app, "auditor")
    page = client.get("/console/audit", params={"case": "c2", "actor": "OLGA1", "action": "case.*"})
    assert page.status_code == 200
    shown = rows(page.text)
    assert len(shown) == 50 and {(r[2], r[4]) for r in shown} == {("user:olga1", "C2")}
    assert "60 entries match" in page.text and "page 1 of 2" in page.text
    older = re.search(r'href="([^"]+)" rel="next"', page.text).group(1)  # type: ignore[union-attr]
    assert "case=C2" in older and "action=case.%2A" in older
    second = client.get(html.unescape(older))
    assert "page 2 of 2" in second.text and 'rel="prev"' in second.text and 'rel="next"' not in second.text
    assert len(rows(second.text)) == 10 and {r[3] for r in rows(second.text)} <= {"case.update", "case.note"}
    exact = client.get("/console/audit", params={"action": "case.note", "case": "C1"})
    assert {r[3] for r in rows(exact.text)} == {"case.note"} and "20 entries match" in exact.text
    assert '<option selected>case.note</option>' in exact.text  # the form shows what was asked
    today = client.get("/console/audit", params={"from": "2000-01-01", "until": "2999-12-31", "action": "case.note"})
    assert "40 entries match" in today.text
    none = client.get("/console/audit", params={"until": "2000-01-01"})
    assert none.status_code == 200 and "No entries match." in none.text and "0 entries match" in none.text
    assert "page 1 of 1" in none.text


@pytest.mark.parametrize(("query", "message"), [
    ("from=31-01-2025", "from: not a date"), ("until=2025-02-30", "until: not a date"),
    ("from=2025-02-02&until=2025-02-01", "after until"), ("case=C1%27%3B--", "not a case id"),
    ("case=CX", "not a case id"), ("page=0", "not a page number"), ("page=-1", "not a page number"),
    ("page=abc", "not a page number"), ("page=99999999999999999999999", "not a page number"),
    ("page=999", "there are"), ("actor=" + "x" * 201, "too long"), ("action=" + "y" * 5000, "too long"),
    ("case=" + "C" * 300, "too long"), ("from=" + "2" * 300, "too long"), ("actor=a%0Ab", "control characters"),
    ("actor=%ED%A0%80", ""), ("from=%00", "control characters"), ("page=%EF%BC%91", "not a page number"),
])
def test_bad_input_is_one_line_on_the_page(app: Any, query: str, message: str) -> None:
    page = signed_in(app, "auditor").get(f"/console/audit?{query}")
    assert page.status_code in (200, 400) and page.headers["content-type"].startswith("text/html")
    if page.status_code == 400:
        error = re.search(r'<p class="error audit-error" role="alert">([^<]*)</p>', page.text)
        assert error is not None and message in html.unescape(error.group(1)) and len(error.group(1)) <= 400
        assert "Chain verified" in page.text and 'id="audit-filter"' in page.text and "Traceback" not in page.text
        assert 'value="' + "x" * 201 not in page.text  # the form never shows more than it accepts
    else:
        assert message == ""  # only undecodable bytes may be read as harmless replacement characters


def test_two_auditors_at_once(app: Any) -> None:
    people = [signed_in(app, "auditor"), signed_in(app, "admin")]
    answers: list[tuple[int, str]] = []

    def read(client: TestClient, case: str) -> None:
        for page in (1, 2):
            got = client.get(f"/console/audit?case={quote(case)}&page={page}")
            answers.append((got.status_code, case if {r[4] for r in rows(got.text)} == {case} else "mixed"))

    threads = [threading.Thread(target=read, args=(client, case)) for client, case in zip(people, ("C1", "C2"),
                                                                                          strict=True)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(answers) == [(200, "C1"), (200, "C1"), (200, "C2"), (200, "C2")]


def test_the_api_listing_takes_the_same_filters(app: Any) -> None:
    client = signed_in(app, "auditor")
    entries = client.get("/v1/audit", params={"case": "C2", "actor": "olga1", "action": "case.*", "from": "2000-01-01"})
    assert entries.status_code == 200 and len(entries.json()) == 60
    assert {(e["case_id"], e["actor"]) for e in entries.json()} == {("C2", "user:olga1")}
    seqs = [e["seq"] for e in entries.json()]
    assert seqs == sorted(seqs)  # oldest first, as before
    assert client.get("/v1/audit", params={"until": "2000-01-01"}).json() == []
    assert len(client.get("/v1/audit").json()) == len(client.get("/v1/audit", params={"case": ""}).json())
    for bad in ({"case": "CX"}, {"actor": "x" * 201}, {"from": "2025-02-02", "until": "2025-02-01"}):
        refused = client.get("/v1/audit", params=bad)
        assert refused.status_code == 400 and refused.json()["kind"] == "bad_input", (bad, refused.text)
    assert client.get("/v1/audit", params={"from": "yesterday"}).status_code == 400
