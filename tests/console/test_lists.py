"""The console's two long lists, searched and paged: the cases list (``/console``: a reference or words of the
title, a status, 25 a page, need to know before anything is matched) and the library's people
(``/console/library``: any part of a name, 60 tiles a page). Bad input is one line on the page, never a trace."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts import service as accounts
from facesearch.api.app import create_app
from facesearch.cases.access import assign
from facesearch.cases.listing import search_cases
from facesearch.cases.service import close_case, create_case
from facesearch.context import Context
from facesearch.library.listing import search_people
from facesearch.settings import Settings
from facesearch.store import sealed_text
from facesearch.store.crypto import Sealer
from facesearch.store.schema import LibraryPersonRow
from support.audit import open_audited

PASSWORD = "correct horse battery"
USERS = {"olga": "officer", "otto": "officer", "rita": "reviewer", "ava": "auditor", "root": "admin",
         "lib": "library"}
LONG_NAME = "Maximiliane Theodora von Hohenzollern-Sigmaringen de la Tour"


@dataclass
class World:
    sessions: sessionmaker[Session]
    app: object

    def client(self, user: str | None = None) -> TestClient:
        client = TestClient(self.app)  # type: ignore[arg-type]
        if user is not None:
            page = client.post("/console/login", data={"username": user, "password": PASSWORD})
            assert page.status_code == 200 and "Sign out" in page.text, page.text[:300]
        return client


def title_of(i: int) -> str:
    """C1..C30: every third on the harbour, the rest on the railway; each with a word of its own."""
    return f"{'Harbour' if i % 3 == 0 else 'Railway'} theft {'alpha' if i == 7 else ''} number{i}".replace("  ", " ")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One installation for the module (the tests only read it): 30 cases, and 71 named people in the library."""
    tmp_path = tmp_path_factory.mktemp("lists")
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    for user, role in USERS.items():
        accounts.add_user(sessions, user, PASSWORD, role, actor="setup")
    ctx = Context(Settings(home=tmp_path), sessions, Sealer(os.urandom(32)))
    until = datetime.now(UTC) + timedelta(days=5)
    for i in range(1, 31):  # odd: drafts; even: authorised; C30 closed
        authorised = {"legal_basis": "Act s.1", "authorisation_ref": f"A-{i}", "authorised_by": "Judge R."}
        create_case(sessions, title=title_of(i), purpose="victim", valid_until=until, actor="user:olga",
                    **(authorised if i % 2 == 0 else {}))
    close_case(sessions, "C30", actor="user:olga")
    assign(sessions, "C3", "otto", actor="user:root")
    assign(sessions, "C3", "rita", actor="user:root")
    name_people(ctx.sessions, [f"Person {i:02d}" for i in range(1, 69)] + ["Anna Berg", "Hanna Larsen", LONG_NAME])
    yield World(ctx.sessions, create_app(ctx, run_jobs=False))


def refs_on(page: str) -> list[str]:
    return re.findall(r'<td><a href="/console/cases/(C\d+)">', page)


def test_the_service_pages_and_searches_the_cases_an_actor_may_see(world: World) -> None:
    first = search_cases(world.sessions, actor="user:root")
    assert (first.total, first.page, first.pages, len(first.items)) == (30, 1, 2, 25)
    assert first.items[0].ref == "C30" and first.items[-1].ref == "C6"  # newest first
    assert [c.ref for c in search_cases(world.sessions, actor="user:root", page=2).items] == [
        "C5", "C4", "C3", "C2", "C1"]
    harbour = search_cases(world.sessions, actor="user:ava", text="  HARBOUR  theft ")
    assert harbour.total == 10 and all("Harbour" in c.title for c in harbour.items)
    assert [c.ref for c in search_cases(world.sessions, actor="user:root", text="c7").items] == ["C7"]
    assert [c.ref for c in search_cases(world.sessions, actor="user:root", text="alpha").items] == ["C7"]
    drafts = search_cases(world.sessions, actor="user:root", status="draft")
    assert drafts.total == 15 and {c.status for c in drafts.items} == {"draft"}
    assert [c.ref for c in search_cases(world.sessions, actor="user:root", status="closed").items] == ["C30"]
    both = search_cases(world.sessions, actor="user:root", text="harbour", status="authorised")
    assert [c.ref for c in both.items] == ["C24", "C18", "C12", "C6"]  # C30 is closed
    nothing = search_cases(world.sessions, actor="user:root", text="submarine")
    assert (nothing.total, nothing.pages, nothing.items) == (0, 1, [])


