"""``facesearch case``, ``enroll`` and ``identify``: watchlists inside authorised, time-limited cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from facesearch.cli.output import (
    EXIT_PARTIAL,
    JsonOpt,
    command_group,
    emit_as,
    emit_json,
    fail,
    flag,
    format_fmr,
    line,
    table,
    warn,
)
from facesearch.cli.wiring import open_context, operator
from facesearch.errors import FacesearchError
from facesearch.refs import RefKind, normalise_ref

app = command_group("Create and run cases: authorised, time-limited searches for named people.")



def _moment(text: str | None, *, end_of_day: bool) -> datetime | None:
    """A date or time given on the command line, read by the cases service's one date rule."""
    from facesearch.cases.service import parse_case_time

    if text is None:
        return None
    try:
        return parse_case_time(text, end_of_day=end_of_day)
    except FacesearchError as exc:
        fail(str(exc))


def _print_case(case: Any, json_out: bool) -> None:
    from facesearch.api.schemas import CaseOut

    if json_out:
        emit_as(CaseOut, case.to_json())
        return
    line(f"{case.ref} [{case.status}] {case.title} ({case.purpose}); valid {case.valid_from:%Y-%m-%d %H:%M} to "
         f"{case.valid_until:%Y-%m-%d %H:%M} UTC; covers recordings from {case.recorded_from:%Y-%m-%d %H:%M} to "
         f"{case.recorded_until:%Y-%m-%d %H:%M} UTC; reviewers {case.reviewers_required}; "
         f"cameras {', '.join(case.cameras) or 'any'}; targets {len(case.targets)}")


