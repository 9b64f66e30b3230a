"""A site calibration in force (issue 18): put in force by an administrator (audited with thresholds before and
after and the data's hash), used by identify, verify and sign-in with its name in their audit entries and
answers, worst-group by default where groups were measured, withdrawn back to the shipped one; one in force at a
time even when two administrators act at once; the commands for every role."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from facesearch.audit import log as audit
from facesearch.calibration import Calibration, WorstOf, fit_fmr
from facesearch.calibration_store import SHIPPED_LABEL, in_force
from facesearch.cases.identify import identify
from facesearch.cases.service import activate_case, create_case, enrol_into_case
from facesearch.cases.watchlist import load_watchlists
from facesearch.engine import Engine
from facesearch.errors import BadInputError, ConflictError, FacesearchError
from facesearch.eval.site import SiteCalibration, build_site_calibration
from facesearch.eval.site_data import read_site_data
from facesearch.eval.site_force import history, put_in_force, withdraw
from facesearch.signin import service as signin
from facesearch.store.crypto import Sealer
from owned_keys import add_people, run_as
from support.audit import open_audited
from support.context import context_for
from support.site_data import ATT, att_csv

ATT_PHOTO = ATT / "s1" / "1.pgm"
AUTH = {"legal_basis": "Act s.1", "authorisation_ref": "W-1", "authorised_by": "Judge"}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory, engine: Engine) -> SiteCalibration:
    """AT&T's 400 photos of 40 people, in two groups of 20 people."""
    folder = tmp_path_factory.mktemp("att")
    return build_site_calibration(engine, read_site_data(att_csv(folder / "att.csv")), targets=(1e-2, 1e-3))


def test_the_worst_of_several_curves_is_the_highest_fmr_at_every_score() -> None:
    rng = np.random.default_rng(3)
    low, high = (rng.normal(m, 0.1, 100_000) for m in (0.2, 0.35))
    cal = [Calibration("x", ("m",), {}, 0.5, *fit_fmr(s), len(s)) for s in (low, high)]
    fields = {f: getattr(cal[0], f) for f in Calibration.__dataclass_fields__}
    worst = WorstOf(**fields, parts=(cal[1],))
    for score in (0.4, 0.5, 0.6, 0.9):
        assert worst.fmr(score)[0] == max(c.fmr(score)[0] for c in cal)
    for target in (1e-2, 1e-3, 1e-6):
        assert worst.threshold_for_fmr(target)[0] == max(c.threshold_for_fmr(target)[0] for c in cal)
        assert worst.operating_threshold(target, subject="t", advice="a")[0] >= cal[0].threshold_for_fmr(target)[0]


