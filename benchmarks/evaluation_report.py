"""The evaluation report on all of LFW for the default models, and its tables for RESULTS.md.

The same as

    facesearch eval report --data ../shared/data/lfw --pairs ../shared/data/lfw-pairs.txt \\
        --groups ../shared/data/lfw-gender --out /tmp/lfw-report

but reading the embeddings of the 13,233 images from the cache identify_lfw.py fills (about 6 minutes
on two cores the first time), and recording the threshold table, the 1:N table and the gender
differential.

    python benchmarks/evaluation_report.py [--out /tmp/lfw-report] [--no-record]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import LFW, LFW_PAIRS, SHARED, markdown_table, record
from facesearch.eval.groups import read_groups
from facesearch.eval.pairs import read_pairs
from facesearch.eval.report import Evidence, ReportSettings, build_report
from facesearch.eval.report_html import render
from identify_lfw import embed, lfw_images


def pct(rate: dict | None) -> str:
    if not rate:
        return "–"
    low, high = rate["ci95"]
    flag = "" if rate["resolved"] else " (fewer than 30 errors)"
    return f"{rate['value']:.3g} [{low:.3g}, {high:.3g}] ({rate['errors']:,}/{rate['trials']:,}){flag}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/lfw-report"))
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    images = lfw_images(LFW)
    engine, embedded = embed("default", images, fresh=False)
    vectors = engine.fuse(embedded["emb"].per_model)
    pairs = read_pairs(LFW_PAIRS)
    folds: dict[str, int] = {}
    for p in pairs:
        folds.setdefault(p.a, p.fold)
        folds.setdefault(p.b, p.fold)
    groups = read_groups(SHARED / "lfw-gender", images)
    evidence = Evidence(dataset=f"LFW deep-funneled ({len(images):,} images, 5,749 people)", profile=engine.profile,
                        models=tuple(engine.model_names),
                        protocol="1:1: every pair of View 2's 7,701 images, folds from pairs.txt; 1:N: first image "
                                 "of each person with two or more enrolled; intervals by bootstrap over people")
    start = time.perf_counter()
    report = build_report(evidence, vectors, images, sorted(folds), folds, engine.calibration, ReportSettings(),
                          groups=groups)
    data = report.to_json()
    page = render(data, args.out)
    seconds = time.perf_counter() - start

    one = data["one_to_one"]
    threshold_table = markdown_table(
        ["target FMR", "threshold", "FMR observed [95% CI] (errors/comparisons)", "FNMR [95% CI] (misses/genuine)"],
        [[f"{r['target_fmr']:g}", f"{r['threshold']:.4f}", pct(r.get("fmr")), pct(r.get("fnmr"))] if r["supported"]
         else [f"{r['target_fmr']:g}", "–", r["note"], "–"] for r in one["thresholds"]])
    calibration_table = markdown_table(
        ["target FMR", "observed on held-out folds (median)", "range over the 10 folds", "resolved"],
        [[f"{r['target_fmr']:g}", f"{r['observed_median']:.3g}", f"{r['observed_min']:.3g} – {r['observed_max']:.3g}",
          "yes" if r["resolved"] else "no"] for r in data["calibration"]["per_target"]])
    ident = data["identification"]
    ident_table = markdown_table(
        ["watchlist", "FPIR at the fixed threshold", "FNIR at the fixed threshold", "FNIR at FPIR 1e-2"],
        [[f"{r['watchlist']:,}", f"{r['fpir']:.3g} ({r['false_alerts']:,}/{r['nonmated']:,})",
          f"{r['fnir']:.3g} ({r['misses']:,}/{r['mated']:,})", f"{r['at_fpir'].get('fnir', float('nan')):.3g}"]
         for r in ident["rows"]])
    gender = data["groups"]["attributes"]["lfw-gender"]
    gender_table = markdown_table(
        ["group", "people", "images", "FMR [95% CI]", "FNMR [95% CI]", "own threshold for FMR 1e-4"],
        [[r["group"], f"{r['people']:,}", f"{r['images']:,}", pct(r.get("fmr")), pct(r.get("fnmr")),
          f"{r['threshold_for_target']:.4f}"] for r in gender["rows"] if "fmr" in r])
    ratios = (f"Worst/best: FMR x {gender['fmr_ratio']:.2f}, FNMR x {gender['fnmr_ratio']:.2f}; the threshold that "
              f"holds both groups at FMR 1e-4: {gender['worst_group_threshold']:.4f} (operating threshold "
              f"{data['operating_threshold']:.4f}). Group-file problems: " + "; ".join(data["groups"]["problems"]))
    body = "\n\n".join([
        f"1:1, every pair of View 2's images ({one['genuine']:,} genuine, {one['impostor']:,} impostor "
        f"comparisons; intervals: 500 resamples of people):", threshold_table,
        "The score -> FMR mapping fitted on nine folds and applied to the tenth:", calibration_table,
        f"1:N at the operating threshold {ident['threshold']:.4f} (FMR 1e-4), watchlists drawn from the 1,680 "
        "people with two or more images; everyone else searches as a stranger:", ident_table,
        "Perceived-gender differential at the operating threshold (labels: lfw-gender; impostor pairs within "
        "each group):", gender_table, ratios])
    print(body)
    print(f"report: {page} ({seconds:.0f} s from embeddings)")
    if not args.no_record:
        record("Evaluation report on LFW: thresholds, calibration, 1:N, gender differential",
               "python benchmarks/evaluation_report.py", body)


if __name__ == "__main__":
    main()
