"""``python -m facesearch.cli``."""

from facesearch.cli.main import run

run()