def test_need_to_know_holds_for_searches_counts_and_pages(world: World) -> None:
    otto = search_cases(world.sessions, actor="user:otto")
    assert [c.ref for c in otto.items] == ["C3"] and (otto.total, otto.pages) == (1, 1)
    for other in ("Railway theft number4", "alpha", "C7", "7", "theft"):
        found = search_cases(world.sessions, actor="user:otto", text=other)
        assert found.total == (1 if other == "theft" else 0), other
    client = world.client("otto")
    page = client.get("/console").text
    assert refs_on(page) == ["C3"] and "Page 1 of 1 · 1 case" in page
    hidden = client.get("/console", params={"q": "Railway theft number4"})
    assert hidden.status_code == 200 and refs_on(hidden.text) == [] and "0 cases found" in hidden.text
    assert "number4" not in hidden.text.replace('value="Railway theft number4"', "")
    beyond = client.get("/console", params={"page": "2"})  # says only how many pages otto has
    assert beyond.status_code == 400 and "page 2: there is 1 page" in beyond.text and refs_on(beyond.text) == []


def test_the_console_list_pages_keep_the_search(world: World) -> None:
    client = world.client("olga")
    first = client.get("/console")
    assert first.status_code == 200 and "Page 1 of 2 · 30 cases" in first.text
    assert len(refs_on(first.text)) == 25 and 'href="/console?page=2" rel="next">Older' in first.text
    assert 'rel="prev"' not in first.text and 'class="fields"' in first.text and 'name="q"' in first.text
    second = client.get("/console?page=2")
    assert refs_on(second.text) == ["C5", "C4", "C3", "C2", "C1"] and 'href="/console" rel="prev">' in second.text
    railway = client.get("/console", params={"q": "railway", "status": "draft"})
    assert "Page 1 of 1 · 10 cases found" in railway.text and len(refs_on(railway.text)) == 10
    assert '<option selected>draft</option>' in railway.text and 'value="railway"' in railway.text
    railway_all = client.get("/console", params={"q": "railway"})
    assert "Page 1 of 1 · 20 cases found" in railway_all.text
    theft = client.get("/console", params={"q": "theft"})
    assert 'href="/console?q=theft&amp;page=2"' in theft.text
    assert refs_on(client.get("/console?q=theft&page=2").text) == ["C5", "C4", "C3", "C2", "C1"]
    assert refs_on(client.get("/console", params={"q": "C7"}).text) == ["C7"]


@pytest.mark.parametrize(("query", "said"), [
    ({"page": "0"}, "not a page number"),
    ({"page": "-1"}, "not a page number"),
    ({"page": "9" * 40}, "not a page number"),
    ({"page": "99999"}, "page 99999: there are 2 pages"),
    ({"page": "abc"}, "not a page number"),
    ({"page": "２"}, "not a page number"),  # a full-width digit is no page number
    ({"page": "1.5"}, "not a page number"),
    ({"q": "x" * 201}, "search: at most 200 characters"),
    ({"q": "bad\x01text"}, "search: contains control characters"),
    ({"status": "open"}, "status &#39;open&#39;: not one of draft, authorised, active, closed, expired"),
    ({"status": "<script>alert(1)</script>"}, "not one of draft"),
])
def test_bad_input_on_the_cases_list_is_one_line(world: World, query: dict[str, str], said: str) -> None:
    answer = world.client("root").get("/console", params=query)
    assert answer.status_code == 400 and answer.headers["content-type"].startswith("text/html")
    assert said in answer.text and "Traceback" not in answer.text and "<script>alert" not in answer.text
    assert 'id="list-error"' in answer.text and 'name="q"' in answer.text  # the form stays, to try again