def test_put_in_force_used_by_searches_and_withdrawn(tmp_path: Path, engine: Engine, site: SiteCalibration,
                                                     people: Path) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    ctx = context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)
    assert in_force(sessions, engine.profile, engine.calibration).label == SHIPPED_LABEL
    case = create_case(sessions, title="T", purpose="victim", valid_until=datetime.now(UTC) + timedelta(days=3),
                       actor="officer", **AUTH)
    enrol_into_case(ctx, case.ref, "Barack Obama", [people / "obama.jpg"], actor="o")
    activate_case(sessions, case.ref, actor="officer")
    signin.enrol(ctx, "Joe Biden", [people / "biden.jpg"], actor="admin")
    shipped = identify(ctx, case.ref, people / "obama2.jpg", actor="o")

    with pytest.raises(BadInputError, match="policy sideways"):
        put_in_force(ctx, site, actor="user:adam", policy="sideways")
    with pytest.raises(BadInputError, match="no measured groups of it"):
        put_in_force(ctx, site, actor="user:adam", attribute="shoe_size")
    change = put_in_force(ctx, site, actor="user:adam")  # groups were measured: worst-group by default
    assert change.record is not None and change.record.policy == "worst-group" and change.record.in_force
    now = in_force(sessions, engine.profile, engine.calibration)
    assert now.site_id == change.record.id and now.label.startswith(f"site #{change.record.id} (worst-group")
    assert isinstance(now.calibration, WorstOf) and len(now.calibration.parts) == 2
    first_group = next(g for g in site.groups if g.value == "first").curve
    assert first_group is not None
    # The worst group's threshold: at least what each group needs, on AT&T's faces rather than LFW's.
    for target, own in ((1e-2, 0), (1e-3, 1)):
        assert now.calibration.threshold_for_fmr(target)[0] >= (first_group.targets[own].threshold or 0)
    by_target = {t["target"]: t for t in change.thresholds}
    assert by_target[1e-3]["before"] == round(engine.calibration.threshold_for_fmr(1e-3)[0], 6)  # type: ignore[union-attr]
    assert by_target[1e-3]["after"] == round(now.calibration.threshold_for_fmr(1e-3)[0], 6)
    assert by_target[1e-3]["after"] != by_target[1e-3]["before"]

    found = identify(ctx, case.ref, people / "obama2.jpg", actor="o")
    assert found.threshold == now.calibration.operating_threshold(1e-3, subject="x", advice="y")[0]
    # scan, watch and a cluster's cameras load their watchlists the same way: the site's threshold, and its name
    # for their sightings and audit entries.
    [watchlist] = load_watchlists(engine, sessions, ctx.sealer, [case.ref], camera=None, actor="o")
    assert watchlist.calibration_label == now.label and watchlist.threshold == found.threshold
    assert found.threshold != shipped.threshold
    attempt = signin.verify(ctx, "Joe Biden", (people / "biden.jpg").read_bytes(), "b.jpg", actor="kiosk")
    assert attempt.threshold == now.calibration.operating_threshold(1e-4, subject="x", advice="y")[0]
    verified = engine.verify(people / "obama.jpg", people / "obama2.jpg", calibration=now.calibration)
    assert verified.threshold == now.calibration.operating_threshold(1e-3, subject="x", advice="y")[0]
    with sessions() as s:
        entries = list(audit.events(s))
    set_entry = next(e for e in entries if e.action == "calibration.set")
    assert set_entry.actor == "user:adam" and set_entry.details["data_sha256"] == site.data_sha256
    assert set_entry.details["before"] == SHIPPED_LABEL and set_entry.details["thresholds"] == change.thresholds
    searched = [e.details for e in entries if e.action == "search.identify"]
    assert [d["calibration"] for d in searched] == [SHIPPED_LABEL, now.label]
    assert next(e.details for e in entries if e.action == "signin.attempt")["calibration"] == now.label

    overall = put_in_force(ctx, site, actor="user:adam", policy="overall")  # the one before is withdrawn
    assert [(r.id, r.in_force) for r in history(ctx)] == [(overall.record.id, True), (change.record.id, False)]  # type: ignore[union-attr]
    assert not isinstance(in_force(sessions, engine.profile, engine.calibration).calibration, WorstOf)
    back = withdraw(ctx, actor="user:adam")
    assert back.record is None and in_force(sessions, engine.profile, engine.calibration).label == SHIPPED_LABEL
    assert identify(ctx, case.ref, people / "obama2.jpg", actor="o").threshold == shipped.threshold
    with pytest.raises(ConflictError, match="no site calibration is in force"):
        withdraw(ctx, actor="user:adam")
    stored = json.dumps([r.to_json() for r in history(ctx)])
    assert "att_faces" not in json.dumps(site.to_json()["overall"]) and "s1/1.pgm" not in stored


def test_two_administrators_at_once_leave_one_in_force(tmp_path: Path, engine: Engine, site: SiteCalibration) -> None:
    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    ctx = context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)
    outcomes: list[Any] = []

    def act(policy: str) -> None:
        try:
            outcomes.append(put_in_force(ctx, site, actor="user:adam", policy=policy))
        except ConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=act, args=(p,)) for p in ("overall", "worst-group")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(outcomes) == 2 and sum(r.in_force for r in history(ctx)) == 1


