"""The CLI in daily use (issue 14): tables that fit 80 columns, refusals that name the flags to give, one clean
warning line, and what closing and exporting a case did or would not do."""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from facesearch.cli import output
from owned_keys import add_people, as_person, run_cli

LONG = "Missing: Alexandra Bartholomew-Featherstonehaugh, last seen near the north entrance of building seven"
UNTIL = (datetime.now(UTC) + timedelta(days=20)).strftime("%Y-%m-%d")


def _cells(printed: str) -> list[str]:
    """Each column's body text, its lines joined without spaces (a folded cell joined up again)."""
    rows = [x.split("│")[1:-1] for x in printed.splitlines() if x.startswith("│")]
    return ["".join(re.sub(r"\s", "", r[i]) for r in rows) for i in range(len(rows[0]))]


def test_a_table_folds_long_cells_at_80_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.StringIO()
    monkeypatch.setattr(output, "stdout", Console(file=buf, width=80, highlight=False, soft_wrap=True))
    row = [17, LONG, "camera-entrance-north-building-7", "2026-11-30T04:33:12.123456+00:00", "0.734512",
           "candidate-awaiting-review"]
    output.table("sightings, C1", ["id", "person", "camera", "time", "score", "status"], [row])
    printed = buf.getvalue()
    assert "…" not in printed and max(len(x) for x in printed.splitlines()) <= 80
    assert _cells(printed) == [re.sub(r"\s", "", str(cell)) for cell in row]  # every character, in order


def test_every_commands_help_fits_80_columns_with_every_option_name_whole() -> None:
    import click
    import typer.main
    from typer.testing import CliRunner

    from facesearch.cli.main import app

    def walk(command: click.Command, path: list[str]) -> Any:
        yield path, command
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, [*path, name])

    runner, checked = CliRunner(), 0
    for path, command in walk(typer.main.get_command(app), []):
        helped = runner.invoke(app, [*path, "--help"], env={"COLUMNS": "80"})
        assert helped.exit_code == 0, (path, helped.output)
        assert "…" not in helped.output and max(len(x) for x in helped.output.splitlines()) <= 80, path
        for option in (o for p in command.params for o in p.opts if o.startswith("--")):
            assert option in helped.output, (path, option)
        checked += 1
    assert checked > 50


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    home = tmp_path_factory.mktemp("daily") / "home"
    assert run_cli(home, "init").returncode == 0
    add_people(home, {"olga": "officer", "ava": "auditor"})
    return home


def olga(home: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return run_cli(home, *args, env={**as_person("olga"), **(env or {})})


def test_case_list_at_80_columns_cuts_nothing(home: Path) -> None:
    made = olga(home, "case", "create", "--title", LONG, "--purpose", "missing-person", "--valid-until", UNTIL)
    assert made.returncode == 0, made.stderr
    listed = olga(home, "case", "list", env={"COLUMNS": "80"})
    out = listed.stdout
    assert listed.returncode == 0 and "…" not in out
    assert max(len(x) for x in out.splitlines()) <= 80 and any(re.sub(r"\s", "", LONG) in c for c in _cells(out))


def test_authorise_and_activate_name_the_missing_flags(home: Path) -> None:
    made = olga(home, "case", "create", "--title", "Draft", "--purpose", "victim", "--valid-until", UNTIL, "--json")
    ref = __import__("json").loads(made.stdout)["id"]
    nothing = olga(home, "case", "authorise", ref)
    assert nothing.returncode == 2
    assert nothing.stderr.strip() == (
        f"error: {ref}: nothing given; still missing --legal-basis, --authorisation-ref, --authorised-by")
    activated = olga(home, "case", "activate", ref)
    assert activated.returncode == 2
    assert activated.stderr.strip() == (f"error: {ref}: only an authorised case can be activated; missing "
                                        "--legal-basis, --authorisation-ref, --authorised-by")
    assert "legal_basis" not in activated.stderr
    part = olga(home, "case", "authorise", ref, "--legal-basis", "Act s.1")
    assert part.returncode == 0 and "still a draft: missing --authorisation-ref, --authorised-by" in part.stderr
    done = olga(home, "case", "authorise", ref, "--authorisation-ref", "A-1", "--authorised-by", "Judge R.")
    assert done.returncode == 0 and "draft" not in done.stderr
    assert olga(home, "case", "activate", ref).returncode == 0


def test_already_matches_is_one_clean_line_and_close_and_export_say_what_happened(home: Path, people: Path) -> None:
    auth = ["--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z"]
    made = olga(home, "case", "create", "--title", "Enrol", "--purpose", "victim", "--valid-until", UNTIL, *auth,
                "--json")
    ref = __import__("json").loads(made.stdout)["id"]
    first = olga(home, "enroll", "--case", ref, "--name", "Zelda Quuxley", str(people / "obama.jpg"))
    assert first.returncode == 0, first.stderr
    again = olga(home, "enroll", "--case", ref, "--name", "Yorick Blumenthal", str(people / "obama2.jpg"))
    assert again.returncode == 0, again.stderr
    lines = again.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"warning: {people / 'obama2.jpg'}: already matches enrolled "
                                                   "identity ") and "(Zelda Quuxley, score " in lines[0], lines
    assert "{" not in lines[0] and "WARNING" not in again.stderr
    logged = olga(home, "-v", "enroll", "--case", ref, "--name", "Xavier Plumtree", str(people / "obama2.jpg"))
    log_lines = [x for x in logged.stderr.splitlines() if "already matches identities" in x]
    assert len(log_lines) == 1 and not re.search(r"Zelda|Yorick|Xavier|\{|\[", log_lines[0]), log_lines

    assert olga(home, "case", "activate", ref).returncode == 0
    export = olga(home, "export", "--case", ref, "--out", str(home / "empty.zip"))
    assert export.returncode == 2 and not (home / "empty.zip").exists()
    assert export.stderr.strip() == f"error: {ref}: nothing to export: no confirmed sightings"
    closed = olga(home, "case", "close", ref)
    assert closed.returncode == 0 and "3 face templates deleted" in closed.stdout, closed.stdout


