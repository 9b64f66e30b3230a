"""``signin``: face sign-in. Enrol a person once (an administrator), then verify a live capture, a photo or a
short clip, against that person only (a kiosk's or app's key, role ``signin``)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facesearch.cli.output import EXIT_NO, JsonOpt, command_group, emit_json, fail, line, table, warn
from facesearch.cli.wiring import open_context, operator
from facesearch.errors import FacesearchError

app = command_group("Face sign-in: enrol people, and verify a live capture against one of them (1:1).")
NameArg = Annotated[str, typer.Argument(help="The person's name, as enrolled for sign-in.")]


@app.command("enroll")
def enroll(
    name: NameArg,
    photos: Annotated[list[Path], typer.Argument(help="Photos of the person (several are better).")],
    consent_ref: Annotated[str | None, typer.Option(help="Where the person's consent is recorded.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Enrol a person for sign-in (purpose "authentication"): never on a watchlist, never searched 1:N."""
    from facesearch.signin.service import enrol

    try:
        ctx = open_context()
        done = enrol(ctx, name, photos, actor=operator(ctx, "signin.manage").actor, consent_ref=consent_ref)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(done.to_json())
        return
    line(f"{done.person.name}: enrolled for sign-in from {done.person.templates} photos")
    for photo in done.photos:
        if not photo["accepted"]:
            warn(f"{photo['source']}: {photo['reason']}")


@app.command("remove")
def remove(name: NameArg, json_out: JsonOpt = False) -> None:
    """Delete a person's sign-in enrolment and every template of it (audited)."""
    from facesearch.signin.service import remove as remove_person

    try:
        ctx = open_context()
        person = remove_person(ctx, name, actor=operator(ctx, "signin.manage").actor)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"removed": person.to_json()})
    else:
        line(f"{person.name}: sign-in enrolment removed, {person.templates} templates deleted")


@app.command("captures")
def captures(
    name: NameArg,
    export: Annotated[Path | None, typer.Option(help="Write them, unsealed, into this folder (audited).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """The captures kept of a person's attempts, where the installation keeps them (FACESEARCH_SIGNIN_KEEP_CAPTURES;
    off by default: then there are none)."""
    from facesearch.signin.service import captures as kept_captures
    from facesearch.signin.service import export_captures

    try:
        ctx = open_context()
        who = operator(ctx, "signin.manage")
        found = kept_captures(ctx, name)
        written = export_captures(ctx, name, export, actor=who.actor) if export is not None else []
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"captures": [c.to_json() for c in found], "written": [str(p) for p in written]})
        return
    table(f"Captures kept of {name}'s attempts", ["at", "sha256", "bytes"],
          [[f"{c.at:%Y-%m-%d %H:%M:%S}", c.sha256[:16], c.bytes] for c in found])
    if export is not None:
        line(f"{len(written)} written to {export}")


@app.command("list")
def list_people(json_out: JsonOpt = False) -> None:
    """The people enrolled for sign-in."""
    from facesearch.signin.service import list_people as people

    try:
        ctx = open_context()
        operator(ctx, "signin.manage")
        found = people(ctx)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json([p.to_json() for p in found])
        return
    table("Enrolled for sign-in", ["name", "templates", "consent", "enrolled", "locked until"],
          [[p.name, p.templates, p.consent_ref or "", f"{p.created_at:%Y-%m-%d}",
            "" if p.locked_until is None else f"{p.locked_until:%H:%M:%S}"] for p in found])


@app.command("verify")
def verify(
    name: NameArg,
    capture: Annotated[Path, typer.Argument(help="The live capture: a photo, or a clip of 1-3 s.")],
    fmr: Annotated[float, typer.Option(help="Target false match rate, 1e-6 to 1e-2. Stricter refuses the right person "
                                            "more often: the answer shows the share of the calibration's genuine "
                                            "pairs refused at the threshold.")] = 1e-4,
    challenge: Annotated[str | None, typer.Option(help="The way the person was asked to turn their head "
                                                       "(left or right, their own), for a clip.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Verify a live capture against an enrolled person: accepted or not, the score, and each liveness layer.
    Exit code 0 accepted, 1 not accepted, 2 an error (a locked-out person, an unreadable capture)."""
    from facesearch.images import read_file
    from facesearch.signin.service import verify as run_verify

    try:
        ctx = open_context()
        who = operator(ctx, "signin.verify")
        data = read_file(capture, str(capture), ctx.settings.max_upload_bytes)
        result = run_verify(ctx, name, data, str(capture), actor=who.actor, target_fmr=fmr, challenge=challenge)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(result.to_json())
    else:
        cost = "" if result.fnmr is None else f", which refuses {100 * result.fnmr:.1f}% of genuine pairs"
        line(f"{result.name}: {'accepted' if result.accepted else 'not accepted'} (score {result.score:.3f}, "
             f"threshold {result.threshold:.3f} at FMR {result.target_fmr:.0e}{cost}; {result.capture}, "
             f"{result.frames} frames)")
        for layer in result.liveness.layers:
            state = {True: "passed", False: "FAILED" if layer.enforced else "failed (reported only)",
                     None: "not run"}[layer.passed]
            line(f"  {layer.name}: {state}" + (f" ({'; '.join(layer.reasons)})" if layer.reasons else ""))
        for reason in result.reasons:
            warn(reason)
    if not result.accepted:
        raise typer.Exit(EXIT_NO)
