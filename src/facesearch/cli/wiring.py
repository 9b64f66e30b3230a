"""The CLI's one way to reach the installation: a ``Context`` per command, opened when the command needs it.

Opening runs no retention and writes nothing, so read-only commands stay read-only; ``retention run``,
``watch`` and ``serve`` run retention themselves.
"""

from __future__ import annotations

import getpass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facesearch.context import Context


def open_context(model: str = "default") -> Context:
    """This installation's database and key; the face engine of ``model`` loads on first use."""
    from facesearch.context import Context  # here, not at start-up: 'verify' and '--help' need no database

    def make_engine() -> object:
        from facesearch.engine import Engine

        return Engine(model)

    return Context.open(make_engine=make_engine)  # type: ignore[arg-type]


def operator() -> str:
    """Who runs the command, for the audit log: the operating-system account."""
    return getpass.getuser()
