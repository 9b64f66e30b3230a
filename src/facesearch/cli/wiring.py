"""The CLI's one way to reach the installation: a ``Context`` per command, opened when the command needs it,
and the account the command acts as.

Opening runs no retention and writes nothing, so read-only commands stay read-only; ``retention run``,
``watch`` and ``serve`` run retention themselves.

The CLI acts as an account, never as the operating-system login: a command that decides something or
reads a case signs in (``operator``) with ``FACESEARCH_USER`` and its password (asked for, or read from
``FACESEARCH_PASSWORD`` by scripts), or with a personal API key in ``FACESEARCH_API_KEY``; the role
matrix, need to know and the audit log see that account (``user:rita``, ``key:ingest``), exactly as the
API's. A key never makes a review decision (``roles.PERSON_ONLY``). One exception bootstraps a new
installation: while it has no enabled administrator, ``user add`` adds an administrator without signing
in (audited as ``local:<login>``: whoever holds the data directory).
"""

from __future__ import annotations

import getpass
import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facesearch.accounts.service import Principal
    from facesearch.calibration_store import InForce
    from facesearch.context import Context
    from facesearch.engine import Engine

ENV_USER, ENV_PASSWORD, ENV_KEY = "FACESEARCH_USER", "FACESEARCH_PASSWORD", "FACESEARCH_API_KEY"


def open_context(model: str = "default") -> Context:
    """This installation's database and key; the face engine of ``model`` loads on first use."""
    from facesearch.context import Context  # here, not at start-up: 'verify' and '--help' need no database

    def make_engine() -> object:
        from facesearch.engine import Engine

        return Engine(model)

    return Context.open(make_engine=make_engine)  # type: ignore[arg-type]


def calibration_in_force(engine: Engine) -> InForce:
    """The calibration this installation's searches use for ``engine``'s profile: a site calibration in force
    (read from the database), or the shipped one where there is none or no installation at all (``verify``
    works before ``init``)."""
    from facesearch.calibration_store import SHIPPED_LABEL, InForce, in_force
    from facesearch.settings import get_settings
    from facesearch.store.db import open_database

    settings = get_settings()
    if not (settings.home / "key").is_file() and settings.database_url is None:
        return InForce(engine.calibration, SHIPPED_LABEL)
    return in_force(open_database(settings.resolved_database_url)[1], engine.profile, engine.calibration)


def operator(ctx: Context, action: str) -> Principal:
    """The account this command acts as, signed in now, when its role may do ``action`` (a key: when the
    action is not one a person must take in person); otherwise an error to print, naming what to set."""
    from facesearch.accounts.limits import LoginLimiter
    from facesearch.accounts.roles import PERSON_ONLY, allowed
    from facesearch.accounts.service import AccountForbidden, authenticate, by_api_key

    key = os.environ.get(ENV_KEY)
    if key:
        who = by_api_key(ctx.sessions, key)
        if who is None:
            raise AccountForbidden(ENV_KEY, "unknown or revoked key, or its owner is disabled or changed role")
        if action in PERSON_ONLY:
            raise AccountForbidden(f"key:{who.name}", f"an API key may not {action}: set {ENV_USER} (and unset "
                                                      f"{ENV_KEY}) to act as yourself")
    else:
        username = os.environ.get(ENV_USER, "")
        if not username:
            raise AccountForbidden(action, f"this command acts as an account: set {ENV_USER} (the password is "
                                           f"asked for, or read from {ENV_PASSWORD}) or {ENV_KEY}; the "
                                           "operating-system login is not an account")
        # The limit every sign-in shares (API, console, other CLI runs), kept in the database: a script cannot
        # try passwords faster by starting a process per guess.
        limiter, limit_key = LoginLimiter(ctx.sessions), f"cli|{username}"
        if limiter.blocked(limit_key):
            raise AccountForbidden(username[:100], "too many failed sign-ins; wait a minute")
        password = os.environ.get(ENV_PASSWORD)
        if password is None:
            password = getpass.getpass(f"password for {username}: ")
        found = authenticate(ctx.sessions, username, password)
        if found is None:
            limiter.failed(limit_key)
            raise AccountForbidden(username[:100], "wrong name or password, or the account is disabled")
        who = found
    if not allowed(who.role, action):
        raise AccountForbidden(who.actor, f"role {who.role!r} may not {action}")
    return who


def bootstrap_actor(ctx: Context) -> str | None:
    """``local:<login>`` while the installation has no enabled administrator (the first one is being made
    from the machine that holds the data directory), else ``None``: sign in."""
    from facesearch.accounts.service import list_users

    if any(u.role == "admin" and not u.disabled for u in list_users(ctx.sessions)):
        return None
    return f"local:{getpass.getuser()}"
