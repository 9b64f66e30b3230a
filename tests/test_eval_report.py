"""The evaluation report, end to end on a small LFW subset (real models), its bad inputs, the bootstrap
it rests on, and the 'threshold' command. The page itself is opened in Chromium."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from facesearch.engine import Engine
from facesearch.eval.verification import compare_all, fmr, fnmr, resample_people, threshold_for
from support.cli import run

SMALL_PAIRS = 20  # per class and fold


@pytest.fixture(scope="module")
def dataset(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """60 people with four images each and 100 seen once (links into LFW), and a two-fold pair list."""
    root = tmp_path_factory.mktemp("eval")
    data = root / "data"
    people = sorted(p for p in lfw.iterdir() if p.is_dir())
    multi = [p for p in people if len(list(p.glob("*.jpg"))) >= 4][:60]
    single = [p for p in people if len(list(p.glob("*.jpg"))) == 1][:100]
    for person in multi + single:
        (data / person.name).mkdir(parents=True)
        for image in sorted(person.glob("*.jpg"))[:4]:
            (data / person.name / image.name).symlink_to(image)
    lines = [f"2\t{SMALL_PAIRS}"]
    for fold in range(2):
        group = multi[fold * 30 : (fold + 1) * 30]
        lines += [f"{p.name}\t1\t2" for p in group[:SMALL_PAIRS]]
        lines += [f"{group[i].name}\t1\t{group[(i + 5) % 30].name}\t3" for i in range(SMALL_PAIRS)]
    pairs = root / "pairs.txt"
    pairs.write_text("\n".join(lines) + "\n")
    return data, pairs, root / "cache.npz"


def test_the_report_has_every_section_and_says_what_the_data_cannot_support(
        dataset: tuple[Path, Path, Path], lfw: Path, tmp_path: Path) -> None:
    data, pairs, cache = dataset
    out = tmp_path / "report"
    done = run(tmp_path / "home", "eval", "report", "--data", str(data), "--pairs", str(pairs), "--groups",
               str(lfw.parent / "lfw-gender"), "--out", str(out), "--cache", str(cache), "--rounds", "200")
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["evidence"]["profile"] == "default" and report["evidence"]["created"]
    assert "340 images, 160 people" in report["evidence"]["dataset"]
    one = report["one_to_one"]
    assert (one["genuine"], one["people"]) == (100, 50)  # every pair of the pair list's 120 images
    rows = {r["target_fmr"]: r for r in one["thresholds"]}
    assert rows[1e-2]["supported"] and rows[1e-2]["fmr"]["trials"] == one["impostor"]
    low, high = rows[1e-2]["fmr"]["ci95"]
    assert low <= rows[1e-2]["fmr"]["value"] <= high
    assert not rows[1e-5]["supported"] and "not enough data" in rows[1e-5]["note"]
    assert report["calibration"]["folds"] == 2 and len(report["calibration"]["per_target"]) == 3
    sizes = [r["watchlist"] for r in report["identification"]["rows"]]
    assert sizes == [10, 60]  # up to every person with two or more images
    gender = report["groups"]["attributes"]["lfw-gender"]
    assert {r["group"] for r in gender["rows"]} == {"female", "male"}
    assert any("not in the data set" in p for p in report["groups"]["problems"])  # the rest of LFW
    page = (out / "index.html").read_text()
    assert "1:1 verification" in page and "Demographic differentials" in page and "not enough data" in page
    assert not re.search(r'src="(?!data:)', page)  # self-contained: every figure inlined
    assert {p.name for p in out.glob("*.png")} >= {"scores.png", "det.png", "roc.png", "calibration.png",
                                                   "watchlist.png", "fnir_fpir.png", "groups-lfw-gender.png"}
    assert all(len(r["curve"]["fpir"]) == len(r["curve"]["fnir"]) > 0 for r in report["identification"]["rows"])

    # The worst group sets the threshold: every group then meets the target (where measurable).
    strict = run(tmp_path / "home", "eval", "report", "--data", str(data), "--pairs", str(pairs), "--groups",
                 str(lfw.parent / "lfw-gender"), "--out", str(tmp_path / "strict"), "--cache", str(cache),
                 "--rounds", "100", "--worst-group-threshold", "--json")
    raised = json.loads(strict.stdout)
    worst = raised["groups"]["attributes"]["lfw-gender"]["worst_group_threshold"]
    assert raised["operating_threshold"] == pytest.approx(max(worst, report["operating_threshold"]))
    assert raised["identification"]["threshold"] == pytest.approx(raised["operating_threshold"])
    assert {r["group"] for r in raised["groups"]["attributes"]["lfw-gender"]["at_worst_group_threshold"]} == {
        "female", "male"}


def test_bad_input_costs_its_part_not_the_report(dataset: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data, _, cache = dataset
    empty = tmp_path / "empty-pairs.txt"
    empty.write_text("")
    labels = tmp_path / "groups.csv"
    first = sorted(p.name for p in data.iterdir())
    rows = ["image,region"] + [f"{name}/{name}_0001.jpg,Zürich" for name in first[:30]]
    rows += [f"{first[30]}/{first[30]}_0001.jpg,Genève", "Nobody_At_All_0001.jpg,Zürich"]
    labels.write_bytes("\n".join(rows).encode("latin-1"))  # not UTF-8
    out = tmp_path / "report"
    done = run(tmp_path / "home", "eval", "report", "--data", str(data), "--pairs", str(empty), "--groups",
               str(labels), "--out", str(out), "--cache", str(cache), "--rounds", "100", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert any("empty pairs file" in p for p in report["problems"])
    assert "note" in report["one_to_one"] and "rows" in report["identification"]  # 1:N still there
    assert any("not UTF-8" in p for p in report["groups"]["problems"])
    assert any("Nobody_At_All_0001.jpg" in p for p in report["groups"]["problems"])
    region = {r["group"]: r for r in report["groups"]["attributes"]["region"]["rows"]}
    assert set(region) == {"Zürich", "Genève"}  # decoded as Latin-1, not garbled
    assert "too small" in region["Genève"]["note"]
    assert (out / "index.html").exists()

    groups_help = run(tmp_path / "home", "eval", "groups", "--help")
    assert "image,sex,age_band" in groups_help.stdout
    checked = run(tmp_path / "home", "eval", "groups", str(labels), "--data", str(data), "--json")
    assert json.loads(checked.stdout)["images"]["region"] == {"Genève": 1, "Zürich": 30}
    missing = run(tmp_path / "home", "eval", "report", "--data", str(tmp_path / "nowhere"), "--out", str(out))
    assert missing.returncode == 2 and "data folder not found" in missing.stderr


def test_the_bootstrap_over_people_reproduces_the_observed_rate_and_brackets_it() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(1, 6, 300)
    person = np.repeat(np.arange(300), sizes)
    centres = rng.normal(size=(300, 32))
    vectors = centres[person] + 0.9 * rng.normal(size=(len(person), 32))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    c = compare_all(vectors, person, keep_from=0.0)
    threshold, supported = threshold_for(c.impostor, 1e-2)
    assert supported and int((c.impostor >= threshold).sum()) == int(1e-2 * len(c.impostor))
    once = np.ones((1, 300), np.int64)  # everyone drawn once: the resample is the data
    assert fmr(c, threshold, once).low == pytest.approx(fmr(c, threshold, once).value)
    assert fnmr(c, threshold, once).low == pytest.approx(fnmr(c, threshold, once).value)
    draws = resample_people(300, 300)
    rate = fmr(c, threshold, draws)
    assert rate.low < rate.value < rate.high and rate.resolved
    with pytest.raises(ValueError, match="below the scores kept"):
        fmr(c, -0.5, draws)


def test_threshold_for_an_fmr_or_a_watchlist(engine: Engine, tmp_path: Path) -> None:
    calibration = engine.calibration
    assert calibration is not None
    one = json.loads(run(tmp_path, "threshold", "--fmr", "1e-4", "--json").stdout)
    assert one["threshold"] == pytest.approx(calibration.threshold_for_fmr(1e-4)[0])
    many = json.loads(run(tmp_path, "threshold", "--fpir", "1e-3", "--watchlist-size", "5000", "--json").stdout)
    assert many["fmr_per_comparison"] == pytest.approx(2e-7)
    assert many["threshold"] == pytest.approx(calibration.threshold_for_fmr(2e-7)[0])
    assert many["threshold"] > one["threshold"]
    assert "needs --watchlist-size" in run(tmp_path, "threshold", "--fpir", "1e-3").stderr
    assert "expected a rate" in run(tmp_path, "threshold", "--fmr", "2").stderr


def test_the_page_reads_in_a_real_browser(dataset: tuple[Path, Path, Path], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    from support.browser import browser, keep_screenshots

    data, pairs, cache = dataset
    out = tmp_path / "report"
    assert run(tmp_path / "home", "eval", "report", "--data", str(data), "--pairs", str(pairs), "--out", str(out),
               "--cache", str(cache), "--rounds", "100").returncode == 0
    driver = browser(tmp_path)
    try:
        driver.set_window_size(1280, 2400)
        driver.get(out.joinpath("index.html").as_uri())
        images = driver.find_elements(By.TAG_NAME, "img")
        assert len(images) >= 5
        assert all(driver.execute_script("return arguments[0].naturalWidth", i) > 300 for i in images)
        driver.save_screenshot(str(tmp_path / "report.png"))
    finally:
        driver.quit()
    shots = tmp_path / "screens"
    shots.mkdir()
    shutil.copy(tmp_path / "report.png", shots / "report.png")
    keep_screenshots(shots, "report")  # FACESEARCH_KEEP_SCREENS=<folder> keeps it for people to look at
