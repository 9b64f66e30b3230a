"""Accounts: people with argon2-hashed passwords and sessions, programs with hashed API keys.

A key belongs to the person who made it (``owner``) and acts with that person's role, never another:
it is made with its owner's role only, and it works only while its owner's account is enabled and still
has that role. Whoever acts is named in the audit log by kind and name (``actor``: ``user:rita``,
``key:ingest``), and ``person_of`` says which person that is, so that one person counts once however
many credentials they hold.

Secrets are never stored: an API key (256 random bits) and a session token are kept as their SHA-256,
which is enough for values that cannot be guessed; passwords, which can, are hashed with argon2id.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.accounts.limits import FailedSignIns, LoginLimiter
from facesearch.accounts.roles import ROLES
from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.errors import ConflictError, FacesearchError, ForbiddenError, LimitedError, NotFoundError
from facesearch.store.schema import ApiKeyRow, UserRow, WebSessionRow

SESSION_HOURS = 8
# Names of people and keys, whichever interface makes them: short, and safe in a URL path and a log line.
NAME_PATTERN = r"^[A-Za-z0-9._@-]{1,100}$"
PASSWORD_MIN, PASSWORD_MAX = 12, 1000
_hasher = PasswordHasher()
_DUMMY_HASH: str | None = None  # verified against when a name has no account (made on first use)


class AccountError(FacesearchError):
    """An account cannot be created or changed as asked (a bad name, a weak password, the last admin)."""


class AccountNotFound(AccountError, NotFoundError):
    """No person or key has this name."""


class AccountConflict(AccountError, ConflictError):
    """A person or key with this name exists already."""


class AccountLimited(AccountError, LimitedError):
    """Too many failed attempts for this account just now."""


class AccountForbidden(AccountError, ForbiddenError):
    """Not for this caller: a key for a role its maker does not hold, or made by a key."""


@dataclass(frozen=True)
class Principal:
    """Who is calling: a person (``kind="user"``) or a program (``kind="key"``), and their role; for a key,
    ``owner`` is the person it belongs to."""

    name: str
    role: str
    kind: str
    csrf_token: str | None = None  # for people signed in through the console
    owner: str | None = None  # for keys: the account that made the key

    @property
    def actor(self) -> str:
        """How the audit log and the review records name the caller: ``user:rita``, ``key:ingest``."""
        return f"{self.kind}:{self.name}"

    @property
    def person(self) -> str:
        """The person behind the caller (a key's owner): who counts once, however many credentials."""
        return self.owner if self.kind == "key" and self.owner else self.name


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def check_name(name: str) -> None:
    if not re.fullmatch(NAME_PATTERN, name):
        raise AccountError(name[:100], "a name must be 1 to 100 letters, digits, '.', '_', '@' or '-'")


def check_password(username: str, password: str) -> None:
    if len(password) < PASSWORD_MIN:
        raise AccountError(username, f"password too short (at least {PASSWORD_MIN} characters)")
    if len(password) > PASSWORD_MAX:
        raise AccountError(username, f"password too long (at most {PASSWORD_MAX} characters)")


def add_user(sessions: sessionmaker[Session], username: str, password: str, role: str, *, actor: str) -> None:
    check_name(username)
    if role not in ROLES:
        raise AccountError(username, f"role {role!r} is not one of {', '.join(ROLES)}")
    check_password(username, password)
    with sessions.begin() as s:
        if s.get(UserRow, username) is not None:
            raise AccountConflict(username, "a user with this name exists already")
        s.add(UserRow(username=username, password_hash=_hasher.hash(password), role=role, disabled=False,
                      created_at=datetime.now(UTC)))
        audit.append(s, actor=actor, action=AuditAction.ACCOUNT_USER_ADD, subject=f"user:{username}",
                     details={"role": role})


def add_api_key(sessions: sessionmaker[Session], name: str, role: str | None = None, *, owner: str) -> str:
    """A new key for a program of ``owner``'s, with ``owner``'s role (``role``, when given, must be it: no
    one mints a key for a role they do not hold); returned once, stored only as its hash. Audited as made
    by ``user:<owner>``."""
    check_name(name)
    if role is not None and role not in ROLES:
        raise AccountError(name, f"role {role!r} is not one of {', '.join(ROLES)}")
    key = "fs_" + secrets.token_urlsafe(32)
    with sessions.begin() as s:
        person = s.get(UserRow, owner)
        if person is None or person.disabled:
            raise AccountForbidden(name, f"a key belongs to a person: {owner!r} is not an enabled account")
        if role is not None and role != person.role:
            raise AccountForbidden(name, f"{owner} is {person.role}: a key acts with its owner's role only, "
                                         f"not {role}")
        if s.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name)) is not None:
            raise AccountConflict(name, "an API key with this name exists already")
        s.add(ApiKeyRow(name=name, key_sha256=_sha(key), role=person.role, owner=owner, revoked=False,
                        created_at=datetime.now(UTC)))
        audit.append(s, actor=f"user:{owner}", action=AuditAction.ACCOUNT_KEY_ADD, subject=f"key:{name}",
                     details={"role": person.role, "owner": owner})
    return key


