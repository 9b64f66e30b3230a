"""Drift (issue 18): ``calibrate --check`` on fresh data says whether the calibration in force still holds, the FMR
observed at its thresholds with intervals, over all the data and per group: a calibration measured on this kind
of face holds, one whose thresholds are too low for it is exceeded, a target the data cannot resolve says so."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from facesearch.calibration import Calibration
from facesearch.calibration_store import site_calibration
from facesearch.engine import Engine
from facesearch.eval.site import build_site_calibration, check_calibration
from facesearch.eval.site_data import SiteData, read_site_data
from facesearch.eval.site_force import stored_body
from owned_keys import run_as
from support.site_data import att_csv


@pytest.fixture(scope="module")
def att(tmp_path_factory: pytest.TempPathFactory) -> SiteData:
    return read_site_data(att_csv(tmp_path_factory.mktemp("att") / "att.csv"))


def test_a_calibration_holds_on_its_kind_of_face_and_one_too_lenient_is_exceeded(engine: Engine,
                                                                                 att: SiteData) -> None:
    assert engine.calibration is not None
    site = build_site_calibration(engine, att, targets=(1e-2, 1e-3))
    measured = site_calibration(stored_body(site), engine.calibration, policy="overall", attribute=None, label="site")
    rows, digest, _ = check_calibration(engine, att, measured, targets=(1e-2, 1e-3, 1e-5))
    assert digest == site.data_sha256
    assert [r.population for r in rows] == ["all"] * 3 + ["half=first"] * 3 + ["half=second"] * 3
    whole = {r.target: r for r in rows if r.population == "all"}
    assert whole[1e-2].verdict == "holds" and whole[1e-3].verdict == "holds"
    assert whole[1e-5].verdict == "unresolved"  # 78,000 impostor pairs cannot tell 1e-5 from 0
    # Thresholds 0.1 lower than this data needs: many more impostors pass than the target allows.
    lenient = replace(measured, fmr_scores=tuple(x - 0.1 for x in measured.fmr_scores),
                      tail_intercept=measured.tail_intercept + measured.tail_slope * 0.1)
    rows, _, _ = check_calibration(engine, att, lenient, targets=(1e-2,))
    assert rows[0].verdict == "exceeded" and rows[0].fmr is not None and rows[0].fmr["ci95"][0] > 1e-2
    assert isinstance(lenient, Calibration) and json.dumps([r.to_json() for r in rows])


def test_the_check_command_exits_one_when_exceeded_and_refuses_with_save(tmp_path: Path) -> None:
    home = tmp_path / "home"
    table = att_csv(tmp_path / "att.csv", photos=range(1, 5))
    checked = run_as(home, "calibrate", str(table), "--check", "--target", "1e-2", "--json", person=None)
    assert checked.returncode in (0, 1), checked.stderr
    body = json.loads(checked.stdout)
    assert body["calibration"] == "shipped (LFW)" and body["holds"] == (checked.returncode == 0)
    assert {r["population"] for r in body["rows"]} == {"all", "half=first", "half=second"}
    both = run_as(home, "calibrate", str(table), "--check", "--save", person=None)
    assert both.returncode == 2 and "one or the other" in both.stderr