def test_the_commands_for_every_role(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_as(home, "init", person=None).returncode == 0
    add_people(home, {"olga": "officer", "ava": "auditor"})
    table = att_csv(tmp_path / "att.csv", photos=range(1, 4))
    for person in ("olga", "ava", None):
        refused = run_as(home, "calibrate", str(table), "--save", person=person)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, (person, refused.stderr)
        assert run_as(home, "calibration", "show", person=person).returncode == 2
    before = run_as(home, "verify", str(ATT_PHOTO), str(ATT_PHOTO), person=None)
    assert "(calibration: shipped (LFW))" in before.stdout, before.stdout
    saved = run_as(home, "calibrate", str(table), "--save", "--policy", "overall", "--json", person="adam")
    assert saved.returncode == 0, saved.stderr
    record = json.loads(saved.stdout)["put_in_force"]["calibration"]
    shown = json.loads(run_as(home, "calibration", "show", "--json", person="adam").stdout)
    assert shown["site_calibration"] == record["id"] and shown["in_force"].startswith(f"site #{record['id']}")
    after = run_as(home, "verify", str(ATT_PHOTO), str(ATT_PHOTO), person=None)
    assert f"(calibration: site #{record['id']} (overall" in after.stdout
    doctor = run_as(home, "doctor", "--json", person=None)
    assert json.loads(doctor.stdout)["calibration"]["in_force"].startswith(f"site #{record['id']}")
    assert run_as(home, "calibration", "withdraw", person="olga").returncode == 2
    assert run_as(home, "calibration", "withdraw", person="adam").returncode == 0
    assert run_as(home, "calibration", "withdraw", person="adam").returncode == 2  # none in force now
    actions = [e["action"] for e in json.loads(run_as(home, "audit", "show", "--json", person="adam").stdout)]
    assert actions.count("calibration.set") == 1 and actions.count("calibration.withdraw") == 1
    assert run_as(home, "audit", "verify", person="adam").returncode == 0



def test_the_api_shows_and_withdraws_for_administrators_only(tmp_path: Path, engine: Engine,
                                                             site: SiteCalibration) -> None:
    from fastapi.testclient import TestClient

    from facesearch.accounts.roles import ROLES
    from facesearch.api.app import create_app
    from owned_keys import key_for

    _, sessions = open_audited(f"sqlite:///{tmp_path / 'c.db'}")
    ctx = context_for(sessions, Sealer(os.urandom(32)), engine, tmp_path)
    keys = {role: key_for(sessions, f"{role}-key", role) for role in ROLES}
    change = put_in_force(ctx, site, actor="user:adam", attribute="half")
    with TestClient(create_app(ctx, run_jobs=False)) as client:
        assert client.get("/v1/calibration").status_code == 401
        for role in ROLES:
            answer = client.get("/v1/calibration", headers={"Authorization": f"Bearer {keys[role]}"})
            assert answer.status_code == (200 if role == "admin" else 403), (role, answer.text)
        admin = {"Authorization": f"Bearer {keys['admin']}"}
        state = client.get("/v1/calibration", headers=admin).json()
        assert state["site_calibration"] == change.record.id and "worst-group by half" in state["in_force"]  # type: ignore[union-attr]
        assert state["stored"][0]["data_sha256"] == site.data_sha256
        gone = client.delete("/v1/calibration/in-force", headers=admin)
        assert gone.status_code == 200 and gone.json()["calibration"] is None
        assert client.delete("/v1/calibration/in-force", headers=admin).status_code == 409
        assert client.get("/v1/calibration", headers=admin).json()["in_force"] == SHIPPED_LABEL


def test_the_evaluation_report_shows_the_site_calibration_beside_the_shipped_one(
        tmp_path: Path, engine: Engine, site: SiteCalibration) -> None:
    from facesearch.eval.report import Evidence, ReportSettings, build_report
    from facesearch.eval.report_html import render
    from facesearch.eval.report_run import run_report

    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(24, 8)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    images = [f"P{k // 2}/P{k // 2}_{k % 2}.jpg" for k in range(24)]
    report = build_report(Evidence("synthetic", "default", ("m",), "test"), vectors, images, images, {},
                          engine.calibration, ReportSettings(rounds=50, watchlist_sizes=(3,)),
                          site=json.loads(json.dumps(site.to_json())))
    section = report.to_json()["site_calibration"]
    assert [r["target"] for r in section["rows"]] == [1e-2, 1e-3]
    first = section["rows"][0]
    assert first["shipped"] == engine.calibration.threshold_for_fmr(1e-2)[0]  # type: ignore[union-attr]
    assert first["site"] == site.overall.targets[0].threshold and set(first["groups"]) == {"half=first",
                                                                                           "half=second"}
    assert first["worst"]["half"]["threshold"] == max(first["groups"].values())
    page = render(report.to_json(), tmp_path / "out").read_text()
    assert "Site calibration beside the shipped one" in page and "worst by half" in page
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(FacesearchError, match="cannot be read as a site calibration"):
        run_report(engine, tmp_path, None, tmp_path / "r", site=tmp_path / "bad.json")
