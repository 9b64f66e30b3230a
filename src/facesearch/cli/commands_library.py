"""``library``: a personal photo collection, grouped by the people in it. No cases: the user's own
photos on the user's machine, sealed with the same key as everything else."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facesearch.cli.output import (
    EXIT_PARTIAL,
    CountBar,
    JsonOpt,
    command_group,
    emit_as,
    emit_json,
    fail,
    line,
    table,
    warn,
)
from facesearch.cli.wiring import open_context, operator
from facesearch.errors import FacesearchError
from facesearch.refs import RefKind, normalise_ref

app = command_group("Group a personal photo collection by the people in it, and find people in it.")
ModelOpt = Annotated[str, typer.Option("--model", "-m", help="Model profile (one per library).")]
PersonArg = Annotated[str, typer.Argument(help="A person's id, as 'library people' shows (P17).")]
FaceArg = Annotated[str, typer.Argument(help="A face's id, as 'library show' shows (F123).")]


def _me(ctx: Any) -> str:
    """The library's owner as the audit log names them: the account this command signs in as (a person with
    the library role; ``wiring.operator``), never the operating-system login."""
    return operator(ctx, "library.write").actor


def _thresholds(model: str) -> Any:
    """Grouping thresholds from the profile's calibration."""
    from facesearch.engine import Engine
    from facesearch.library.records import grouping_thresholds

    return grouping_thresholds(Engine(model))


@app.command("index")
def index(
    folder: Annotated[Path, typer.Argument(help="The folder of photos (walked recursively, links followed).")],
    model: ModelOpt = "default",
    json_out: JsonOpt = False,
) -> None:
    """Index new and changed photos (unchanged ones are skipped), then group new faces into people."""
    from facesearch.library.ingest import index_library

    bar = CountBar("indexing", "photo")
    try:
        ctx = open_context(model)
        summary = index_library(ctx, folder, actor=_me(ctx),
                                on_total=bar.start, progress=bar.update)
    except FacesearchError as exc:
        fail(str(exc))
    finally:
        bar.close()
    if json_out:
        emit_json(summary.to_json())
    else:
        line(f"{summary.root}: {summary.files} photos, {summary.indexed} indexed now, {summary.unchanged} unchanged, "
             f"{summary.removed} removed since the last run")
        line(f"  {summary.faces} faces ({summary.unsorted} too small or blurred to group: unsorted), "
             f"{summary.no_faces} photos without a face, {len(summary.duplicates)} copies of other photos")
        line(f"  people: {summary.new_people} new, {summary.joined_people} faces joined people already known "
             f"({summary.seconds:.1f} s)")
        for copy, original in summary.duplicates.items():
            line(f"  copy: {copy} = {original}")
    for path, reason in {**summary.unreadable, **summary.problems}.items():
        warn(reason if reason.startswith(path) else f"{path}: {reason}")
    if summary.unreadable or summary.problems:
        raise typer.Exit(EXIT_PARTIAL)


