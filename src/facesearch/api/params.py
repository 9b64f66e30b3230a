"""Request parameters shared by the API and the console."""

from typing import Annotated

from fastapi import Path

# Database ids: a bigger number is refused (422) instead of overflowing the database driver.
RowId = Annotated[int, Path(ge=1, le=2**62)]
