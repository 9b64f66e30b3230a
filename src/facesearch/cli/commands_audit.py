"""``facesearch init`` and ``facesearch audit``: the data directory, and the tamper-evident log."""

from __future__ import annotations

import getpass
import os
import stat
from typing import Annotated, Any

import typer

from facesearch.audit.summary import summarise
from facesearch.cli.output import EXIT_NO, emit_as, emit_json, fail, line, warn
from facesearch.errors import FacesearchError
from facesearch.refs import RefKind, normalise_ref

app = typer.Typer(help="Read and verify the tamper-evident audit log.", no_args_is_help=True)


def _sessions() -> Any:
    from facesearch.settings import get_settings
    from facesearch.store.db import open_database

    return open_database(get_settings().resolved_database_url)[1]


def init(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Create the data directory (mode 0700), its encryption key (mode 0600) and the database (mode 0600); safe
    to run again: a data directory of this user's that others may read or enter is made 0700."""
    from facesearch.audit import log as audit
    from facesearch.audit.actions import AuditAction
    from facesearch.files import private_dir, restrict
    from facesearch.settings import get_settings
    from facesearch.store.crypto import KEY_ENV, create_key_file, load_key

    settings = get_settings()
    key_path = settings.home / "key"
    try:
        if not private_dir(settings.home):
            was = restrict(settings.home, 0o700)
            if was is not None:
                warn(f"data directory {settings.home} was mode {was:o}, open to other users; now 700")
            elif (mode := stat.S_IMODE(settings.home.stat().st_mode)) & 0o077:
                warn(f"data directory {settings.home} is mode {mode:o}, open to other users, and belongs to "
                     "another user: left as it is")
    except OSError as exc:
        fail(f"{settings.home}: cannot make the data directory private ({exc.strerror or exc})")
    try:
        created_key = False
        if not key_path.exists() and not os.environ.get(KEY_ENV):
            create_key_file(key_path)
            created_key = True
        sealer = load_key(settings.home)
        sessions = _sessions()
        with sessions.begin() as s:
            audit.append(s, actor=getpass.getuser(), action=AuditAction.SYSTEM_INIT,
                         details={"key_id": sealer.key_id, "key_created": created_key})
    except FacesearchError as exc:
        fail(str(exc))
    result = {"home": str(settings.home), "database": settings.resolved_database_url.split("?")[0],
              "key": str(key_path) if not os.environ.get(KEY_ENV) else KEY_ENV,
              "key_id": sealer.key_id, "key_created": created_key}
    if json_out:
        emit_json(result)
    else:
        line(f"data directory {result['home']}; database {result['database']}; "
             f"key {result['key']} ({'new' if created_key else 'existing'}, id {sealer.key_id})")


@app.command("verify")
def verify(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Check every entry of the log: exit 0 intact, 1 tampered (and which entry), 2 error."""
    from facesearch.audit import log as audit

    try:
        with _sessions()() as s:
            result = audit.verify(s)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        from facesearch.api.schemas import ChainOut

        emit_as(ChainOut, result.to_json())
    elif result.ok:
        line(f"audit log intact: {result.checked} entries, every link checked")
    else:
        line(f"audit log TAMPERED: {result.reason} ({result.checked} entries intact before it)")
    if not result.ok:
        raise typer.Exit(EXIT_NO)


@app.command("show")
def show(
    case: Annotated[str | None, typer.Option("--case", help="Only this case's entries.")] = None,
    json_out: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """List the log's entries, oldest first."""
    from facesearch.api.schemas import AuditEntryOut
    from facesearch.audit import log as audit

    try:
        with _sessions()() as s:
            entries = list(audit.events(s, case_id=normalise_ref(case, RefKind.CASE) if case else None))
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(list[AuditEntryOut], [e.to_json() for e in entries])
        return
    # One line per entry rather than a table: a log is read by grep as often as by eye.
    actor_width = max((len(e.actor) for e in entries), default=0)
    action_width = max((len(e.action) for e in entries), default=0)
    for e in entries:
        line(f"{e.seq:>6}  {e.at[:19].replace('T', ' ')}  {e.actor:<{actor_width}}  {e.action:<{action_width}}  "
             f"{e.case_id or '-':<4}  {summarise(e.details)}".rstrip())
    if not entries:
        line("no entries" + (f" for case {normalise_ref(case, RefKind.CASE)}" if case else ""))