@dataclass(frozen=True)
class UserInfo:
    """A person's account as shown to administrators (never the password hash)."""

    username: str
    role: str
    disabled: bool
    created_at: datetime

    def to_json(self) -> dict[str, object]:
        return {"username": self.username, "role": self.role, "disabled": self.disabled,
                "created_at": self.created_at.isoformat()}


@dataclass(frozen=True)
class KeyInfo:
    """A program's key as shown to administrators (never the key or its hash)."""

    name: str
    role: str
    revoked: bool
    created_at: datetime
    owner: str | None = None  # None: a key from before keys had owners, which no longer works

    def to_json(self) -> dict[str, object]:
        return {"name": self.name, "role": self.role, "revoked": self.revoked,
                "created_at": self.created_at.isoformat(), "owner": self.owner}


def list_users(sessions: sessionmaker[Session]) -> list[UserInfo]:
    with sessions() as s:
        return [UserInfo(u.username, u.role, u.disabled, u.created_at)
                for u in s.scalars(select(UserRow).order_by(UserRow.username))]


def list_api_keys(sessions: sessionmaker[Session]) -> list[KeyInfo]:
    with sessions() as s:
        return [KeyInfo(k.name, k.role, k.revoked, k.created_at, k.owner)
                for k in s.scalars(select(ApiKeyRow).order_by(ApiKeyRow.name))]


def set_user_disabled(sessions: sessionmaker[Session], username: str, disabled: bool, *, actor: str) -> None:
    """Disable (or enable again) a person's account. Disabling ends their sessions at once.

    The last enabled administrator cannot be disabled: nobody would be left to manage accounts.
    """
    with sessions.begin() as s:
        user = s.get(UserRow, username)
        if user is None:
            raise AccountNotFound(username, "no such user")
        if user.disabled == disabled:
            return
        if disabled and user.role == "admin":
            admins = s.scalars(select(UserRow).where(UserRow.role == "admin", UserRow.disabled.is_(False))).all()
            if len(admins) <= 1:
                raise AccountError(username, "the last enabled administrator cannot be disabled")
        user.disabled = disabled
        if disabled:
            for row in s.scalars(select(WebSessionRow).where(WebSessionRow.username == username)):
                s.delete(row)
        audit.append(s, actor=actor, action=AuditAction.ACCOUNT_USER_DISABLE if disabled else "account.user.enable",
                     subject=f"user:{username}")


def revoke_api_key(sessions: sessionmaker[Session], name: str, *, actor: str) -> None:
    """Revoke a program's key for good; requests with it are refused from now on."""
    with sessions.begin() as s:
        row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
        if row is None:
            raise AccountNotFound(name, "no such API key")
        if row.revoked:
            return
        row.revoked = True
        audit.append(s, actor=actor, action=AuditAction.ACCOUNT_KEY_REVOKE, subject=f"key:{name}")


def change_password(sessions: sessionmaker[Session], username: str, current: str, new: str, *,
                    keep_token: str | None = None, limiter: LoginLimiter | None = None) -> None:
    """A person changes their own password (the current one is asked again); every other session of
    theirs ends, so a stolen session does not outlive the change. With ``limiter``, wrong current passwords
    count as failed sign-ins do (5 a minute), so a stolen session cannot guess the password."""
    check_password(username, new)
    key = f"password-change:{username}"
    if limiter is not None and limiter.blocked(key):
        raise AccountLimited(username, "too many wrong current passwords; wait a minute")
    if _password_matches(sessions, username, current) is None:
        if limiter is not None:
            limiter.failed(key)
        with sessions.begin() as s:
            audit.append(s, actor=username[:100], action=AuditAction.ACCOUNT_PASSWORD_FAILED)
        raise AccountError(username, "the current password is wrong")
    new_hash = _hasher.hash(new)  # hashed outside the transaction: argon2 takes a while, the write lock must not
    with sessions.begin() as s:
        user = s.get(UserRow, username)
        if user is None or user.disabled:  # gone or disabled since the check
            raise AccountError(username, "the current password is wrong")
        user.password_hash = new_hash
        kept = None if keep_token is None else _sha(keep_token)
        for row in s.scalars(select(WebSessionRow).where(WebSessionRow.username == username)):
            if row.token_sha256 != kept:
                s.delete(row)
        audit.append(s, actor=f"user:{username}", action=AuditAction.ACCOUNT_PASSWORD_CHANGE,
                     subject=f"user:{username}")


