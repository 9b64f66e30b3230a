"""``facesearch eval``: accuracy on standard protocols."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from tqdm import tqdm

from facesearch.cli.output import emit_json, fail, line, table
from facesearch.errors import FacesearchError

app = typer.Typer(help="Evaluate models on standard protocols.", no_args_is_help=True)


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
