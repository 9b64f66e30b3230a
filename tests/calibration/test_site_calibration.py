"""Site calibration (issue 18): thresholds measured on the deployer's own faces. Read from a folder or a CSV (ids
and group columns optional, bad rows reported), every impostor pair measured, each target's threshold with its
interval or refused by the rule of 30 with the pairs it needs, per group and the worst group's, FNMR where ids
give genuine pairs; copies and near-identical images counted as two people left out and reported; the data's
hash; and the command, its JSON and its one-line errors. The faces are AT&T's (40 people, 10 photos each)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import pytest

from facesearch.engine import Engine
from facesearch.eval.site import build_site_calibration
from facesearch.eval.site_data import SiteDataError, read_site_data
from support.cli import cli_env
from support.site_data import ATT, att_csv


def test_the_data_is_read_from_a_table_or_a_folder_with_bad_rows_reported(tmp_path: Path) -> None:
    (tmp_path / "crops" / "ann").mkdir(parents=True)
    for name in ("ann/1.pgm", "ann/2.pgm", "3.pgm"):
        shutil.copy(ATT / "s1" / "1.pgm", tmp_path / "crops" / name)
    table = tmp_path / "site.csv"
    table.write_text("image,person,site,age\ncrops/ann/1.pgm,ann,north,18-30\ncrops/ann/2.pgm,ann,north,\n"
                     "crops/3.pgm,,south,30-50\ncrops/missing.pgm,,south,1\ncrops/3.pgm,,too,many,cells\n\n")
    data = read_site_data(table)
    assert [(i.path.name, i.person, i.groups) for i in data.images] == [
        ("1.pgm", "id:ann", {"site": "north", "age": "18-30"}), ("2.pgm", "id:ann", {"site": "north"}),
        ("3.pgm", f"image:{tmp_path / 'crops' / '3.pgm'}", {"site": "south", "age": "30-50"})]
    assert data.ids_given and data.attributes == ["age", "site"]
    assert len(data.problems) == 2 and "missing.pgm: no such file" in data.problems[0]
    assert "5 columns, the header has 4" in data.problems[1]
    folder = read_site_data(tmp_path / "crops")
    assert len(folder.images) == 3 and not folder.ids_given  # each image a different person
    by_folder = read_site_data(tmp_path / "crops", folders_are_people=True)
    assert by_folder.ids_given and {i.person for i in by_folder.images} == {"ann", "."}
    for bad, words in ((tmp_path / "none.csv", "no such file"), (tmp_path / "empty", "no images")):
        if words == "no images":
            bad.mkdir()
        with pytest.raises(SiteDataError, match=words):
            read_site_data(bad)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("image\ncaf\xe9.pgm\n".encode("latin-1"))
    with pytest.raises(SiteDataError, match="not UTF-8"):
        read_site_data(latin)


def test_thresholds_per_target_and_per_group_with_the_worst_group_and_the_rule_of_30(
        tmp_path: Path, engine: Engine) -> None:
    site = build_site_calibration(engine, read_site_data(att_csv(tmp_path / "att.csv")), targets=(1e-2, 1e-3, 1e-4))
    overall = site.overall
    assert (overall.images, overall.people, overall.genuine_pairs) == (400, 40, 40 * 45)
    assert overall.impostor_pairs == 400 * 399 // 2 - 40 * 45 and site.ids_given and not site.duplicates
    at_1e2, at_1e3, at_1e4 = overall.targets
    # 78,000 impostor pairs: 1e-2 and 1e-3 leave at least 30 errors to count; 1e-4 would need 300,000 pairs.
    assert at_1e2.supported and at_1e3.supported and at_1e3.threshold > at_1e2.threshold  # type: ignore[operator]
    assert not at_1e4.supported and at_1e4.needed_pairs == 300_000
    for t in (at_1e2, at_1e3):
        assert t.fmr is not None and t.fmr["value"] <= t.target
        assert t.fmr["ci95"][0] <= t.fmr["value"] <= t.fmr["ci95"][1]
        assert t.fnmr is not None and t.fnmr["trials"] == 40 * 45  # what the threshold costs: genuine pairs exist
    groups = {g.value: g for g in site.groups}
    assert set(groups) == {"first", "second"} and all(g.people == 20 and g.curve is not None for g in groups.values())
    worst = next(w for w in site.worst if w.target == 1e-2)
    own = {v: g.curve.targets[0].threshold for v, g in groups.items()}  # type: ignore[union-attr]
    assert worst.threshold == max(own.values()) and own[worst.group] == worst.threshold  # type: ignore[index]
    assert next(w for w in site.worst if w.target == 1e-3).threshold is None  # a group's 19,000 pairs cannot
    assert len(site.data_sha256) == 64
    saved = json.loads(json.dumps(site.to_json()))
    assert saved["overall"]["targets"][2] == {"target": 1e-4, "threshold": None, "supported": False,
                                              "needed_impostor_pairs": 300_000, "fmr": None, "fnmr": None}
    # The same photos under other labels are other data: the hash says so.
    relabelled = build_site_calibration(engine, read_site_data(att_csv(tmp_path / "noid.csv", ids=False)),
                                        targets=(1e-2,))
    assert relabelled.data_sha256 != site.data_sha256 and not relabelled.ids_given
    assert relabelled.overall.genuine_pairs == 0 and relabelled.overall.targets[0].fnmr is None
    # Ten photos of each person taken as ten people: the pairs that look like one person are reported.
    assert any("score as the same person does" in p for p in relabelled.problems)


def test_copies_and_near_identical_photos_taken_as_two_people_are_left_out(tmp_path: Path, engine: Engine) -> None:
    rows = ["image"]
    for k in range(1, 41):
        rows.append(f"{ATT}/s{k}/1.pgm")
    shutil.copy(ATT / "s5" / "1.pgm", tmp_path / "copy.pgm")  # the same file twice
    image = cv2.imread(str(ATT / "s9" / "1.pgm"))
    cv2.imwrite(str(tmp_path / "resized.jpg"), cv2.resize(image, None, fx=1.5, fy=1.5), [cv2.IMWRITE_JPEG_QUALITY, 80])
    rows += [str(tmp_path / "copy.pgm"), str(tmp_path / "resized.jpg"), str(tmp_path / "broken.jpg")]
    (tmp_path / "broken.jpg").write_bytes(b"not an image")
    (tmp_path / "d.csv").write_text("\n".join(rows) + "\n")
    site = build_site_calibration(engine, read_site_data(tmp_path / "d.csv"), targets=(1e-2,))
    why = {Path(d["left_out"]).name: d["why"] for d in site.duplicates}
    assert why == {"copy.pgm": "the same file", "resized.jpg": "near-identical faces"}
    assert site.overall.images == 40 and site.overall.people == 40
    assert any("broken.jpg" in p for p in site.problems)


def test_the_command_prints_thresholds_and_json_and_says_what_is_wrong_in_one_line(tmp_path: Path) -> None:
    table = att_csv(tmp_path / "att.csv", people=range(1, 41), photos=range(1, 4))
    env = cli_env(tmp_path / "home")
    run = [sys.executable, "-m", "facesearch.cli", "calibrate"]
    shown = subprocess.run([*run, str(table), "--target", "1e-2", "--target", "1e-5", "--json",
                            "--out", str(tmp_path / "site.json")], env=env, capture_output=True, text=True, timeout=600)
    assert shown.returncode == 0, shown.stderr
    body = json.loads(shown.stdout)
    assert [t["target"] for t in body["overall"]["targets"]] == [1e-2, 1e-5]
    assert body["overall"]["targets"][1]["supported"] is False and body["overall"]["images"] == 120
    assert "fmr_scores" in json.loads((tmp_path / "site.json").read_text())["overall"]  # the whole curve
    printed = subprocess.run([*run, str(table), "--target", "1e-2"], env=env, capture_output=True, text=True,
                             timeout=600)
    assert printed.returncode == 0 and "Thresholds on this data" in printed.stdout
    for args, words in (([str(tmp_path / "nothing.csv")], "no such file"), ([str(table), "--target", "2"],
                                                                              "between 0 and 1")):
        refused = subprocess.run([*run, *args], env=env, capture_output=True, text=True, timeout=600)
        assert refused.returncode == 2 and words in refused.stderr and len(refused.stderr.strip().splitlines()) == 1