@app.command("people")
def people(
    everyone: Annotated[bool, typer.Option("--all", help="Also people seen in one photo only.")] = False,
    name: Annotated[str | None, typer.Option("--name", help="Only the people of this name.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """People found in the library, most photos first: id, name, faces, photos, a sample photo."""
    from facesearch.api.schemas import PeopleOut
    from facesearch.library.people import MIN_SHOWN, list_people

    listing = list_people(open_context().sessions, everyone=everyone, name=name)
    if json_out:
        emit_as(PeopleOut, listing.to_json())
        return
    table("People", ["id", "name", "faces", "photos", "sample"],
          [[p.ref, p.name or "", p.faces, p.photos, p.sample_photo or ""] for p in listing.people])
    if listing.hidden:
        line(f"{listing.hidden} more seen fewer than {MIN_SHOWN} times (--all lists them)")
    if listing.unsorted:
        line(f"{listing.unsorted} faces unsorted (too small or blurred to group)")


@app.command("show")
def show(person: PersonArg, json_out: JsonOpt = False) -> None:
    """A person's faces and the photos they are in."""
    from facesearch.api.schemas import PersonFacesOut
    from facesearch.library.people import person_faces

    try:
        summary, faces = person_faces(open_context().sessions, person)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(PersonFacesOut, {**summary.to_json(), "faces": [f.to_json() for f in faces]})
        return
    line(f"{summary.ref} {summary.name or '(no name)'}: {summary.faces} faces in {summary.photos} photos")
    for f in faces:
        line(f"  F{f.id}  {f.path}" + ("  (placed by hand)" if f.pinned else ""))


@app.command("name")
def name(person: PersonArg, new_name: Annotated[str, typer.Argument(help="The name to show.")]) -> None:
    """Name a person; the name stays when new photos arrive."""
    from facesearch.library.people import name_person

    try:
        ctx = open_context()
        name_person(ctx.sessions, person, new_name, actor=_me(ctx))
    except FacesearchError as exc:
        fail(str(exc))
    line(f"{normalise_ref(person, RefKind.PERSON)} is now {new_name.strip()}")


@app.command("merge")
def merge(into: PersonArg, others: Annotated[list[str], typer.Argument(help="People merged into the first.")]
          ) -> None:
    """Merge people into the first one (which keeps its id and name)."""
    from facesearch.library.people import merge_people

    try:
        ctx = open_context()
        moved = merge_people(ctx.sessions, into, others, actor=_me(ctx))
    except FacesearchError as exc:
        fail(str(exc))
    line(f"{moved} faces moved into {normalise_ref(into, RefKind.PERSON)}")


@app.command("split")
def split(person: PersonArg, model: ModelOpt = "default") -> None:
    """Split a person whose faces are really several people (grouped again; then ten times stricter)."""
    from facesearch.engine import Engine
    from facesearch.library.cluster import split_attempts
    from facesearch.library.people import split_person
    from facesearch.library.records import calibration_of

    try:
        ctx = open_context()
        attempts = split_attempts(calibration_of(Engine(model)))
        refs = split_person(ctx, person, attempts, actor=_me(ctx))
    except FacesearchError as exc:
        fail(str(exc))
    if len(refs) == 1:
        line(f"{normalise_ref(person, RefKind.PERSON)}: the faces still look like one person; nothing changed "
             "(use 'library move' or 'library not' for single faces)")
    else:
        line(f"{normalise_ref(person, RefKind.PERSON)} split into {', '.join(refs)}")


@app.command("move")
def move(face: FaceArg, person: PersonArg) -> None:
    """Put a face with a person by hand; later runs never move it."""
    from facesearch.library.people import move_face

    try:
        ctx = open_context()
        move_face(ctx.sessions, face, person, actor=_me(ctx))
    except FacesearchError as exc:
        fail(str(exc))
    line(f"{normalise_ref(face, RefKind.FACE)} is now with {normalise_ref(person, RefKind.PERSON)}")


@app.command("not")
def not_(face: FaceArg, person: PersonArg, model: ModelOpt = "default") -> None:
    """This face is not that person: it leaves them for good and is grouped again."""
    from facesearch.library.people import not_person

    try:
        ctx = open_context()
        went = not_person(ctx, face, person, _thresholds(model), actor=_me(ctx))
    except FacesearchError as exc:
        fail(str(exc))
    line(f"{normalise_ref(face, RefKind.FACE)} is no longer with {normalise_ref(person, RefKind.PERSON)}; now "
         + (f"with {went}" if went else "on its own"))


@app.command("forget")
def forget(person: PersonArg) -> None:
    """Delete a person and everything about them (faces, crops, embeddings, name). Photos are untouched."""
    from facesearch.library.people import forget_person

    try:
        ctx = open_context()
        done = forget_person(ctx.sessions, person, actor=_me(ctx))
    except FacesearchError as exc:
        fail(str(exc))
    line(f"{done.person} forgotten: {done.faces} faces in {done.photos} photos deleted from the library")


@app.command("find")
def find(
    photo: Annotated[Path, typer.Argument(help="A photo of the person (its largest face is used).")],
    fmr: Annotated[float, typer.Option("--fmr", help="False match rate per face compared.")] = 1e-5,
    model: ModelOpt = "default",
    json_out: JsonOpt = False,
) -> None:
    """The photos where this person appears: faces that match, and the photos of the people they belong to."""
    from facesearch.library.find import find_person

    if not 0 < fmr < 1:
        fail(f"--fmr {fmr}: expected a rate between 0 and 1")
    try:
        result = find_person(open_context(model), photo, fmr=fmr, source=str(photo))
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(result.to_json())
        return
    direct = [p for p in result.photos if not p.via_person]
    line(f"{photo}: {len(direct)} photos match (score >= {result.threshold:.3f}, FMR {result.fmr:g} per face)"
         + (f", {len(result.photos) - len(direct)} more through {', '.join(result.people)}" if result.people else ""))
    for p in result.photos:
        how = f"score {p.score:.3f}" if p.score is not None else f"via {p.person}"
        line(f"  {p.path}  ({how}{', ' + p.person if p.person and p.score is not None else ''})")


@app.command("contact-sheet")
def contact_sheet(
    person: PersonArg,
    out: Annotated[Path, typer.Option("--out", help="The JPEG to write.")],
    columns: Annotated[int, typer.Option(min=1, max=30, help="Faces per row of the sheet.")] = 8,
) -> None:
    """A grid of a person's faces, as one JPEG."""
    from facesearch.library.find import contact_sheet as sheet

    try:
        ctx = open_context()
        data = sheet(ctx, person, columns=columns)
        out.write_bytes(data)
    except FacesearchError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: cannot write ({exc.strerror})")
    line(f"wrote {out}")
