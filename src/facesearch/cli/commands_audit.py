"""``facesearch init`` and ``facesearch audit``: the data directory, and the tamper-evident log."""

from __future__ import annotations

import getpass
import os
import stat
from pathlib import Path
from typing import Annotated, Any

import typer

from facesearch.audit.summary import summarise
from facesearch.cli.output import EXIT_NO, JsonOpt, command_group, emit_as, emit_json, fail, line, warn
from facesearch.errors import FacesearchError
from facesearch.refs import RefKind, normalise_ref

app = command_group("Read and verify the tamper-evident audit log.")


def _sessions() -> Any:
    from facesearch.cli.wiring import open_context

    return open_context().sessions


def init(json_out: JsonOpt = False) -> None:
    """Create the data directory (mode 0700), its data key and audit key (mode 0600) and the database (mode 0600);
    safe to run again. It never replaces a lost key while the installation holds data the key is needed for:
    restore the key instead."""
    from facesearch.audit.actions import AuditAction
    from facesearch.cli.wiring import open_context
    from facesearch.files import private_dir, restrict
    from facesearch.settings import get_settings

    settings = get_settings()
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
        created = _create_missing_keys(settings)
        ctx = open_context()
        from facesearch.audit import log as audit

        with ctx.sessions.begin() as s:
            # Whoever holds the data directory runs init: the OS login, marked as such (not an account).
            audit.append(s, actor=f"local:{getpass.getuser()}", action=AuditAction.SYSTEM_INIT,
                         details={"key_id": ctx.sealer.key_id, "key_created": created["key"],
                                  "audit_key_id": ctx.audit_key.key_id if ctx.audit_key else None,
                                  "audit_key_created": created["audit_key"]})
    except FacesearchError as exc:
        fail(str(exc))
    from facesearch.audit.keys import AUDIT_KEY_ENV, audit_key_path
    from facesearch.store.crypto import KEY_ENV

    result = {"home": str(settings.home), "database": settings.resolved_database_url.split("?")[0],
              "key": str(settings.home / "key") if not os.environ.get(KEY_ENV) else KEY_ENV,
              "key_id": ctx.sealer.key_id, "key_created": created["key"],
              "audit_key": str(audit_key_path(settings.home)) if not os.environ.get(AUDIT_KEY_ENV) else AUDIT_KEY_ENV,
              "audit_key_id": ctx.audit_key.key_id if ctx.audit_key else None,
              "audit_key_created": created["audit_key"],
              "audit_checkpoints": str(settings.resolved_audit_checkpoints)}
    if json_out:
        emit_json(result)
    else:
        line(f"data directory {result['home']}; database {result['database']}")
        line(f"data key {result['key']} ({'new' if created['key'] else 'existing'}, id {result['key_id']})")
        line(f"audit key {result['audit_key']} ({'new' if created['audit_key'] else 'existing'}, "
             f"id {result['audit_key_id']}); checkpoints in {result['audit_checkpoints']}")
        if created["audit_key"]:
            line("publish the audit key id where auditors can read it: exports are checked against it")


def _create_missing_keys(settings: Any) -> dict[str, bool]:
    """Make the data key and the audit key where there are none, unless the installation already holds what a
    lost key protected: a new key would then hide the loss (sealed data unreadable, the log unverifiable)."""
    from facesearch.audit.checkpoints import CheckpointLog
    from facesearch.audit.keys import AUDIT_KEY_ENV, AuditKeyError, audit_key_present, create_audit_key_file
    from facesearch.store.crypto import KEY_ENV, EncryptionKeyError, create_key_file
    from facesearch.store.db import open_engine
    from facesearch.store.inventory import held_data

    held = held_data(open_engine(settings.resolved_database_url))
    checkpoints = CheckpointLog(settings.resolved_audit_checkpoints)
    created = {"key": False, "audit_key": False}
    key_path = settings.home / "key"
    if not key_path.exists() and not os.environ.get(KEY_ENV):
        if held.audit_entries or held.sealed_values or checkpoints.exists():
            raise EncryptionKeyError(str(key_path), f"the data key is missing, but this installation holds data "
                                     f"({held.audit_entries} audit entries, {held.sealed_values} sealed values): "
                                     f"restore the key file or set {KEY_ENV}; a new key would leave it unreadable")
        create_key_file(key_path)
        created["key"] = True
    if not audit_key_present(settings.home):
        if held.keyed_audit_entries or checkpoints.exists():
            raise AuditKeyError(str(settings.home / "audit-key"), "the audit key is missing, but the log has keyed "
                                "entries or signed checkpoints: restore the key file or set "
                                f"{AUDIT_KEY_ENV}; a new key would make the log unverifiable")
        create_audit_key_file(settings.home)
        created["audit_key"] = True
    return created


@app.command("verify")
def verify(
    export: Annotated[Path | None, typer.Option("--export", help="Check an export package instead of the log: its "
                                                 "audit entries against its signed checkpoint, its files against "
                                                 "its manifest. Needs no database.")] = None,
    key_id: Annotated[str | None, typer.Option("--key-id", help="The audit key id the export must be signed with "
                                                 "(default: this installation's, when it has one).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Check every entry of the log against its keyed links and signed checkpoints: exit 0 intact, 1 tampered
    (and which entry or checkpoint), 2 error."""
    if export is not None:
        _verify_export(export, key_id, json_out)
        return
    from facesearch.audit.verification import verify as verify_log

    try:
        with _sessions()() as s:
            result = verify_log(s)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        from facesearch.api.schemas import ChainOut

        emit_as(ChainOut, result.to_json())
    elif result.ok:
        covered = (f"; signed checkpoint of {result.latest_checkpoint['size']} entries at "
                   f"{result.latest_checkpoint['at'][:19].replace('T', ' ')}" if result.latest_checkpoint else "")
        line(f"audit log intact: {result.checked} entries, every link checked (audit key {result.key_id})"
             f"{covered}")
        for note in result.notes:
            line(f"note: {note}")
    else:
        line(f"audit log TAMPERED: {result.reason} ({result.checked} entries intact before it)")
    if not result.ok:
        raise typer.Exit(EXIT_NO)


def _verify_export(path: Path, key_id: str | None, json_out: bool) -> None:
    from facesearch.review.export import verify_package

    trusted = key_id or _own_audit_key_id()
    try:
        result = verify_package(path, trusted)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(result.to_json())
    elif result.ok:
        signer = (f"signed by audit key {result.audit.key_id}" + ("" if result.audit.trusted else
                  " (no trusted key id given: compare it with the installation's)"))
        line(f"export intact: {result.audit.entries} audit entries in the log at checkpoint "
             f"{result.audit.checkpoint_size}, {signer}; {result.files_checked} files match the manifest")
    else:
        reason = result.audit.reason or result.file_problems[0]
        line(f"export NOT intact: {reason}")
    if not result.ok:
        raise typer.Exit(EXIT_NO)


def _own_audit_key_id() -> str | None:
    from facesearch.audit.keys import AuditKeyError, load_audit_key
    from facesearch.settings import get_settings

    try:
        return load_audit_key(get_settings().home).key_id
    except AuditKeyError:
        return None


@app.command("show")
def show(
    case: Annotated[str | None, typer.Option("--case", help="Only this case's entries.")] = None,
    json_out: JsonOpt = False,
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
