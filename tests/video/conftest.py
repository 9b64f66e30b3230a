"""The video tests' data directory: an active case targeting two people from the Hamilton clip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from owned_keys import add_people
from owned_keys import run_as as run


@pytest.fixture(scope="module")
def hamilton_case(tmp_path_factory: pytest.TempPathFactory, people: Path) -> Path:
    """A data directory with an active case targeting Lin-Manuel Miranda and Alex Lacamoire on cam-1."""
    home = tmp_path_factory.mktemp("home")
    assert run(home, "init").returncode == 0
    # The CLI acts as accounts: olga the officer (who makes the case, so is assigned to it), three reviewers.
    add_people(home, {"olga": "officer", "alice": "reviewer", "bob": "reviewer", "carol": "reviewer"})
    now = datetime.now(UTC)
    created = run(home, "case", "create", "--title", "Hamilton", "--purpose", "other", "--purpose-text", "test",
                  "--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z", "--cameras", "cam-1",
                  "--valid-from", (now - timedelta(days=2)).isoformat(),
                  "--valid-until", (now + timedelta(days=5)).strftime("%Y-%m-%d"))
    assert created.returncode == 0, created.stderr
    for name, photo in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")):
        enrolled = run(home, "enroll", "--case", "C1", "--name", name, str(people / photo))
        assert enrolled.returncode == 0, enrolled.stderr
    assert run(home, "case", "activate", "C1").returncode == 0
    for reviewer in ("alice", "bob", "carol"):  # need to know: the reviewers of this case
        assert run(home, "case", "assign", "C1", reviewer, person="adam").returncode == 0
    added = run(home, "camera", "add", "cam-1", "--name", "Stage", "--url", "rtsp://op:secret@127.0.0.1:1/x",
                person="adam")
    assert added.returncode == 0, added.stderr
    return home
