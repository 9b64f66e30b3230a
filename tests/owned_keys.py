"""Accounts for tests: API keys owned by people (a key acts with its owner's role), and CLI sign-in."""

from __future__ import annotations

from typing import Any

from facesearch.accounts import service as accounts


def key_for(sessions: Any, name: str, role: str) -> str:
    """A new key named ``name`` with ``role``, owned by a person made for it (``<name>-owner``)."""
    owner = f"{name}-owner"
    if owner not in {u.username for u in accounts.list_users(sessions)}:
        accounts.add_user(sessions, owner, "correct horse battery", role, actor="setup")
    return accounts.add_api_key(sessions, name, owner=owner)


PASSWORD = "correct horse battery"


def add_people(home: Any, people: dict[str, str]) -> None:
    """Accounts on the installation at ``home``, made through the CLI as a user would: the first
    administrator (``adam``) without signing in, then ``people`` by him. Commands then sign in with
    ``FACESEARCH_USER``/``FACESEARCH_PASSWORD`` (see ``as_person``)."""
    import subprocess
    import sys

    from support.cli import cli_env

    env = {k: v for k, v in cli_env(home).items() if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD",
                                                              "FACESEARCH_API_KEY")}
    command = [sys.executable, "-m", "facesearch.cli", "user", "add"]
    first = subprocess.run([*command, "adam", "--role", "admin", "--password-stdin"], input=PASSWORD + "\n",
                           env=env, capture_output=True, text=True, check=False)
    assert first.returncode == 0, first.stderr
    for name, role in people.items():
        made = subprocess.run([*command, name, "--role", role, "--password-stdin"], input=PASSWORD + "\n",
                              env={**env, **as_person("adam")}, capture_output=True, text=True, check=False)
        assert made.returncode == 0, made.stderr


def as_person(name: str) -> dict[str, str]:
    """The environment that signs the CLI in as ``name``."""
    return {"FACESEARCH_USER": name, "FACESEARCH_PASSWORD": PASSWORD}


def run_as(home: Any, *args: str, person: str | None = "olga") -> Any:
    """``facesearch ARGS`` on the installation at ``home``, signed in as ``person`` (``None``: as nobody)."""
    import subprocess
    import sys

    from support.cli import cli_env

    env = {k: v for k, v in cli_env(home).items() if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD",
                                                              "FACESEARCH_API_KEY")}
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env={**env, **(as_person(person) if person else {})}, timeout=600, check=False)


def run_cli(home: Any, *args: str, env: dict[str, str] | None = None, stdin: str | None = None) -> Any:
    """``facesearch ARGS`` signed in as nobody, plus ``env`` (e.g. ``as_person(...)``) and ``stdin``."""
    import subprocess
    import sys

    from support.cli import cli_env

    base = {k: v for k, v in cli_env(home).items() if k not in ("FACESEARCH_USER", "FACESEARCH_PASSWORD",
                                                                 "FACESEARCH_API_KEY")}
    return subprocess.run([sys.executable, "-m", "facesearch.cli", *args], capture_output=True, text=True,
                          env={**base, **(env or {})}, input=stdin, timeout=300, check=False)