@pytest.mark.parametrize(("user", "status"), [("root", 200), ("olga", 200), ("otto", 200), ("rita", 200),
                                              ("ava", 200), ("lib", 403)])
def test_every_role_that_reads_cases_sees_the_list_and_others_are_refused(world: World, user: str,
                                                                         status: int) -> None:
    answer = world.client(user).get("/console", params={"q": "theft"})
    assert answer.status_code == status and answer.headers["content-type"].startswith("text/html")
    if status == 403:
        assert "Not allowed" in answer.text and "C1" not in refs_on(answer.text)


def test_no_credentials_go_to_the_sign_in_page(world: World) -> None:
    for path in ("/console?q=theft&page=2", "/console/library?q=ann"):
        answer = world.client().get(path, follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login")


def test_two_clients_at_once_see_their_own_lists(world: World) -> None:
    olga, otto = world.client("olga"), world.client("otto")

    def look(n: int) -> tuple[str, list[str]]:
        who, client = (("olga", olga), ("otto", otto))[n % 2]
        return who, refs_on(client.get("/console", params={"q": "theft", "page": "2" if who == "olga" else ""}).text)

    with ThreadPoolExecutor(max_workers=2) as pool:
        seen = list(pool.map(look, range(16)))
    assert {who: refs for who, refs in seen} == {"olga": ["C5", "C4", "C3", "C2", "C1"], "otto": ["C3"]}
    assert len({tuple(refs) for _, refs in seen}) == 2


def name_people(sessions: sessionmaker[Session], names: list[str]) -> None:
    """Named people straight into the library (sealed, as naming one does): named people are always listed,
    so the grid needs no photos."""
    with sessions.begin() as s:
        for name in names:
            sealed_text.put(s, LibraryPersonRow(created_at=datetime.now(UTC)), {"name": name})


def test_library_people_are_searched_and_paged(world: World) -> None:
    everyone = search_people(world.sessions)
    assert (everyone.total, everyone.pages, len(everyone.items)) == (71, 2, 60)
    assert [p.name for p in search_people(world.sessions, text="ANNA").items] == ["Anna Berg", "Hanna Larsen"]
    assert [p.name for p in search_people(world.sessions, text="berg ann").items] == ["Anna Berg"]
    assert [p.ref for p in search_people(world.sessions, text="p3").items] == ["P3"]

    client = world.client("lib")
    first = client.get("/console/library")
    assert first.status_code == 200 and "Page 1 of 2 · 71 people" in first.text
    assert first.text.count('class="person"') == 60 and 'href="/console/library?page=2" rel="next"' in first.text
    second = client.get("/console/library?page=2")
    assert second.text.count('class="person"') == 11 and f'title="{LONG_NAME}"' in second.text
    assert '<span class="muted counts">0 faces · 0 photos</span>' in second.text
    found = client.get("/console/library", params={"q": "anna"})
    assert found.text.count('class="person"') == 2 and "Page 1 of 1 · 2 people found" in found.text
    assert "Person 01" not in found.text and 'class="fields"' in found.text
    assert "Nobody matches." in client.get("/console/library", params={"q": "zebra"}).text


@pytest.mark.parametrize(("query", "said"), [
    ({"page": "0"}, "not a page number"), ({"page": "abc"}, "not a page number"),
    ({"page": "3"}, "page 3: there are 2 pages"), ({"q": "y" * 201}, "search: at most 200 characters"),
])
def test_bad_input_on_the_library_is_one_line(world: World, query: dict[str, str], said: str) -> None:
    answer = world.client("lib").get("/console/library", params=query)
    assert answer.status_code == 400 and said in answer.text and "Traceback" not in answer.text


def test_the_library_is_not_for_case_roles(world: World) -> None:
    answer = world.client("olga").get("/console/library", params={"q": "anna"})
    assert answer.status_code == 403 and "Anna" not in answer.text
