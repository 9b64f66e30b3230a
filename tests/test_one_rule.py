"""One rule in one place: references, error kinds and the case date rule mean the same from every
interface. (The API's and the console's side of the same rules: tests/api/test_console_forms.py.)"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from facesearch.cases.service import CaseError, CaseNotFound, CaseRefused, parse_case_time
from facesearch.errors import ERROR_STATUS, ErrorKind, FacesearchError, ImageError, ModelError
from facesearch.refs import MAX_ID, RefError, RefKind, normalise_ref, parse_case_ref, parse_ref
from facesearch.review.service import ReviewConflict, SightingNotFound
from owned_keys import add_people
from owned_keys import run_as as run


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("C12", RefKind.CASE, 12), ("c12", RefKind.CASE, 12), ("12", RefKind.CASE, 12), (" C7 ", RefKind.CASE, 7),
    ("P3", RefKind.PERSON, 3), ("f40", RefKind.FACE, 40), (5, RefKind.CASE, 5),
])
def test_references_parse_one_way(text: str | int, kind: RefKind, expected: int) -> None:
    assert parse_ref(text, kind) == expected


@pytest.mark.parametrize("text", [
    "C１２",  # full-width digits: str.isdigit() says yes, and int() would read them
    "C١٢",  # Arabic-Indic digits
    "C", "", "C-1", "C0", "C1.5", "P1", "CC1", "C 1", str(MAX_ID + 1), "9" * 40,
])
def test_anything_else_is_one_line_naming_the_input(text: str) -> None:
    with pytest.raises(RefError) as caught:
        parse_case_ref(text)
    assert "not a case id" in str(caught.value) and "\n" not in str(caught.value)
    assert caught.value.kind == ErrorKind.BAD_INPUT


def test_references_have_one_spelling() -> None:
    assert normalise_ref("c007", RefKind.CASE) == "C7"
    assert normalise_ref("p3", RefKind.PERSON) == "P3"


def test_error_kinds_come_from_the_class_not_the_message() -> None:
    assert ERROR_STATUS == {ErrorKind.BAD_INPUT: 400, ErrorKind.NOT_FOUND: 404, ErrorKind.CONFLICT: 409,
                            ErrorKind.REFUSED: 400, ErrorKind.UNAVAILABLE: 503, ErrorKind.LIMITED: 429,
                            ErrorKind.STORAGE_FULL: 507, ErrorKind.FORBIDDEN: 403}
    # A "no such" message in a plain error is still a bad request; a not-found class is a 404 whatever it says.
    assert FacesearchError("C1", "no such case").http_status == 400
    assert CaseNotFound("C1", "was never opened").http_status == 404
    assert isinstance(CaseNotFound("C1", "x"), CaseError)  # callers catching the domain's base still do
    assert CaseRefused("C1", "already expired").kind == ErrorKind.REFUSED
    assert SightingNotFound("sighting 1", "x").http_status == 404
    assert ReviewConflict("sighting 1", "x").http_status == 409
    assert ImageError("a.jpg", "x").kind == ErrorKind.BAD_INPUT
    assert ModelError("dlib", "x").kind == ErrorKind.UNAVAILABLE


@pytest.mark.parametrize(("given", "end_of_day", "expected"), [
    ("2025-01-31", True, datetime(2025, 1, 31, 23, 59, 59, 999999, UTC)),
    ("2025-01-31", False, datetime(2025, 1, 31, 0, 0, tzinfo=UTC)),
    (date(2025, 1, 31), True, datetime(2025, 1, 31, 23, 59, 59, 999999, UTC)),
    ("2025-01-31T10:30", True, datetime(2025, 1, 31, 10, 30, tzinfo=UTC)),  # a time is taken as given
    ("2025-01-31T10:30+02:00", True, datetime(2025, 1, 31, 8, 30, tzinfo=UTC)),
    (datetime(2025, 1, 31, 10, 30), True, datetime(2025, 1, 31, 10, 30, tzinfo=UTC)),
])
def test_the_case_date_rule(given: str | date | datetime, end_of_day: bool, expected: datetime) -> None:
    assert parse_case_time(given, end_of_day=end_of_day) == expected


def test_the_cli_applies_the_same_rules(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer", "ava": "auditor"})  # the CLI acts as accounts (olga unless named)
    auth = ["--purpose", "victim", "--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z"]
    made = run(home, "case", "create", "--title", "T", *auth, "--valid-until", _in_days(5), "--json")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["valid_until"].endswith("T23:59:59.999999+00:00")
    long = run(home, "case", "create", "--title", "x" * 100_000, *auth, "--valid-until", _in_days(5))
    assert long.returncode == 2 and "a title must be 1 to 300 characters" in long.stderr
    assert len(long.stderr.splitlines()) == 1
    slash = run(home, "apikey", "add", "a/b", "--role", "auditor")
    assert slash.returncode == 2 and "a name must be" in slash.stderr
    bad_ref = run(home, "case", "activate", "C１")
    assert bad_ref.returncode == 2 and "not a case id" in bad_ref.stderr


def _in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).date().isoformat()


def test_the_cli_and_the_api_print_one_schema(tmp_path: Path) -> None:
    """``case list --json`` and ``GET /v1/cases`` over one database: the same bodies, through one model."""
    from fastapi.testclient import TestClient

    from facesearch.api.app import create_app
    from facesearch.context import Context
    from facesearch.settings import Settings

    home = tmp_path / "home"
    assert run(home, "init").returncode == 0
    add_people(home, {"olga": "officer", "ava": "auditor"})  # the CLI acts as accounts (olga unless named)
    auth = ["--purpose", "victim", "--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z"]
    assert run(home, "case", "create", "--title", "T", *auth, "--valid-until", _in_days(3)).returncode == 0
    key = json.loads(run(home, "apikey", "add", "reader", "--role", "auditor", "--json", person="ava").stdout)["key"]
    listed = json.loads(run(home, "case", "list", "--json", person="ava").stdout)
    app = create_app(Context.open(Settings(home=home)), run_jobs=False)
    with TestClient(app) as client:
        served = client.get("/v1/cases", headers={"Authorization": f"Bearer {key}"}).json()
    assert listed == served and listed[0]["status"] == "authorised"
