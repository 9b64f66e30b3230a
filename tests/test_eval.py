"""The LFW protocol: pairs parsing, metrics, and one real fold end to end."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from facesearch.engine import Engine
from facesearch.errors import FacesearchError
from facesearch.eval.lfw import evaluate, plot_curves
from facesearch.eval.metrics import best_threshold, kfold_accuracy, roc
from facesearch.eval.pairs import read_pairs

PAIRS = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "lfw-pairs.txt"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty pairs file"),
        ("ten 300\n", "line 1"),
        ("1 1\nAaron 1 2\nAaron 1 Bob\n", "line 3"),
        ("1 2\nAaron 1 2\nAaron 1 Bob 2\n", "expected 4 pairs"),
    ],
)
def test_bad_pairs_files_are_named(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "pairs.txt"
    path.write_text(text)
    with pytest.raises(FacesearchError, match=message) as info:
        read_pairs(path)
    assert str(path) in str(info.value)


def test_official_pairs_file() -> None:
    pairs = read_pairs(PAIRS)
    assert len(pairs) == 6000 and sum(p.same for p in pairs) == 3000
    assert {p.fold for p in pairs} == set(range(10))
    assert pairs[0].a.endswith("_0001.jpg") and pairs[0].same and not pairs[300].same


def test_metrics_on_known_scores() -> None:
    same = np.array([True, True, True, False, False, False])
    scores = np.array([0.9, 0.8, 0.4, 0.5, 0.2, 0.1])
    assert best_threshold(scores, same) in (pytest.approx(0.65), pytest.approx(0.3))
    r = roc(scores, same)
    assert r.auc() == pytest.approx(8 / 9)
    assert r.tar_at(0.0) == pytest.approx(2 / 3)


def test_kfold_thresholds_come_from_the_other_folds() -> None:
    # Fold 1's scores are shifted: a threshold chosen on fold 1 itself would be perfect there,
    # the one chosen on fold 0 is not.
    same = np.array([True, False] * 4)
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    scores = np.array([0.9, 0.1, 0.8, 0.2, 0.4, 0.3, 0.45, 0.35])
    result = kfold_accuracy([scores], same, folds)
    assert result.accuracies[0] == 1.0 and result.accuracies[1] == 0.5


@pytest.mark.slow
def test_one_real_fold_end_to_end(engine: Engine, lfw: Path, tmp_path: Path) -> None:
    lines = PAIRS.read_text().splitlines()
    fold = tmp_path / "fold1.txt"
    fold.write_text("\n".join(["1 300", *lines[1:601]]) + "\n")
    report, _emb, _ = evaluate(engine, lfw, fold)
    names = [s.name for s in report.scores]
    assert names[:2] == ["dlib-resnet", "mobilefacenet"] and names[2].startswith("fused")
    accuracy = {s.name.split(" ")[0]: s.folds.mean for s in report.scores}
    # A single fold is chosen on itself here (no other folds), so this is training accuracy: a floor only.
    assert accuracy["dlib-resnet"] > 0.98 and accuracy["mobilefacenet"] > 0.98 and accuracy["fused"] > 0.985
    assert report.pairs == 600 and not report.unreadable
    plots = plot_curves(report, tmp_path)
    assert all(p.stat().st_size > 10_000 for p in plots)
    assert json.loads(json.dumps(report.to_json()))["results"][2]["roc_auc"] > 0.99