def _key_works(s: Session, row: ApiKeyRow) -> UserRow | None:
    """The key's owner, when the key may act now: not revoked, its owner enabled and still of its role."""
    owner = None if row.revoked or row.owner is None else s.get(UserRow, row.owner)
    return owner if owner is not None and not owner.disabled and owner.role == row.role else None


def by_api_key(sessions: sessionmaker[Session], key: str) -> Principal | None:
    """The key's caller, acting with its owner's role; ``None`` for an unknown or revoked key, or one whose
    owner is disabled, gone or no longer of the key's role (a key never outlives or outranks its owner)."""
    with sessions() as s:
        row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.key_sha256 == _sha(key), ApiKeyRow.revoked.is_(False)))
        owner = None if row is None else _key_works(s, row)
        return None if row is None or owner is None else Principal(row.name, owner.role, "key", owner=owner.username)


def resolve_actor(s: Session, actor: str) -> tuple[str, str | None] | None:
    """The person behind ``actor`` and the role they may act with now (``None`` for the role when the
    account is disabled or gone, or the key no longer works); ``None`` for an actor that names no account
    (``system``, a name recorded before actors had kinds): the services' own work, never an interface's."""
    kind, _, name = actor.partition(":")
    if kind == "user":
        user = s.get(UserRow, name)
        return name, (user.role if user is not None and not user.disabled else None)
    if kind == "key":
        row = s.scalar(select(ApiKeyRow).where(ApiKeyRow.name == name))
        owner = None if row is None else _key_works(s, row)
        return (row.owner if row is not None and row.owner else actor), (None if owner is None else owner.role)
    return None


def person_of(s: Session, actor: str) -> str:
    """The person ``actor`` stands for: ``user:rita`` and her keys are ``rita``; a name recorded before
    actors had kinds is that name; a key without an owner is itself."""
    found = resolve_actor(s, actor)
    return actor if found is None else found[0]


def authenticate(sessions: sessionmaker[Session], username: str, password: str) -> Principal | None:
    """The person, for a correct password of an enabled account (``None`` otherwise, audited as a failed
    sign-in): how the CLI signs in, with no session kept."""
    role = _password_matches(sessions, username, password)
    if role is None:
        with sessions.begin() as s:
            audit.append(s, actor=username[:100], action=AuditAction.ACCOUNT_SIGN_IN_FAILED,
                         details={"via": "cli"})
        return None
    return Principal(username, role, "user")


def _dummy_hash() -> str:
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))
    return _DUMMY_HASH


def _password_matches(sessions: sessionmaker[Session], username: str, password: str) -> str | None:
    """The account's role when ``password`` is its password and the account is enabled, else ``None``.

    Checked outside any write transaction (argon2 takes tens of milliseconds), and as slowly for a name
    that does not exist as for one that does, so that timing does not tell which names are accounts."""
    with sessions() as s:
        user = s.get(UserRow, username)
        stored, role = (user.password_hash, user.role) if user is not None and not user.disabled else (None, None)
    try:
        ok = _hasher.verify(stored or _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        ok = False
    return role if ok else None


def sign_in(sessions: sessionmaker[Session], username: str, password: str, *,
            failures: FailedSignIns | None = None, address: str = "?") -> tuple[str, Principal] | None:
    """A new session token for a correct password (``None`` otherwise: which part was wrong is not said).
    ``failures``: a failure from ``address`` goes to the audit log through it, aggregated (servers);
    without it each failure is one entry."""
    role = _password_matches(sessions, username, password)
    with sessions.begin() as s:
        user = s.get(UserRow, username)
        if role is None or user is None or user.disabled:
            if failures is not None:
                failures.record(s, username, address)
            else:
                audit.append(s, actor=username[:100], action=AuditAction.ACCOUNT_SIGN_IN_FAILED)
            return None
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        s.add(WebSessionRow(token_sha256=_sha(token), username=username, csrf_token=csrf,
                            expires_at=datetime.now(UTC) + timedelta(hours=SESSION_HOURS)))
        audit.append(s, actor=f"user:{username}", action=AuditAction.ACCOUNT_SIGN_IN)
        return token, Principal(username, user.role, "user", csrf)


def by_session(sessions: sessionmaker[Session], token: str) -> Principal | None:
    with sessions() as s:
        row = s.get(WebSessionRow, _sha(token))
        if row is None:
            return None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        user = s.get(UserRow, row.username)
        if expires < datetime.now(UTC) or user is None or user.disabled:
            return None
        return Principal(user.username, user.role, "user", row.csrf_token)


def sign_out(sessions: sessionmaker[Session], token: str) -> None:
    with sessions.begin() as s:
        row = s.get(WebSessionRow, _sha(token))
        if row is not None:
            s.delete(row)
            audit.append(s, actor=f"user:{row.username}", action=AuditAction.ACCOUNT_SIGN_OUT)