def test_a_name_already_on_the_watchlist_gets_the_photos_not_a_second_person(home: Path, people: Path) -> None:
    import json

    auth = ["--legal-basis", "x", "--authorisation-ref", "y", "--authorised-by", "z"]
    refs = [json.loads(olga(home, "case", "create", "--title", f"Same name {n}", "--purpose", "victim",
                            "--valid-until", UNTIL, *auth, "--json").stdout)["id"] for n in (1, 2)]
    first = olga(home, "enroll", "--case", refs[0], "--name", "J. Doe", str(people / "obama.jpg"), "--json")
    person = json.loads(first.stdout)["identity_id"]
    # The README's second enrolment of J. Doe: the same person (names compare case-folded, spaces collapsed).
    more = olga(home, "enroll", "--case", refs[0], "--name", "j.  doe", str(people / "obama2.jpg"))
    assert more.returncode == 0, more.stderr
    assert more.stdout.strip() == (f"added 1 of 1 photos to j.  doe (identity {person}, already on the watchlist) "
                                   f"in {refs[0]}")
    assert "already matches" not in more.stderr  # their own photo matching them is no warning
    listed = json.loads(olga(home, "case", "show", refs[0], "--json").stdout)
    assert listed["targets"] == [person]
    again = olga(home, "enroll", "--case", refs[0], "--name", "J. Doe", str(people / "obama.jpg"))
    assert again.returncode == 2 and "this photo is already enrolled for this person" in again.stderr
    # Someone else's photo under the name: kept (the officer decides) but said plainly, on one line.
    other = olga(home, "enroll", "--case", refs[0], "--name", "J. Doe", str(people / "biden.jpg"), "--json")
    [photo] = json.loads(other.stdout)["photos"]
    assert photo["accepted"] and photo["unlike_person"] is not None and photo["unlike_person"] < 0.8
    said = olga(home, "enroll", "--case", refs[0], "--name", "J. Doe", str(people / "alex-lacamoire.png"))
    assert [x for x in said.stderr.splitlines() if "does not match J. Doe's other photos" in x], said.stderr
    elsewhere = json.loads(olga(home, "enroll", "--case", refs[1], "--name", "J. Doe", str(people / "obama.jpg"),
                                "--json").stdout)
    assert elsewhere["identity_id"] != person and elsewhere["added_to_existing"] is False  # another case: its own


