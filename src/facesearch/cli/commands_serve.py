"""``serve``, ``user`` and ``apikey``: run the HTTP API, and manage who may use it."""

from __future__ import annotations

import getpass
import sys
from typing import Annotated

import typer

from facesearch.cli.output import JsonOpt, command_group, emit_as, fail, line
from facesearch.cli.wiring import bootstrap_actor, open_context, operator
from facesearch.errors import FacesearchError

user_app = command_group("People who sign in to the API and console.")
key_app = command_group("API keys for programs (shown once, stored hashed); a key is its maker's and acts with "
                           "their role.")
RoleOpt = Annotated[str, typer.Option(help="admin, officer, reviewer, auditor or library (see 'facesearch roles').")]


@user_app.command("add")
def user_add(
    username: Annotated[str, typer.Argument(help="User name.")],
    role: RoleOpt,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read the password from stdin.")] = False,
) -> None:
    """Add a person; the password (12 characters or more) is asked for, or read from stdin.

    Signed in as an administrator (FACESEARCH_USER); on a new installation, with no enabled administrator
    yet, the first administrator is added without signing in."""
    from facesearch.accounts.service import AccountForbidden, add_user

    try:
        ctx = open_context()
        actor = bootstrap_actor(ctx)
        if actor is None:
            actor = operator(ctx, "accounts.write").actor
        elif role != "admin":
            raise AccountForbidden(username, "this installation has no administrator yet: add one first "
                                             "('user add NAME --role admin'), then sign in as them")
        password = (sys.stdin.readline().rstrip("\n") if password_stdin
                    else getpass.getpass(f"password for {username}: "))
        add_user(ctx.sessions, username, password, role, actor=actor)
    except FacesearchError as exc:
        fail(str(exc))
    line(f"user {username} added as {role}")


@user_app.command("list")
def user_list(json_out: JsonOpt = False) -> None:
    """List people, their roles and whether they are disabled."""
    from facesearch.accounts.service import list_users
    from facesearch.api.schemas import UserOut

    users = list_users(open_context().sessions)
    if json_out:
        emit_as(list[UserOut], [u.to_json() for u in users])
        return
    for u in users:
        line(f"{u.username:<24} {u.role:<9} {'disabled' if u.disabled else 'enabled'}")


@user_app.command("disable")
def user_disable(username: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Disable a person's account; their open sessions end at once."""
    _set_disabled(username, True)


@user_app.command("enable")
def user_enable(username: Annotated[str, typer.Argument(help="User name.")]) -> None:
    """Enable a disabled account again."""
    _set_disabled(username, False)


def _set_disabled(username: str, disabled: bool) -> None:
    from facesearch.accounts.service import set_user_disabled

    try:
        ctx = open_context()
        set_user_disabled(ctx.sessions, username, disabled, actor=operator(ctx, "accounts.write").actor)
    except FacesearchError as exc:
        fail(str(exc))
    line(f"user {username} {'disabled' if disabled else 'enabled'}")


@key_app.command("list")
def key_list(json_out: JsonOpt = False) -> None:
    """List API keys by name and role (the keys themselves are never stored)."""
    from facesearch.accounts.service import list_api_keys
    from facesearch.api.schemas import KeyOut

    keys = list_api_keys(open_context().sessions)
    if json_out:
        emit_as(list[KeyOut], [k.to_json() for k in keys])
        return
    for k in keys:
        line(f"{k.name:<24} {k.role:<9} {k.owner or '(no owner)':<24} {'revoked' if k.revoked else 'in use'}")


@key_app.command("revoke")
def key_revoke(name: Annotated[str, typer.Argument(help="The key's name.")]) -> None:
    """Revoke an API key for good."""
    from facesearch.accounts.service import revoke_api_key

    try:
        ctx = open_context()
        revoke_api_key(ctx.sessions, name, actor=operator(ctx, "accounts.write").actor)
    except FacesearchError as exc:
        fail(str(exc))
    line(f"API key {name} revoked")


@key_app.command("add")
def key_add(
    name: Annotated[str, typer.Argument(help="What the key is for.")],
    role: Annotated[str | None, typer.Option(help="Your own role (the default): a key acts with its maker's "
                                                  "role, never another.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Create an API key of yours (signed in with your password, FACESEARCH_USER); it is printed once and
    stored only as its hash. It works while your account is enabled and keeps your role."""
    from facesearch.accounts.service import add_api_key
    from facesearch.api.schemas import KeyCreatedOut

    try:
        ctx = open_context()
        who = operator(ctx, "apikeys.own")
        key = add_api_key(ctx.sessions, name, role, owner=who.name)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(KeyCreatedOut, {"name": name, "role": who.role, "key": key})
    else:
        line(key)


def roles() -> None:
    """Print the role-by-action matrix."""
    from facesearch.accounts.roles import matrix_markdown

    for row in matrix_markdown().splitlines():  # one line() each: line() shows a newline inside as \x0a
        line(row)


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    log_json: Annotated[bool, typer.Option("--log-json", help="Log one JSON object per line.")] = False,
) -> None:
    """Run the HTTP API (OpenAPI at /v1/openapi.json) and the console (/console) until stopped."""
    import uvicorn

    from facesearch.api.app import create_app
    from facesearch.api.logs import use_json_logs

    try:
        ctx = open_context()
    except FacesearchError as exc:
        fail(str(exc))
    app = create_app(ctx)
    if log_json:
        use_json_logs()
    # Live alert streams stay open: on shutdown, give open connections 5 s, then close them.
    # Forwarded headers are believed only from configured proxies (uvicorn trusts loopback by default, which
    # would let any local client choose the address its failed sign-ins are counted under).
    # uvicorn's access log is off: it prints each raw request line, query included (``?name=`` of a lookup by
    # name); the app logs every request itself, by route template (``api.app``).
    proxies = ctx.settings.trusted_proxies
    uvicorn.run(app, host=host, port=port, log_level="info", server_header=False, timeout_graceful_shutdown=5,
                log_config=None if log_json else uvicorn.config.LOGGING_CONFIG, proxy_headers=bool(proxies),
                forwarded_allow_ips=proxies or "", access_log=False)


assets_app = command_group("The web console's script (htmx), fetched once at install time.")


@assets_app.command("install")
def assets_install() -> None:
    """Fetch htmx from its npm package into the data directory (checked by SHA-256)."""
    from facesearch.api.assets import install_assets
    from facesearch.settings import get_settings

    try:
        path = install_assets(get_settings().home)
    except FacesearchError as exc:
        fail(str(exc))
    line(f"console script ready: {path}")
