"""A service context over a test's own database, key, engine and data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from facesearch.context import Context
from facesearch.settings import Settings


def context_for(sessions: Any, sealer: Any, engine: Any, home: Path) -> Context:
    return Context(Settings(home=home), sessions, sealer, make_engine=lambda: engine)
