"""The evaluation report's numbers: 1:1 error rates with intervals, the calibration checked on held-out
folds, 1:N false alerts against watchlist size, and error rates per demographic group.

Every number comes with what it rests on (errors and trials); a rate resting on fewer than 30 errors
is marked unresolved, and a target the data cannot reach is reported as such instead of a number.
The HTML and the plots (``report_html``) are drawn from ``EvaluationReport.to_json()`` alone.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesearch.calibration import Calibration, fit_fmr
from facesearch.eval.groups import GroupLabels
from facesearch.eval.identification import fnir_at_fpir, fnir_fpir_curve, search_topk, split_by_identity
from facesearch.eval.verification import (
    RULE_OF_30,
    Comparisons,
    compare_all,
    det_curve,
    fmr,
    fnmr,
    resample_people,
    threshold_for,
)

FMR_TARGETS = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6)
WATCHLIST_SIZES = (10, 100, 1000)
MIN_GROUP_PEOPLE = 20


@dataclass(frozen=True)
class ReportSettings:
    operating_fmr: float = 1e-4  # the 1:1 operating point the 1:N and group sections use
    targets: tuple[float, ...] = FMR_TARGETS
    watchlist_sizes: tuple[int, ...] = WATCHLIST_SIZES
    fpir: float = 1e-2
    rounds: int = 500  # bootstrap resamples
    worst_group_threshold: bool = False  # set the operating threshold so the worst group meets the target
    seed: int = 0


@dataclass(frozen=True)
class Evidence:
    """What was evaluated: for the header of every figure."""

    dataset: str
    profile: str
    models: tuple[str, ...]
    protocol: str
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))


def _histogram(scores: NDArray[np.float32], bins: NDArray[np.float64]) -> list[int]:
    return np.histogram(scores, bins=bins)[0].astype(int).tolist()


def one_to_one(vectors: NDArray[np.float32], person: NDArray[np.int64], settings: ReportSettings,
               keep_from: float) -> tuple[dict[str, Any], Comparisons]:
    """Every pair among the images: distributions, DET/ROC, and the threshold table with intervals."""
    c = compare_all(vectors, person, keep_from=keep_from)
    draws = resample_people(len(c.images_per_person), settings.rounds, settings.seed)
    rows = []
    for target in settings.targets:
        threshold, supported = threshold_for(c.impostor, target)
        row: dict[str, Any] = {"target_fmr": target, "threshold": threshold, "supported": supported}
        if not supported:
            row["note"] = (f"not enough data: {len(c.impostor):,} impostor comparisons allow "
                           f"{int(target * len(c.impostor))} false matches at this rate (30 are needed)")
        elif threshold < keep_from:
            row["supported"], row["note"] = False, "below the scores kept for intervals"
        else:
            row["fmr"], row["fnmr"] = fmr(c, threshold, draws).to_json(), fnmr(c, threshold, draws).to_json()
        rows.append(row)
    bins = np.linspace(-0.4, 1.0, 141)
    det_fmr, det_fnmr = det_curve(c)
    return {"images": len(vectors), "people": c.people, "genuine": len(c.genuine),
            "impostor": len(c.impostor), "thresholds": rows, "bootstrap_rounds": settings.rounds,
            "histogram": {"bins": bins.tolist(), "genuine": _histogram(c.genuine, bins),
                          "impostor": _histogram(c.impostor, bins)},
            "det": {"fmr": det_fmr.tolist(), "fnmr": det_fnmr.tolist()}}, c


def _fitted(impostor: NDArray[np.float32], name: str) -> Calibration:
    grid, values, intercept, slope = fit_fmr(impostor)
    return Calibration(profile=name, models=(), znorm={}, threshold=0.0, fmr_scores=grid, fmr_values=values,
                       tail_intercept=intercept, tail_slope=slope, impostor_comparisons=len(impostor))


def calibration_check(vectors: NDArray[np.float32], person: NDArray[np.int64], fold: NDArray[np.int64],
                      shipped: Calibration | None, targets: Sequence[float]) -> dict[str, Any]:
    """Fit the score -> FMR mapping on all folds but one, read each target's threshold from it, and
    count the false matches that threshold lets through on the held-out fold."""
    folds = sorted(set(fold.tolist()))
    if len(folds) < 2:
        return {"note": "the pair list has one fold: nothing to hold out"}
    out: dict[str, list[dict[str, Any]]] = {str(t): [] for t in targets}
    for k in folds:
        train, test = fold != k, fold == k
        fitted = _fitted(compare_all(vectors[train], person[train], keep_from=2.0).impostor, f"without fold {k}")
        held = compare_all(vectors[test], person[test], keep_from=2.0).impostor
        for t in targets:
            threshold, extrapolated = fitted.threshold_for_fmr(t)
            observed = float((held >= threshold).mean()) if len(held) else float("nan")
            out[str(t)].append({"fold": k, "threshold": threshold, "extrapolated": extrapolated,
                                "observed": observed, "false_matches": int((held >= threshold).sum()),
                                "comparisons": len(held), "resolved": t * len(held) >= RULE_OF_30})
    summary = []
    for t in targets:
        folds_t = out[str(t)]
        seen = [float(f["observed"]) for f in folds_t]
        summary.append({"target_fmr": t, "observed_median": float(np.median(seen)),
                        "observed_min": min(seen), "observed_max": max(seen),
                        "resolved": all(f["resolved"] for f in folds_t)})
    result: dict[str, Any] = {"folds": len(folds), "per_target": summary, "per_fold": out}
    if shipped is not None:
        result["shipped"] = {"dataset": shipped.dataset, "created": shipped.created,
                             "thresholds": {str(t): shipped.threshold_for_fmr(t)[0] for t in targets}}
    return result


def identification(vectors: NDArray[np.float32], labels: list[str], threshold: float,
                   settings: ReportSettings) -> dict[str, Any]:
    """FPIR and FNIR at one fixed threshold as the watchlist grows (from the same images), and FNIR at
    a fixed FPIR for each size: false alerts grow with the list at a fixed threshold."""
    split = split_by_identity(labels)
    enrolled = len(split.gallery)
    if enrolled == 0:
        return {"note": "no person has two images: no mated searches"}
    rng = np.random.default_rng(settings.seed)
    sizes = sorted({s for s in settings.watchlist_sizes if s < enrolled} | {enrolled})
    rows: list[dict[str, Any]] = []
    skipped: list[str] = []
    order = rng.permutation(enrolled)
    for size in sizes:
        chosen = np.sort(order[:size])
        on_list = np.zeros(enrolled, bool)
        on_list[chosen] = True
        new_row = -np.ones(enrolled, np.int64)
        new_row[chosen] = np.arange(size)
        mated_mask = on_list[split.mate_of]
        gallery = vectors[split.gallery[chosen]]
        mated = vectors[split.mated[mated_mask]]
        # Everyone not on this watchlist searches as a stranger: the singles and the people left off.
        off_list = np.concatenate([split.nonmated, split.gallery[~on_list], split.mated[~mated_mask]])
        if not len(off_list) or not len(mated):  # e.g. everyone has two photos and all are on the list
            skipped.append(f"{size:,} people: no {'stranger' if not len(off_list) else 'mated'} searches left")
            continue
        m_scores, m_idx = search_topk(gallery, mated, 1)
        n_scores, _ = search_topk(gallery, vectors[off_list], 1)
        correct = m_idx[:, 0] == new_row[split.mate_of[mated_mask]]
        false_alerts = int((n_scores[:, 0] >= threshold).sum())
        misses = int((~correct | (m_scores[:, 0] < threshold)).sum())
        point = fnir_at_fpir(m_scores, correct[:, None], n_scores[:, 0], settings.fpir)
        grid = np.logspace(np.log10(1.0 / max(len(off_list), 1)), 0, 40)
        curve = fnir_fpir_curve(m_scores, correct[:, None], n_scores[:, 0], grid)
        rows.append({"watchlist": int(size), "nonmated": len(off_list), "mated": len(mated),
                     "fpir": false_alerts / max(len(off_list), 1), "false_alerts": false_alerts,
                     "fnir": misses / max(len(mated), 1), "misses": misses,
                     "at_fpir": {"fpir": settings.fpir, **point.to_json()},
                     "curve": {"fpir": curve.fpir_achieved.tolist(), "fnir": curve.fnir.tolist(),
                               "resolved": curve.resolved.tolist()}})
    if not rows:
        return {"note": "need at least one non-mated probe score: every image belongs to someone on the watchlist "
                        "(" + "; ".join(skipped) + ")"}
    note = ("watchlists are random subsets of the people with two or more images (their first image "
            "enrolled); every other image searches as a stranger")
    if skipped:
        note += "; sizes left out: " + "; ".join(skipped)
    return {"threshold": threshold, "rows": rows, "note": note}


def differentials(vectors: NDArray[np.float32], person: NDArray[np.int64], images: list[str],
                  groups: GroupLabels, threshold: float, settings: ReportSettings, keep_from: float
                  ) -> dict[str, Any]:
    """FMR and FNMR per group at the operating threshold (impostor pairs within the group), with
    intervals; the worst/best ratio; each group's own threshold for the target FMR."""
    index = {image: i for i, image in enumerate(images)}
    out: dict[str, Any] = {"source": groups.source, "problems": list(groups.problems), "attributes": {}}
    for attribute, labels in groups.labels.items():
        rows: list[dict[str, Any]] = []
        measured: dict[str, tuple[Comparisons, NDArray[np.int64]]] = {}
        for value in sorted(set(labels.values())):
            rows_idx = np.array(sorted(index[i] for i, v in labels.items() if v == value and i in index), np.int64)
            people_here = np.unique(person[rows_idx]) if len(rows_idx) else np.zeros(0, np.int64)
            row: dict[str, Any] = {"group": value, "images": len(rows_idx), "people": len(people_here)}
            if len(people_here) < MIN_GROUP_PEOPLE:
                row["note"] = f"too small to estimate: {len(people_here)} people (at least {MIN_GROUP_PEOPLE})"
                rows.append(row)
                continue
            renumbered = np.searchsorted(people_here, person[rows_idx])
            c = compare_all(vectors[rows_idx], renumbered, keep_from=keep_from)
            draws = resample_people(len(people_here), settings.rounds, settings.seed)
            measured[value] = (c, draws)
            own, supported = threshold_for(c.impostor, settings.operating_fmr)
            row.update({"genuine": len(c.genuine), "impostor": len(c.impostor),
                        "fmr": fmr(c, threshold, draws).to_json(),
                        "fnmr": fnmr(c, threshold, draws).to_json() if len(c.genuine) else None,
                        "threshold_for_target": own, "threshold_supported": supported})
            rows.append(row)
        result: dict[str, Any] = {"rows": rows, "threshold": threshold}
        usable = [r for r in rows if "fmr" in r]
        if len(usable) >= 2:
            fmrs = [r["fmr"]["value"] for r in usable]
            fnmrs = [r["fnmr"]["value"] for r in usable if r["fnmr"] is not None]
            # A group without a single error has no finite ratio: None, and the page says why.
            result["fmr_ratio"] = max(fmrs) / min(fmrs) if min(fmrs) > 0 else None
            result["fnmr_ratio"] = max(fnmrs) / min(fnmrs) if fnmrs and min(fnmrs) > 0 else None
            worst = max(r["threshold_for_target"] for r in usable)
            result["worst_group_threshold"] = worst
            if settings.worst_group_threshold:
                at_worst = []
                for r in usable:
                    c, draws = measured[r["group"]]
                    at_worst.append({"group": r["group"], "fmr": fmr(c, worst, draws).to_json(),
                                     "fnmr": fnmr(c, worst, draws).to_json()})
                result["at_worst_group_threshold"] = at_worst
        out["attributes"][attribute] = result
    return out


