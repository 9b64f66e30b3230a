"""The CLI's output layer: results for people (tables) and programs (``--json``), one-line errors.

Everything printed for people shows control characters as escapes (``facesearch.text.visible``): a name
holding a newline or a right-to-left override prints as one line, as stored. ``--json`` escapes them as
JSON does (``\\n``, ``\\u202e``)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from facesearch.text import visible

# Exit codes, documented in the README.
EXIT_OK = 0
EXIT_NO = 1  # verify: different people
EXIT_ERROR = 2
EXIT_PARTIAL = 3  # some inputs failed, the rest were processed

# Every command that reports results takes --json, said the same way.
JsonOpt = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

stdout = Console(highlight=False, soft_wrap=True, emoji=False)
stderr = Console(stderr=True, highlight=False, soft_wrap=True, emoji=False)


def command_group(help: str, **settings: Any) -> typer.Typer:
    """A group of commands whose ``--help`` is click's plain layout: it wraps option names and text to the
    terminal, where rich's three-column panels cut long option names at 80 columns."""
    return typer.Typer(help=help, no_args_is_help=True, rich_markup_mode=None, **settings)


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print one line to stderr and exit."""
    stderr.print(visible(f"error: {message}"), markup=False)
    raise typer.Exit(code)


def flag(field: str) -> str:
    """The CLI's option for a field the services name (``legal_basis``: ``--legal-basis``): the one place an error
    naming fields is turned into the flags a person types."""
    return "--" + field.replace("_", "-")


def warn(message: str) -> None:
    stderr.print(visible(f"warning: {message}"), markup=False)


def emit_json(data: Any) -> None:
    # ensure_ascii (the default) writes every control character and every non-ASCII one as an escape
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
    sys.stdout.flush()


def emit_as(schema: Any, data: Any) -> None:
    """``--json`` through the API's response model for the same result (``api.schemas``, e.g. ``CaseOut`` or
    ``list[CaseOut]``): the CLI prints what the API returns, and one schema in the OpenAPI spec describes both.
    A value the model does not allow is an error here, never printed."""
    from pydantic import TypeAdapter

    shape = TypeAdapter(schema)
    emit_json(shape.dump_python(shape.validate_python(data), mode="json"))


def table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    """A table that fits the terminal (``COLUMNS``, or 80 when not a terminal): a cell too wide for its column
    wraps at spaces and, where a word is longer than the column, folds onto the next line. Nothing is cut with
    an ellipsis: an id, path or time is copied from this output, so every character must be there. (Plain lines
    when not a terminal were the alternative; a folded table keeps one layout for people and for pipes, and
    programs have ``--json``.)"""
    # Cells as Text, never markup: a name such as "[red]x" prints as written
    t = Table(title=Text(visible(title)), title_justify="left")
    for c in columns:
        t.add_column(Text(visible(c)), overflow="fold", no_wrap=False)
    for r in rows:
        t.add_row(*[Text(visible(str(v))) for v in r])
    stdout.print(t)


def line(text: str) -> None:
    stdout.print(visible(text), markup=False)


def format_fmr(fmr: float | None, extrapolated: bool = False) -> str:
    if fmr is None:
        return "n/a (profile not calibrated)"
    if fmr <= 0:
        return "0"
    one_in = 1 / fmr
    text = f"{fmr:.2g} (about 1 in {one_in:,.0f})" if one_in >= 2 else f"{fmr:.2g}"
    return text + (", extrapolated" if extrapolated else "")


class CountBar:
    """A progress bar (on stderr) that starts once the total is known, e.g. after a folder walk.

    Example:
        >>> bar = CountBar("indexing", "photo")
        >>> run(on_total=bar.start, progress=bar.update)
        >>> bar.close()
    """

    def __init__(self, desc: str, unit: str, *, quiet: bool = False) -> None:
        self.desc, self.unit, self.quiet = desc, unit, quiet
        self.bar: Any = None

    def start(self, total: int) -> None:
        from tqdm import tqdm

        self.close()
        self.bar = tqdm(total=total, unit=self.unit, desc=self.desc, dynamic_ncols=True,
                        disable=True if self.quiet else None, leave=False)

    def update(self, n: int) -> None:
        if self.bar is not None:
            self.bar.update(n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
