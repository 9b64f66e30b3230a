"""``facesearch eval``: accuracy on standard protocols."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from facesearch.cli.output import CountBar, JsonOpt, command_group, emit_json, fail, line, table
from facesearch.errors import FacesearchError

app = command_group("Evaluate models on standard protocols.")


@app.command("lfw")
def lfw(
    data: Annotated[Path, typer.Option(help="LFW image folder (deep-funneled; Name/Name_0001.jpg).")],
    pairs: Annotated[Path, typer.Option(help="LFW View 2 pairs file (pairs.txt).")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    out: Annotated[Path, typer.Option(help="Folder for lfw.json, roc.png and det.png.")] = Path("lfw-eval"),
    save_calibration: Annotated[
        Path | None,
        typer.Option(help="Write the calibration (z-norm, threshold, score->FMR) of every profile made of "
                          "this profile's models to this JSON file (e.g. $FACESEARCH_HOME/calibration.json)."),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Images per model call.")] = 64,
    json_out: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """LFW View 2: 10 folds, each fold's threshold chosen on the other nine.

    Prints mean accuracy ± standard deviation, ROC AUC and TAR at FAR 1e-2 and 1e-3 for each recognizer
    of the profile and their fusion; writes lfw.json, roc.png and det.png.
    """
    from facesearch.calibration import save_calibration as save
    from facesearch.engine import Engine
    from facesearch.eval.lfw import calibrations, evaluate, plot_curves
    from facesearch.eval.pairs import read_pairs

    try:
        engine = Engine(model)
        engine.recognizers  # noqa: B018 - convert/load the models before the progress bar starts
        pair_list = read_pairs(pairs)  # fail on a bad pairs file before any model work
        n_images = len({p.a for p in pair_list} | {p.b for p in pair_list})
        with tqdm(total=n_images, unit="img", desc="LFW", disable=json_out or None) as bar:
            report, emb, _ = evaluate(engine, data, pairs, progress=bar.update, batch_size=batch_size)
        out.mkdir(parents=True, exist_ok=True)
        data_json = report.to_json()
        plots = plot_curves(report, out)
        data_json["plots"] = [str(p) for p in plots]
        if save_calibration is not None:
            saved = []
            for cal in calibrations(engine, emb, pair_list):
                save(save_calibration, cal)
                saved.append(cal.profile)
            data_json["calibration_saved"] = {"path": str(save_calibration), "profiles": saved}
        (out / "lfw.json").write_text(json.dumps(data_json, indent=2) + "\n")
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(data_json)
        return
    rows = []
    for s in report.scores:
        rows.append([
            s.name,
            f"{100 * s.folds.mean:.2f}% ± {100 * s.folds.std:.2f}",
            f"{s.roc.auc():.5f}",
            f"{100 * s.roc.tar_at(1e-2):.2f}%",
            f"{100 * s.roc.tar_at(1e-3):.2f}%",
        ])
    table(f"LFW View 2, {report.pairs} pairs, {report.images} images",
          ["model", "accuracy (10-fold)", "ROC AUC", "TAR@FAR=1e-2", "TAR@FAR=1e-3"], rows)
    if report.undetected:
        line(f"no face detected in {len(report.undetected)} images: used the centre of the deep-funneled image "
             f"({', '.join(report.undetected[:5])}{', …' if len(report.undetected) > 5 else ''})")
    if report.unreadable:
        line(f"{len(report.unreadable)} images could not be read; {report.skipped_pairs} pairs skipped")
    line(f"wrote {out / 'lfw.json'}, {plots[0]}, {plots[1]}")
    if save_calibration is not None:
        line(f"calibration saved to {save_calibration}")


@app.command("report")
def report(
    data: Annotated[Path, typer.Option(help="Data folder: one folder of images per person (LFW's layout).")],
    pairs: Annotated[Path | None, typer.Option(help="Pair list in LFW's pairs.txt format: the 1:1 section "
                                                    "compares its images, and its folds drive the calibration "
                                                    "check. Without it, 1:1 compares every pair of the images and "
                                                    "the calibration check is left out.")] = None,
    groups: Annotated[Path | None, typer.Option(help="Group labels: a CSV/TSV or a folder of lists "
                                                     "(see 'facesearch eval groups --help').")] = None,
    out: Annotated[Path, typer.Option(help="Folder for index.html, the PNGs and report.json.")] = Path("report"),
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    fmr: Annotated[float, typer.Option("--fmr", help="Operating FMR: the threshold for the 1:N and group "
                                                    "sections.")] = 1e-4,
    worst_group: Annotated[bool, typer.Option("--worst-group-threshold", help="Raise the operating threshold "
                                                                            "until the worst group meets --fmr.")
                           ] = False,
    rounds: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.", min=50, max=10000)] = 500,
    cache: Annotated[Path | None, typer.Option(help="Keep the embeddings here and reuse them when the images "
                                                    "and model are the same.")] = None,
    site: Annotated[Path | None, typer.Option(help="A site calibration (facesearch calibrate --out FILE) to show "
                                                   "beside the shipped one, target by target and group by "
                                                   "group.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print report.json.")] = False,
) -> None:
    """Error rates with confidence intervals, the calibration checked on held-out folds, 1:N false alerts
    against watchlist size, and per-group differentials: one self-contained HTML page with its data."""
    from facesearch.engine import Engine
    from facesearch.eval.report import ReportSettings
    from facesearch.eval.report_run import run_report

    if not 0 < fmr < 1:
        fail(f"--fmr {fmr}: expected a rate between 0 and 1")
    bar = CountBar("embedding", "img", quiet=json_out)
    try:
        result, page = run_report(Engine(model), data, pairs, out, groups=groups, cache=cache,
                                  settings=ReportSettings(operating_fmr=fmr, rounds=rounds,
                                                          worst_group_threshold=worst_group),
                                  on_total=bar.start, progress=bar.update, site=site)
    except FacesearchError as exc:
        fail(str(exc))
    finally:
        bar.close()
    if json_out:
        emit_json(result.to_json())
        return
    for problem in result.problems:
        line(f"note: {problem}")
    line(f"wrote {page} (and report.json, the PNGs beside it)")


@app.command("groups")
def groups(
    labels: Annotated[Path, typer.Argument(help="A CSV/TSV file or a folder of <value>.txt lists.")],
    data: Annotated[Path, typer.Option(help="Data folder: one folder of images per person.")],
    json_out: JsonOpt = False,
) -> None:
    """Check a group-label file against a data set: images per group, and what cannot be used.

    Format 1, a table (.csv, or .tsv for tabs; UTF-8): a header row whose first column names the image
    and whose other columns are attributes, then one row per image, e.g.

    \b
        image,sex,age_band
        Aaron_Eckhart/Aaron_Eckhart_0001.jpg,male,40-60

    Format 2, a folder of lists for one attribute named after the folder: <value>.txt or
    <value>_names.txt, one image per line (../shared/data/lfw-gender is one).

    An image is named by its path under the data folder or by its file name. Images the data set lacks,
    images with two values of one attribute, and files that are not UTF-8 (read as Latin-1) are
    reported; groups of fewer than 20 people are reported in the evaluation as too small.
    """
    from facesearch.eval.groups import read_groups
    from facesearch.eval.report_run import data_images

    try:
        found = read_groups(labels, data_images(data))
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(found.to_json())
        return
    for attribute, counts in found.counts().items():
        line(f"{attribute}: " + ", ".join(f"{value} {n:,} images" for value, n in counts.items()))
    for problem in found.problems:
        line(f"note: {problem}")


def threshold(
    fmr: Annotated[float | None, typer.Option("--fmr", help="Target false match rate of one comparison.")] = None,
    fpir: Annotated[float | None, typer.Option("--fpir", help="Target false positive identification rate of "
                                                              "one search against a watchlist.")] = None,
    watchlist_size: Annotated[int | None, typer.Option(help="People on the watchlist (with --fpir).", min=1)
                              ] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    json_out: JsonOpt = False,
) -> None:
    """The score threshold for a target FMR (1:1), or for a target FPIR on a watchlist of N people (1:N,
    as 'identify' and 'scan' set it: FMR = FPIR / N per comparison)."""
    from facesearch.calibration import MAX_SCORE
    from facesearch.cli.output import format_fmr
    from facesearch.engine import Engine

    if (fmr is None) == (fpir is None):
        fail("give one of --fmr or --fpir (with --watchlist-size)")
    if fpir is not None and watchlist_size is None:
        fail("--fpir needs --watchlist-size")
    rate = fmr if fmr is not None else fpir / watchlist_size  # type: ignore[operator]
    if not 0 < rate < 1:
        fail(f"{fmr if fmr is not None else fpir}: expected a rate between 0 and 1")
    try:
        calibration = Engine(model).calibration
    except FacesearchError as exc:
        fail(str(exc))
    if calibration is None:
        fail(f"{model}: profile is not calibrated ('facesearch eval lfw --save-calibration')")
    found = calibration.support(rate)
    value, extrapolated = found.threshold, found.extrapolated
    if not found.reachable:  # a threshold no score can reach is no threshold: refused, never printed
        fail(f"FMR {rate:.3g} is beyond the calibration's data: its threshold would be {value:.4f}, above the "
             f"highest possible score {MAX_SCORE:g}; the smallest FMR it supports is "
             f"{calibration.smallest_supported_fmr():.2g} (extrapolated)")
    result = {"model": model, "fmr_per_comparison": rate, "threshold": value, "extrapolated": extrapolated,
              "impostor_pairs": found.impostor_pairs, "impostor_comparisons": found.measured,
              "fpir": fpir, "watchlist_size": watchlist_size, "calibration": calibration.dataset,
              "smallest_measured_fmr": calibration.smallest_measured_fmr}
    if json_out:
        emit_json(result)
        return
    what = f"FMR {fmr:g}" if fmr is not None else f"FPIR {fpir:g} on {watchlist_size:,} people (FMR {rate:.3g} each)"
    line(f"{model}: threshold {value:.4f} for {what}; FMR there {format_fmr(rate, extrapolated)}")
    if extrapolated:
        line(f"note: extrapolated, 0 impostor pairs at or above it of the {found.measured:,} measured; the rate "
             "comes from a fit to the tail, not from data")
    elif found.few:
        line(f"note: rests on {found.impostor_pairs} impostor pairs of the {found.measured:,} measured; the rate "
             "is uncertain by a third or more")