def site_beside_shipped(site: dict[str, Any], shipped: Calibration | None) -> dict[str, Any]:
    """A site calibration (``facesearch calibrate --out``'s JSON) beside the shipped one, target by target:
    the shipped threshold, the site's over all its data, each measured group's, and each attribute's worst."""
    groups = [g for g in site.get("groups", []) if g.get("curve") is not None]
    rows = []
    for k, t in enumerate(site["overall"]["targets"]):
        target = t["target"]
        rows.append({
            "target": target,
            "shipped": None if shipped is None else shipped.threshold_for_fmr(target)[0],
            "site": t["threshold"], "needed_impostor_pairs": t["needed_impostor_pairs"], "site_fnmr": t["fnmr"],
            "groups": {f"{g['attribute']}={g['value']}": g["curve"]["targets"][k]["threshold"] for g in groups},
            "worst": {w["attribute"]: {"threshold": w["threshold"], "group": w["group"]}
                      for w in site.get("worst_group", []) if w["target"] == target}})
    return {"source": site["source"], "data_sha256": site["data_sha256"], "created": site["created"],
            "images": site["overall"]["images"], "people": site["overall"]["people"],
            "impostor_pairs": site["overall"]["impostor_pairs"],
            "shipped": None if shipped is None else shipped.dataset, "rows": rows,
            "too_small": [f"{g['attribute']}={g['value']}: {g['note']}" for g in site.get("groups", [])
                          if g.get("curve") is None]}


