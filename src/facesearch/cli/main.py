"""``facesearch``: the command line. Every command reports for people, or with ``--json`` for programs;
errors are one line naming the input and the reason; exit codes mean something (see ``output``)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from facesearch.cli import (
    commands_audit,
    commands_calibrate,
    commands_cases,
    commands_cluster,
    commands_embed,
    commands_eval,
    commands_library,
    commands_models,
    commands_review,
    commands_serve,
    commands_signin,
    commands_video,
)
from facesearch.cli.output import (
    EXIT_ERROR,
    EXIT_NO,
    EXIT_OK,
    JsonOpt,
    command_group,
    emit_json,
    fail,
    format_fmr,
    line,
)
from facesearch.errors import FacesearchError
from facesearch.store.failures import STORAGE_EXCEPTIONS, as_service_error

app = command_group(
    "Accountable, offline face recognition: find the people named in an authorised case in photos, recordings "
    "and camera streams for people to review; verify two faces; group a photo library by the people in it.",
    name="facesearch",
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(commands_eval.app, name="eval")
app.add_typer(commands_models.app, name="models")
app.add_typer(commands_audit.app, name="audit")
app.command("init")(commands_audit.init)
app.add_typer(commands_cases.app, name="case")
app.command("enroll")(commands_cases.enroll)
app.command("identify")(commands_cases.identify)
app.add_typer(commands_cases.retention_app, name="retention")
app.add_typer(commands_video.camera_app, name="camera")
app.add_typer(commands_cluster.app, name="cluster")
app.command("scan")(commands_video.scan)
app.command("sightings")(commands_video.sightings)
app.command("watch")(commands_video.watch)
app.command("report")(commands_video.report)
app.add_typer(commands_library.app, name="library")
app.add_typer(commands_signin.app, name="signin")
app.add_typer(commands_review.app, name="review")
app.command("export")(commands_review.export)
app.add_typer(commands_serve.user_app, name="user")
app.add_typer(commands_serve.key_app, name="apikey")
app.command("roles")(commands_serve.roles)
app.command("serve")(commands_serve.serve)
app.add_typer(commands_serve.assets_app, name="assets")
app.command("embed")(commands_embed.embed)
app.command("faces")(commands_embed.faces)
app.command("doctor")(commands_models.doctor)
app.command("threshold")(commands_eval.threshold)
app.command("calibrate")(commands_calibrate.calibrate)
app.add_typer(commands_calibrate.app, name="calibration")

ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Profile: default (fused), dlib, mobilefacenet, "
                                                             "or a registered model's name.")]


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def verify(
    image_a: Annotated[Path, typer.Argument(help="First photo.")],
    image_b: Annotated[Path, typer.Argument(help="Second photo.")],
    model: ModelOpt = "default",
    fmr: Annotated[float, typer.Option("--fmr", help="Target false match rate: the threshold is the "
                                                    "calibrated score with this FMR.")] = 1e-3,
    threshold: Annotated[float | None, typer.Option(help="Decision threshold on the score, overriding "
                                                         "--fmr.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Are the faces in two photos the same person? Exit 0 same, 1 different, 2 error.

    The largest face of each photo is compared; the others are listed. The score is reported with the
    false match rate (FMR) it carries, calibrated on LFW's impostor pairs.
    """
    from facesearch.cli.wiring import calibration_in_force
    from facesearch.engine import Engine

    try:
        engine = Engine(model)
        if not 0 < fmr < 1:
            fail(f"--fmr {fmr}: expected a rate between 0 and 1, e.g. 1e-3")
        calibration = calibration_in_force(engine)
        result = engine.verify(image_a, image_b, threshold=threshold, target_fmr=fmr,
                               calibration=calibration.calibration)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(result.to_json())
    else:
        verdict = "same person" if result.same else "different people"
        basis = f"set for FMR {result.target_fmr:g}" if result.target_fmr else "given"
        line(f"{verdict}: score {result.score:.4f} (threshold {result.threshold:.4f}, {basis}; "
             f"model {result.model})")
        line(f"false match rate at this score: {format_fmr(result.fmr, result.fmr_extrapolated)} "
             f"(calibration: {calibration.label})")
        for choice in result.faces:
            if choice.others:
                line(f"{choice.source}: {len(choice.others) + 1} faces; compared the largest "
                     f"(box {choice.used['box']}), others at {[o['box'] for o in choice.others]}")
    raise typer.Exit(EXIT_OK if result.same else EXIT_NO)


def run() -> None:
    """The console entry point: any facesearch error that escapes a command still ends as one line."""
    try:
        app(prog_name="facesearch")
        return
    except FacesearchError as exc:
        message = str(exc)
    except STORAGE_EXCEPTIONS as exc:  # a full disk, a damaged database: one line, not a traceback
        error = as_service_error(exc)
        if error is None:
            raise
        message = str(error)
    try:
        fail(message, EXIT_ERROR)
    except typer.Exit as ended:  # outside the app, nothing turns typer's exit into the process's
        raise SystemExit(ended.exit_code) from None
