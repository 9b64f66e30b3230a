"""The API's request and response bodies (pydantic). The console validates its forms with the same request
models, and the CLI's ``--json`` prints the same response models, so one schema describes all three.

Limits and patterns come from the services (``cases.service.TITLE_MAX``, ``accounts.service.NAME_PATTERN``):
a rule lives once, whichever interface reaches it.
"""

# No ``from __future__ import annotations``: pydantic and FastAPI read these annotations at run time.
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, Field

from facesearch.accounts.service import NAME_PATTERN, PASSWORD_MAX, PASSWORD_MIN
from facesearch.cases.service import REVIEWERS_MAX, TEXT_MAX, TITLE_MAX, parse_case_time
from facesearch.video.cameras import CAMERA_ID_PATTERN


def _case_start(value: str | date | datetime) -> datetime:
    return parse_case_time(value, end_of_day=False)


def _case_end(value: str | date | datetime) -> datetime:
    return parse_case_time(value, end_of_day=True)


# A bare date means the whole day: valid from its first moment, valid until its last (the one date rule).
CaseStart = Annotated[datetime, BeforeValidator(_case_start)]
CaseEnd = Annotated[datetime, BeforeValidator(_case_end)]
Text = Annotated[str | None, Field(default=None, max_length=TEXT_MAX)]
AccountName = Annotated[str, Field(min_length=1, max_length=100, pattern=NAME_PATTERN)]
CameraId = Annotated[str, Field(min_length=1, max_length=100, pattern=CAMERA_ID_PATTERN)]


class CaseIn(BaseModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    purpose: str = Field(max_length=100)
    valid_until: CaseEnd
    valid_from: CaseStart | None = None
    purpose_text: Text = None
    legal_basis: Text = None
    authorisation_ref: Text = None
    authorising_authority: Text = None
    authorised_by: Text = None
    cameras: list[CameraId] = Field(default_factory=list, max_length=1000)
    reviewers_required: int = Field(default=2, ge=1, le=REVIEWERS_MAX)


class AuthoriseIn(BaseModel):
    legal_basis: Text = None
    authorisation_ref: Text = None
    authorising_authority: Text = None
    authorised_by: Text = None


class ReviewIn(BaseModel):
    decision: str = Field(max_length=20)
    note: str | None = Field(default=None, max_length=2000)


class CameraIn(BaseModel):
    id: CameraId
    name: str = Field(min_length=1, max_length=300)
    url: str | None = Field(default=None, max_length=2000)
    location: str | None = Field(default=None, max_length=300)


class LoginIn(BaseModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class PasswordIn(BaseModel):
    current: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class UserIn(BaseModel):
    username: AccountName
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    role: str = Field(max_length=20)


class KeyIn(BaseModel):
    name: AccountName
    role: str = Field(max_length=20)


class ScanIn(BaseModel):
    case: str = Field(max_length=30)
    paths: list[str] = Field(min_length=1, max_length=1000)
    camera: str | None = Field(default=None, max_length=100)


class NameIn(BaseModel):
    name: str = Field(min_length=1, max_length=300)


class MergeIn(BaseModel):
    others: list[str] = Field(min_length=1, max_length=100)
