"""``python -m facesearch.cli``."""

from facesearch.cli.main import app

app(prog_name="facesearch")