@dataclass
class EvaluationReport:
    evidence: Evidence
    settings: ReportSettings
    operating_threshold: float
    sections: dict[str, Any]
    problems: list[str]

    def to_json(self) -> dict[str, Any]:
        return {"evidence": self.evidence.__dict__, "settings": self.settings.__dict__,
                "operating_threshold": self.operating_threshold, "problems": self.problems, **self.sections}


def _section(name: str, notes: list[str], compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """One section, or its note when the data cannot support it: a bad part costs only its section.
    (The measures raise ``ValueError`` for data they cannot work with, e.g. no non-mated score.)"""
    try:
        return compute()
    except (ValueError, ZeroDivisionError, FloatingPointError) as exc:
        note = f"{name}: not computed: {exc}"
        notes.append(note)
        return {"note": note}


def build_report(evidence: Evidence, vectors: NDArray[np.float32], images: list[str], pair_images: list[str],
                 pair_folds: dict[str, int], calibration: Calibration | None, settings: ReportSettings,
                 groups: GroupLabels | None = None, problems: Sequence[str] = (),
                 site: dict[str, Any] | None = None) -> EvaluationReport:
    """Every section from the embeddings of ``images`` (the data set), ``pair_images`` (the 1:1 set,
    with each image's fold) and optional group labels; ``site``: a site calibration to show beside the shipped
    one. Sections that cannot be computed say why."""
    notes = list(problems)
    labels = [image.split("/")[0] for image in images]
    names = sorted(set(labels))
    person = np.searchsorted(np.array(names), np.array(labels)).astype(np.int64)
    index = {image: i for i, image in enumerate(images)}
    if calibration is not None:
        operating, _ = calibration.threshold_for_fmr(settings.operating_fmr)
        keep_from = calibration.threshold_for_fmr(max(settings.targets))[0] - 0.05
    else:
        operating, keep_from = float("nan"), -1.0
    sections: dict[str, Any] = {}
    chosen = [index[i] for i in pair_images if i in index]
    if chosen:
        rows = np.array(chosen, np.int64)
        sections["one_to_one"] = _section("1:1", notes, lambda: one_to_one(vectors[rows], person[rows], settings,
                                                                          keep_from)[0])
        if not pair_folds:
            sections["calibration"] = {"note": "no pair list (--pairs): the calibration check holds out the pair "
                                               "list's folds"}
        else:
            folds = np.array([pair_folds[images[i]] for i in chosen], np.int64)
            sections["calibration"] = _section("calibration", notes, lambda: calibration_check(
                vectors[rows], person[rows], folds, calibration, [t for t in settings.targets if t >= 1e-4]))
    else:
        sections["one_to_one"] = {"note": "the pair list is empty (or names no readable image): no 1:1 section"}
        notes.append(sections["one_to_one"]["note"])
    if math.isnan(operating):
        notes.append(f"profile {evidence.profile!r} is not calibrated: no operating threshold for 1:N and groups")
    else:
        if groups is not None:
            diff = _section("groups", notes, lambda: differentials(vectors, person, images, groups, operating,
                                                                   settings, keep_from))
            diff["operating_threshold"] = operating
            diff.setdefault("source", groups.source)
            sections["groups"] = diff
            worst = [a["worst_group_threshold"] for a in diff.get("attributes", {}).values()
                     if "worst_group_threshold" in a]
            if settings.worst_group_threshold and worst and max(worst) > operating:
                operating = max(worst)  # the 1:N section below runs at the raised threshold too
                notes.append(f"operating threshold raised to {operating:.4f} so that the worst group meets FMR "
                             f"{settings.operating_fmr:g}")
        at = operating
        sections["identification"] = _section("1:N", notes, lambda: identification(vectors, labels, at, settings))
    if site is not None:
        sections["site_calibration"] = _section("site calibration", notes,
                                                lambda: site_beside_shipped(site, calibration))
    return EvaluationReport(evidence, settings, operating, sections, notes)