def test_threshold_refuses_targets_beyond_the_calibration_and_says_what_a_rate_rests_on(tmp_path: Path) -> None:
    from facesearch.calibration import MAX_SCORE
    from facesearch.engine import Engine

    beyond = run_cli(tmp_path, "threshold", "--fmr", "1e-9")
    assert beyond.returncode == 2 and len(beyond.stderr.strip().splitlines()) == 1
    assert "beyond the calibration's data" in beyond.stderr and "highest possible score 1" in beyond.stderr
    assert beyond.stdout == ""
    few = run_cli(tmp_path, "threshold", "--fmr", "1e-7", "--json")
    result = __import__("json").loads(few.stdout)
    assert few.returncode == 0 and result["threshold"] <= MAX_SCORE and 0 < result["impostor_pairs"] < 10
    told = run_cli(tmp_path, "threshold", "--fmr", "1e-7").stdout
    assert f"rests on {result['impostor_pairs']} impostor pairs of the" in told
    calibration = Engine("default").calibration
    assert calibration is not None
    tail = calibration.smallest_supported_fmr() * 2  # extrapolated, yet below the highest score
    said = run_cli(tmp_path, "threshold", "--fmr", f"{tail:.3g}").stdout
    assert "extrapolated, 0 impostor pairs" in said
    for target in (1e-12, 1e-9, tail, 1e-7, 1e-3):
        found = calibration.support(target)
        assert found.reachable == (found.threshold <= MAX_SCORE)


def test_faces_lists_the_numbers_enroll_face_takes_and_draws_them(tmp_path: Path, people: Path) -> None:
    import json

    from PIL import Image

    photo = people / "two_people.jpg"
    annotated = tmp_path / "annotated.jpg"
    listed = run_cli(tmp_path / "home", "faces", str(photo), "--out", str(annotated), "--json")
    assert listed.returncode == 0, listed.stderr
    found = json.loads(listed.stdout)["faces"]
    assert [f["face"] for f in found] == [0, 1]
    assert all(set(f) >= {"box", "face_size", "sharpness", "frontal", "confidence", "enrolment"} for f in found)
    assert found[0]["confidence"] >= found[1]["confidence"]  # the detector's order: most confident first
    with Image.open(annotated) as drawn, Image.open(photo) as original:
        assert drawn.format == "JPEG" and drawn.size == original.size
        x1, _, x2, y2 = found[1]["box"]
        edge = drawn.convert("RGB").getpixel(((x1 + x2) // 2, y2))  # on the box's lower side: drawn in green
        assert edge[1] > 150 and edge[0] < 100 and edge[2] < 100, edge
    table = run_cli(tmp_path / "home", "faces", str(photo), env={"COLUMNS": "80"})
    assert table.returncode == 0 and "2 faces (enroll --face N)" in table.stdout and "…" not in table.stdout
    helped = run_cli(tmp_path / "home", "enroll", "--help", env={"COLUMNS": "200"})
    assert "facesearch faces PHOTO" in helped.stdout and "most confident first" in helped.stdout


def test_widening_the_recording_window_needs_the_authorisation_again_and_narrowing_does_not(home: Path) -> None:
    import json

    made = olga(home, "case", "create", "--title", "Window", "--purpose", "victim", "--valid-until", UNTIL,
                "--legal-basis", "Act s.1", "--authorisation-ref", "A-1", "--authorised-by", "Judge R.", "--json")
    ref = json.loads(made.stdout)["id"]
    earlier = (datetime.now(UTC) - timedelta(days=90)).strftime("%Y-%m-%d")
    refused = olga(home, "case", "recording-window", ref, "--recorded-from", earlier)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert ("widening the recording window needs its own authorisation; missing --legal-basis, "
            "--authorisation-ref, --authorised-by") in refused.stderr
    widened = olga(home, "case", "recording-window", ref, "--recorded-from", earlier, "--legal-basis", "Act s.2",
                   "--authorisation-ref", "A-2", "--authorised-by", "Judge S.", "--json")
    assert widened.returncode == 0, widened.stderr
    assert json.loads(widened.stdout)["recorded_from"].startswith(earlier)
    # Narrowing (an end before valid-until) needs nothing more; an end after valid-until is never allowed.
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%d")
    narrowed = olga(home, "case", "recording-window", ref, "--recorded-until", tomorrow, "--json")
    assert narrowed.returncode == 0 and json.loads(narrowed.stdout)["recorded_until"].startswith(tomorrow)
    later = (datetime.now(UTC) + timedelta(days=60)).strftime("%Y-%m-%d")
    past_validity = olga(home, "case", "recording-window", ref, "--recorded-until", later)
    assert past_validity.returncode == 2 and "is after valid until" in past_validity.stderr
    nothing = olga(home, "case", "recording-window", ref)
    assert nothing.returncode == 2 and "--recorded-from, --recorded-until" in nothing.stderr
    entries = json.loads(run_cli(home, "audit", "show", "--case", ref, "--json", env=as_person("ava")).stdout)
    changes = [e["details"] for e in entries if e["action"] == "case.recording_window"]
    assert [c["widened"] for c in changes] == [True, False]
    assert changes[0]["authorisation"]["authorisation_ref"] == "A-2" and changes[0]["before"] != changes[0]["after"]
