"""``review`` and ``export``: people confirm or reject candidate sightings; confirmed ones can leave.

Each command acts as an account (``wiring.operator``); a decision is a person's, signed in with their own
password, never an API key's or the operating-system login's."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from facesearch.cli.output import JsonOpt, command_group, emit_as, emit_json, fail, format_fmr, line, table
from facesearch.cli.wiring import open_context, operator
from facesearch.errors import FacesearchError
from facesearch.refs import RefKind, normalise_ref

app = command_group("Review candidate sightings: confirmation takes the case's number of distinct reviewers.")
NoteOpt = Annotated[str | None, typer.Option(help="Why: kept with the decision in the audit log.")]


@app.command("queue")
def queue(case: Annotated[str, typer.Option(help="Case whose candidates wait for review.")],
          json_out: JsonOpt = False) -> None:
    """Candidate sightings waiting for a decision."""
    from facesearch.api.schemas import SightingOut
    from facesearch.video.sightings import list_sightings

    try:
        ctx = open_context()
        who = operator(ctx, "sightings.read")
        with ctx.sessions() as s:
            waiting = [x for x in list_sightings(s, case, actor=who.actor) if x.status == "candidate"]
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(list[SightingOut], [x.to_json() for x in waiting])
        return
    table(f"review queue, {normalise_ref(case, RefKind.CASE)}",
          ["sighting", "name", "camera", "source", "start s", "score", "FMR"],
          [[x.id, x.name, x.camera or "", Path(x.source).name, f"{x.start:.1f}", f"{x.score:.3f}", format_fmr(x.fmr)]
           for x in waiting])


def _decide(sighting: int, decision: str, note: str | None, json_out: bool) -> None:
    from facesearch.api.schemas import ReviewOut
    from facesearch.review.service import review

    try:
        ctx = open_context()
        who = operator(ctx, "sightings.review")
        outcome = review(ctx.sessions, sighting, reviewer=who.actor, decision=decision, note=note,
                         min_reviewers=ctx.settings.min_reviewers)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(ReviewOut, outcome.to_json())
    else:
        line(f"sighting {outcome.sighting_id}: {decision}ed by {who.name}; now {outcome.status} "
             f"({outcome.confirmations} of {outcome.required} confirmations)")


@app.command("confirm")
def confirm(sighting: Annotated[int, typer.Argument(help="Sighting id.")], note: NoteOpt = None,
            json_out: JsonOpt = False) -> None:
    """Confirm that the sighting shows the person (you must not be the one who enrolled them)."""
    _decide(sighting, "confirm", note, json_out)


@app.command("reject")
def reject(sighting: Annotated[int, typer.Argument(help="Sighting id.")], note: NoteOpt = None,
           json_out: JsonOpt = False) -> None:
    """Reject the sighting: one rejection closes it."""
    _decide(sighting, "reject", note, json_out)


def export(case: Annotated[str, typer.Option(help="Case whose confirmed sightings are exported.")],
           out: Annotated[Path, typer.Option(help="Zip file to write.")], json_out: JsonOpt = False) -> None:
    """Write the redacted evidence package of the case's confirmed sightings (audited)."""
    from facesearch.review.export import export_confirmed

    try:
        ctx = open_context()
        summary = export_confirmed(ctx, case, out, actor=operator(ctx, "exports.write").actor)
    except FacesearchError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: {exc.strerror or exc}")
    if json_out:
        emit_json({"path": str(summary.path), "sightings": summary.sightings, "sha256": summary.sha256})
    else:
        line(f"{summary.path}: {summary.sightings} confirmed sightings (sha256 {summary.sha256[:12]})")