@app.command("create")
def create(
    title: Annotated[str, typer.Option(help="What the case is about.")],
    purpose: Annotated[str, typer.Option(help="missing-person, victim, suspect or other.")],
    valid_until: Annotated[str, typer.Option(help="Last day (YYYY-MM-DD) or time the case may be searched.")],
    purpose_text: Annotated[str | None, typer.Option(help="Description, required for purpose 'other'.")] = None,
    legal_basis: Annotated[str | None, typer.Option(help="The law that allows the search.")] = None,
    authorisation_ref: Annotated[str | None, typer.Option(help="Reference of the authorisation.")] = None,
    authorising_authority: Annotated[str | None, typer.Option(help="Body that authorised it.")] = None,
    authorised_by: Annotated[str | None, typer.Option(help="Person who authorised it.")] = None,
    valid_from: Annotated[str | None, typer.Option(help="First day (default: now).")] = None,
    recorded_from: Annotated[str | None, typer.Option(
        help="Earliest recording time a search may cover (default and earliest: FACESEARCH_RECORDING_LOOKBACK_DAYS, "
             "30, days before valid-from).")] = None,
    recorded_until: Annotated[str | None, typer.Option(
        help="Latest recording time a search may cover (default and latest: valid-until).")] = None,
    cameras: Annotated[str, typer.Option(help="Comma-separated cameras or places allowed (default: any).")] = "",
    reviewers: Annotated[int | None, typer.Option(help="Distinct people needed to confirm a sighting (default and "
                                                       "least: FACESEARCH_MIN_REVIEWERS, 2).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create a case; with its legal basis, authorisation reference and authoriser it is authorised."""
    from facesearch.cases.service import create_case
    from facesearch.settings import get_settings

    until = _moment(valid_until, end_of_day=True)
    assert until is not None
    try:
        ctx = open_context()
        who = operator(ctx, "cases.write")
        case = create_case(ctx.sessions, title=title, purpose=purpose, purpose_text=purpose_text, valid_until=until,
                           valid_from=_moment(valid_from, end_of_day=False),
                           recorded_from=_moment(recorded_from, end_of_day=False),
                           recorded_until=_moment(recorded_until, end_of_day=True),
                           lookback=timedelta(days=ctx.settings.recording_lookback_days),
                           cameras=[c.strip() for c in cameras.split(",") if c.strip()],
                           reviewers_required=reviewers, max_span=timedelta(days=get_settings().max_case_days),
                           min_reviewers=ctx.settings.min_reviewers, actor=who.actor, legal_basis=legal_basis,
                           authorisation_ref=authorisation_ref,
                           authorising_authority=authorising_authority, authorised_by=authorised_by)
    except FacesearchError as exc:
        fail(str(exc))
    _print_case(case, json_out)


@app.command("authorise")
def authorise(
    case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")],
    legal_basis: Annotated[str | None, typer.Option(help="The law that allows the search.")] = None,
    authorisation_ref: Annotated[str | None, typer.Option(help="Reference of the authorisation.")] = None,
    authorising_authority: Annotated[str | None, typer.Option(help="Body that authorised it.")] = None,
    authorised_by: Annotated[str | None, typer.Option(help="Person who authorised it.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Complete a draft case's authorisation: give at least one of the options; with --legal-basis,
    --authorisation-ref and --authorised-by all recorded the case is authorised."""
    from facesearch.cases.service import REQUIRED_FOR_AUTHORISATION, authorise_case

    try:
        ctx = open_context()
        result = authorise_case(ctx.sessions, case, actor=operator(ctx, "cases.write").actor, legal_basis=legal_basis,
                                authorisation_ref=authorisation_ref, authorising_authority=authorising_authority,
                                authorised_by=authorised_by)
    except FacesearchError as exc:
        _fail_case(exc)
    _print_case(result, json_out)
    missing = [f for f in REQUIRED_FOR_AUTHORISATION if not result.fields.get(f)]
    if missing:
        warn(f"{result.ref} is still a draft: missing {', '.join(flag(f) for f in missing)}")


@app.command("recording-window")
def recording_window(
    case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")],
    recorded_from: Annotated[str | None, typer.Option(help="Earliest recording time searches may cover.")] = None,
    recorded_until: Annotated[str | None, typer.Option(help="Latest recording time (at most valid-until).")] = None,
    legal_basis: Annotated[str | None, typer.Option(help="The law that allows the wider search.")] = None,
    authorisation_ref: Annotated[str | None, typer.Option(help="Reference of the new authorisation.")] = None,
    authorising_authority: Annotated[str | None, typer.Option(help="Body that authorised it.")] = None,
    authorised_by: Annotated[str | None, typer.Option(help="Person who authorised it.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Move a case's recording window (which recordings its searches may cover). Narrowing needs nothing
    more; widening it needs --legal-basis, --authorisation-ref and --authorised-by again. Audited with the
    window before and after."""
    from facesearch.cases.service import change_recording_window

    try:
        ctx = open_context()
        result = change_recording_window(
            ctx.sessions, case, actor=operator(ctx, "cases.write").actor,
            recorded_from=_moment(recorded_from, end_of_day=False),
            recorded_until=_moment(recorded_until, end_of_day=True), legal_basis=legal_basis,
            authorisation_ref=authorisation_ref, authorising_authority=authorising_authority,
            authorised_by=authorised_by)
    except FacesearchError as exc:
        _fail_case(exc)
    _print_case(result, json_out)


def _fail_case(exc: FacesearchError) -> NoReturn:
    """``fail`` for the case services' errors, with the fields they name written as this command's flags."""
    from facesearch.cases.service import MissingAuthorisation

    if isinstance(exc, MissingAuthorisation):
        fail(f"{exc.subject}: {exc.named(flag)}")
    fail(str(exc))


@app.command("activate")
def activate(case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")], json_out: JsonOpt = False) -> None:
    """Make an authorised case searchable (inside its validity)."""
    from facesearch.cases.service import activate_case

    try:
        ctx = open_context()
        result = activate_case(ctx.sessions, case, actor=operator(ctx, "cases.write").actor)
    except FacesearchError as exc:
        _fail_case(exc)
    _print_case(result, json_out)


@app.command("close")
def close(case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")], json_out: JsonOpt = False) -> None:
    """Close a case; its watchlist templates are deleted unless another live case needs them."""
    from facesearch.cases.service import close_case_counted

    try:
        ctx = open_context()
        result, deleted = close_case_counted(ctx.sessions, case, actor=operator(ctx, "cases.write").actor)
    except FacesearchError as exc:
        fail(str(exc))
    _print_case(result, json_out)
    if not json_out:
        kept = " (none needed deleting: its people are on another live case's watchlist, or none were enrolled)"
        line(f"{deleted} face template{'' if deleted == 1 else 's'} deleted" + (kept if deleted == 0 else ""))


def _print_assignments(ref: str, found: list[Any], json_out: bool) -> None:
    from facesearch.api.schemas import AssignmentOut

    if json_out:
        emit_as(list[AssignmentOut], [a.to_json() for a in found])
        return
    table(f"assigned to {normalise_ref(ref, RefKind.CASE)}", ["user", "role", "assigned by", "since (UTC)"],
          [[a.username, a.role, a.assigned_by, f"{a.assigned_at:%Y-%m-%d %H:%M}"] for a in found])


@app.command("assign")
def assign(case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")],
           user: Annotated[str, typer.Argument(help="Officer or reviewer who may now see the case.")],
           json_out: JsonOpt = False) -> None:
    """Assign an officer or reviewer to a case (administrators; audited): need to know."""
    from facesearch.cases.access import assign as assign_person

    try:
        ctx = open_context()
        found = assign_person(ctx.sessions, case, user, actor=operator(ctx, "cases.assign").actor)
    except FacesearchError as exc:
        fail(str(exc))
    _print_assignments(case, found, json_out)


@app.command("unassign")
def unassign(case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")],
             user: Annotated[str, typer.Argument(help="Person who no longer sees the case.")],
             json_out: JsonOpt = False) -> None:
    """Take a person off a case (administrators; audited): from now on they see nothing of it."""
    from facesearch.cases.access import unassign as unassign_person

    try:
        ctx = open_context()
        found = unassign_person(ctx.sessions, case, user, actor=operator(ctx, "cases.assign").actor)
    except FacesearchError as exc:
        fail(str(exc))
    _print_assignments(case, found, json_out)


@app.command("show")
def show(case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")], json_out: JsonOpt = False) -> None:
    """One case: its status, validity (when it may be searched) and recording window (which recordings)."""
    from facesearch.cases.service import get_case

    try:
        ctx = open_context()
        found = get_case(ctx.sessions, case, actor=operator(ctx, "cases.read").actor)
    except FacesearchError as exc:
        fail(str(exc))
    _print_case(found, json_out)


@app.command("list")
def list_cases(json_out: JsonOpt = False) -> None:
    """The cases you may see, with their status (a case past its validity shows as expired); officers and
    reviewers see the cases they are assigned to."""
    from facesearch.api.schemas import CaseOut
    from facesearch.cases.service import list_cases as all_cases

    try:
        ctx = open_context()  # read only: a case past its validity shows as expired
        cases = all_cases(ctx.sessions, actor=operator(ctx, "cases.read").actor)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(list[CaseOut], [c.to_json() for c in cases])
        return
    table("cases", ["id", "status", "title", "purpose", "valid until (UTC)", "targets"],
          [[c.ref, c.status, c.title, c.purpose, f"{c.valid_until:%Y-%m-%d %H:%M}", len(c.targets)] for c in cases])


def enroll(
    photos: Annotated[list[Path], typer.Argument(help="Enrolment photos of one person.")],
    name: Annotated[str, typer.Option(help="The person's name.")],
    case: Annotated[str | None, typer.Option(help="Case whose watchlist this person joins.")] = None,
    face: Annotated[int | None, typer.Option(help="Which face, when a photo shows several: 0 for the first in "
                                                  "the detector's order (most confident first); "
                                                  "'facesearch faces PHOTO' lists them with these numbers.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    json_out: JsonOpt = False,
) -> None:
    """Enrol a person from one or more photos; unfit photos are refused with the reason."""
    from facesearch.api.schemas import EnrolmentOut
    from facesearch.cases.service import enrol_person

    try:
        ctx = open_context(model)
        report = enrol_person(ctx, name, photos, actor=operator(ctx, "identities.enrol").actor, case=case, face=face)
    except FacesearchError as exc:
        fail(str(exc))
    photos_json = [p.to_json() for p in report.photos]
    if json_out:
        emit_as(EnrolmentOut, {"identity_id": report.identity_id, "name": report.name, "case": case,
                               "added_to_existing": report.added,
                               "photos": photos_json})
    else:
        into = f" in {normalise_ref(case, RefKind.CASE)}" if case else ""
        if report.added:  # the name is already on this watchlist: the same person, more photos
            line(f"added {report.accepted} of {len(report.photos)} photos to {report.name} (identity "
                 f"{report.identity_id}, already on the watchlist){into}")
        else:
            line(f"enrolled {report.name} as identity {report.identity_id} from {report.accepted} of "
                 f"{len(report.photos)} photos" + (f" into {normalise_ref(case, RefKind.CASE)}" if case else ""))
        for p in report.photos:
            if not p.accepted:
                warn(f"{p.source}: refused: {p.reason}")
            if p.unlike_person is not None:
                warn(f"{p.source}: does not match {report.name}'s other photos (best score {p.unlike_person}): if "
                     "it is someone else, remove it (case remove-person --photo) and enrol them under their name")
            if p.similar_to:  # one line per photo, however many it matches
                warn(f"{p.source}: already matches " + "; ".join(
                    f"enrolled identity {o['identity_id']} ({o['name']}, score {o['score']})" for o in p.similar_to))
    if report.accepted < len(report.photos):
        raise typer.Exit(EXIT_PARTIAL)


def identify(
    photo: Annotated[Path, typer.Argument(help="Photo to search.")],
    case: Annotated[str, typer.Option(help="Active case whose watchlist is searched.")],
    camera: Annotated[str | None, typer.Option(help="Registered camera the photo comes from; required when the "
                                                    "case names cameras.")] = None,
    fpir: Annotated[float, typer.Option(help="Target false positive identification rate per face.")] = 1e-3,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    json_out: JsonOpt = False,
) -> None:
    """Every face in the photo against the case's watchlist: candidates with score and FMR, or no match."""
    from facesearch.api.schemas import IdentificationOut
    from facesearch.cases.identify import identify as run_identify

    if not 0 < fpir < 1:
        fail(f"--fpir {fpir}: expected a rate between 0 and 1")
    try:
        ctx = open_context(model)
        result = run_identify(ctx, case, photo, actor=operator(ctx, "search.identify").actor, fpir=fpir,
                              camera=camera)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(IdentificationOut, result.to_json())
        return
    line(f"{result.case}: {len(result.faces)} faces searched against {result.watchlist_size} people; "
         f"threshold {result.threshold:.4f} for FPIR {result.target_fpir:g}")
    for i, f in enumerate(result.faces):
        if f.no_match:
            line(f"  face {i} at {f.box}: no match")
        for c in f.candidates:
            line(f"  face {i} at {f.box}: candidate #{c.rank} {c.name} (identity {c.identity_id}), score "
                 f"{c.score:.4f}, FMR {format_fmr(c.fmr)}")


@app.command("remove-person")
def remove_person(
    case: Annotated[str, typer.Argument(help="Case id, e.g. C1.")],
    person: Annotated[int, typer.Option(help="The identity's number, as enroll printed it.")],
    photo: Annotated[int | None, typer.Option(help="Remove only this enrolment photo (1 = the first enrolled); "
                                                   "without it, the person leaves the watchlist.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Undo an enrolment: take a person off the case's watchlist, or delete one of their photos. Templates are
    deleted at once (a person's stay while another live case still searches them); audited."""
    from facesearch.api.schemas import RemovalOut
    from facesearch.cases.removal import remove_person as take_off
    from facesearch.cases.removal import remove_photo

    try:
        ctx = open_context()
        actor = operator(ctx, "identities.enrol").actor
        done = (take_off(ctx, case, person, actor=actor) if photo is None
                else remove_photo(ctx, case, person, photo, actor=actor))
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(RemovalOut, done.to_json())
        return
    what = f"photo {photo} of identity {person}" if photo is not None else f"identity {person}"
    line(f"{done.case}: removed {what}; deleted {done.templates_deleted} template(s) and "
         f"{done.photos_deleted} enrolment photo(s)"
         + (f"; templates kept: {done.kept_by} other live case(s) still search this person" if done.kept_by else ""))


retention_app = command_group("Purge what the retention rules say must go.")


@retention_app.command("run")
def retention_run(json_out: JsonOpt = False) -> None:
    """Expire cases past their validity and delete the templates no live case needs; audited.

    Sightings, with their evidence, older than the retention period (FACESEARCH_RETENTION_DAYS, default
    30) are deleted. Also runs when 'serve' and 'watch' start.
    """
    from facesearch.retention import run_retention
    from facesearch.settings import get_settings

    try:
        sessions = open_context().sessions
        # The rules decide, not a person: audited as the system's, like the server's sweeps.
        report = run_retention(sessions, actor="system", retention_days=get_settings().retention_days)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(report.to_json())
    else:
        expired = report.cases_expired
        line(f"retention: {len(expired)} cases expired" + (f" ({', '.join(expired)})" if expired else "")
             + f", {report.templates_purged} templates of people no live case targets deleted, "
             f"{report.sightings_purged} sightings older than {report.retention_days} days deleted")
