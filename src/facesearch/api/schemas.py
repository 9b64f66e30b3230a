"""The API's request and response bodies (pydantic). The console validates its forms with the same request
models, and the CLI's ``--json`` prints the same response models, so one schema describes all three.

Limits and patterns come from the services (``cases.service.TITLE_MAX``, ``accounts.service.NAME_PATTERN``):
a rule lives once, whichever interface reaches it.
"""

# No ``from __future__ import annotations``: pydantic and FastAPI read these annotations at run time.
from datetime import date, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, Field, WithJsonSchema, model_validator

from facesearch.accounts.roles import ROLES
from facesearch.accounts.service import NAME_PATTERN, PASSWORD_MAX, PASSWORD_MIN
from facesearch.cases.service import PURPOSES, REVIEWERS_MAX, TEXT_MAX, TITLE_MAX, CaseStatus, parse_case_time
from facesearch.errors import ErrorKind
from facesearch.review.service import ReviewDecision, SightingStatus
from facesearch.text import has_surrogate
from facesearch.video.cameras import CAMERA_ID_PATTERN
from facesearch.video.face_size import MIN_FACE_DEFAULT
from facesearch.video.jobs import JobStatus
from facesearch.video.scan_report import FileStatus


# Only text and dates are read by the one date rule; anything else (a number, an object) is left for pydantic
# to refuse as it refuses any other malformed field (422), rather than failing inside the rule.
def _case_start(value: object) -> object:
    return parse_case_time(value, end_of_day=False) if isinstance(value, str | date) else value


def _case_end(value: object) -> object:
    return parse_case_time(value, end_of_day=True) if isinstance(value, str | date) else value


# A bare date means the whole day: valid from its first moment, valid until its last (the one date rule).
CaseStart = Annotated[datetime, BeforeValidator(_case_start)]
CaseEnd = Annotated[datetime, BeforeValidator(_case_end)]
Text = Annotated[str | None, Field(default=None, max_length=TEXT_MAX)]
AccountName = Annotated[str, Field(min_length=1, max_length=100, pattern=NAME_PATTERN)]
CameraId = Annotated[str, Field(min_length=1, max_length=100, pattern=CAMERA_ID_PATTERN)]


def _surrogate_at(value: object, where: str) -> str | None:
    """The field (``cameras[2]``) of the first lone surrogate in a parsed JSON body, if any."""
    if isinstance(value, str):
        return where if has_surrogate(value) else None
    if isinstance(value, dict):
        for key, item in value.items():
            found = _surrogate_at(key, where) or _surrogate_at(item, f"{where}.{key}" if where else str(key))
            if found:
                return found
    if isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found = _surrogate_at(item, f"{where}[{i}]")
            if found:
                return found
    return None


class RequestModel(BaseModel):
    """A request body: a text field holding a lone surrogate (a JSON ``\\ud800`` escape, not Unicode text) is
    refused (422, naming the field) before any rule or the database sees it."""

    @model_validator(mode="before")
    @classmethod
    def _unicode_only(cls, data: Any) -> Any:
        field = _surrogate_at(data, "")
        if field is not None:
            raise ValueError(f"{field or 'body'}: holds a lone surrogate (U+D800-U+DFFF), which is not text")
        return data


class CaseIn(RequestModel):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    purpose: str = Field(max_length=100)
    valid_until: CaseEnd
    valid_from: CaseStart | None = None
    recorded_from: CaseStart | None = Field(
        default=None, description="Start of the recording window (which recordings a search may cover); default "
        "and earliest: FACESEARCH_RECORDING_LOOKBACK_DAYS (30) before valid_from; earlier is refused (400)")
    recorded_until: CaseEnd | None = Field(
        default=None, description="End of the recording window; default and latest: valid_until")
    purpose_text: Text = None
    legal_basis: Text = None
    authorisation_ref: Text = None
    authorising_authority: Text = None
    authorised_by: Text = None
    cameras: list[CameraId] = Field(default_factory=list, max_length=1000)
    reviewers_required: int | None = Field(
        default=None, ge=1, le=REVIEWERS_MAX,
        description="Distinct people who must confirm a sighting: at least the installation's minimum "
                    "(FACESEARCH_MIN_REVIEWERS, default 2), which is also the default; fewer is refused (400)")


class AuthoriseIn(RequestModel):
    legal_basis: Text = None
    authorisation_ref: Text = None
    authorising_authority: Text = None
    authorised_by: Text = None


class RecordingWindowIn(AuthoriseIn):
    """A new recording window; widening it needs the authorisation fields again (the service says which)."""

    recorded_from: CaseStart | None = None
    recorded_until: CaseEnd | None = None


class ReviewIn(RequestModel):
    decision: str = Field(max_length=20)
    note: str | None = Field(default=None, max_length=2000)


class CameraIn(RequestModel):
    id: CameraId
    name: str = Field(min_length=1, max_length=300)
    url: str | None = Field(default=None, max_length=2000)
    location: str | None = Field(default=None, max_length=300)
    # The smallest face its live searches look for, px (checked by ``video.face_size``); None: the default.
    min_face: float | None = None


class LoginIn(RequestModel):
    username: str = Field(min_length=1, max_length=100)
    password: str = Field(min_length=1, max_length=PASSWORD_MAX)


class PasswordIn(RequestModel):
    current: str = Field(min_length=1, max_length=PASSWORD_MAX)
    new: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)


class UserIn(RequestModel):
    username: AccountName
    password: str = Field(min_length=PASSWORD_MIN, max_length=PASSWORD_MAX)
    role: str = Field(max_length=20)


class KeyIn(RequestModel):
    name: AccountName
    role: str | None = Field(default=None, max_length=20,
                             description="The key's role: its owner's (the caller's), which is also the default; "
                                         "any other is refused (403)")


class AssignIn(RequestModel):
    username: AccountName


class ScanIn(RequestModel):
    case: str = Field(max_length=30)
    paths: list[str] = Field(min_length=1, max_length=1000)
    camera: CameraId | None = None
    # When the recordings started, for files whose own time (metadata, name, modification) is wrong; a time
    # without a zone is UTC. The CLI's ``scan --start``.
    start: CaseStart | None = None
    # The smallest face searched for, in the footage's pixels (the CLI's ``scan --min-face``); checked by the
    # one rule in ``video.face_size`` (a 400 naming it).
    min_face: float = MIN_FACE_DEFAULT


class NameIn(RequestModel):
    name: str = Field(min_length=1, max_length=300)


class MergeIn(RequestModel):
    others: list[str] = Field(min_length=1, max_length=100)


# --- Responses -------------------------------------------------------------------------------------------
# Each mirrors a service result's ``to_json()`` field for field, so the JSON is what the services make; the
# models add what a client needs: the types, the fixed sets of values, and a schema in the OpenAPI spec.

# Times the services hand over as ISO 8601 text: documented as date-time, passed through unchanged (parsing
# and re-serialising them would turn ``+00:00`` into ``Z``).
IsoTime = Annotated[str, WithJsonSchema({"type": "string", "format": "date-time"})]
Role = Literal["admin", "officer", "reviewer", "auditor", "library", "signin"]
Purpose = Literal["missing-person", "victim", "suspect", "other"]
# The literals repeat the services' tuples for the type checker and the spec; a drift fails at import.
if set(get_args(Role)) != set(ROLES) or set(get_args(Purpose)) != set(PURPOSES):
    raise RuntimeError("api.schemas: Role or Purpose no longer matches accounts.roles.ROLES / cases.service.PURPOSES")


class ErrorOut(BaseModel):
    """Every error's body: one line naming the input and the reason; ``kind`` for the service's errors."""

    error: str
    kind: ErrorKind | None = None


class HealthOut(BaseModel):
    status: Literal["ok"]


class LoginOut(BaseModel):
    user: str
    role: Role
    csrf_token: str


class SignedOutOut(BaseModel):
    status: Literal["signed out"]


class PasswordChangedOut(BaseModel):
    status: Literal["password changed"]


class CaseOut(BaseModel):
    id: str
    title: str
    purpose: Purpose
    status: CaseStatus
    valid_from: IsoTime
    valid_until: IsoTime
    recorded_from: IsoTime = Field(description="Start of the recording window: the recordings a search may cover")
    recorded_until: IsoTime
    cameras: list[str]
    reviewers_required: int
    targets: list[int]
    purpose_text: str | None
    legal_basis: str | None
    authorisation_ref: str | None
    authorising_authority: str | None
    authorised_by: str | None


class CameraOut(BaseModel):
    id: str
    name: str
    location: str | None
    url: str | None = Field(description="The stream's address with its password hidden")
    status: str = Field("enabled", description="enabled, disabled (nothing is searched on it) or removed")
    min_face: float | None = Field(None, description="The smallest face its live searches look for, in the "
                                   "stream's pixels (null: the default, 24)")


class SightingOut(BaseModel):
    id: int
    case: str
    identity_id: int
    name: str
    camera: str | None
    source: str
    start: float = Field(description="Seconds from the start of the recording")
    end: float
    best: float
    started_at: IsoTime | None
    ended_at: IsoTime | None
    time_source: str = Field(description="Where the recording's start time came from: given, metadata, file name, "
                             "file modified, stream clock, or unknown")
    time_weak: bool = Field(description="The time rests on weak evidence (the file's modification time)")
    score: float
    fmr: float
    threshold: float
    calibration: str | None = Field(description="Which calibration the threshold came from: a site calibration "
                                                "in force, or the shipped one (LFW)")
    status: SightingStatus


class ReviewOut(BaseModel):
    sighting: int
    decision: ReviewDecision
    status: SightingStatus = Field(description="The sighting's status after this decision")
    confirmations: int
    required: int


class VerifyOut(BaseModel):
    same: bool
    score: float
    fmr: float | None = Field(description="None when the profile is not calibrated")
    threshold: float


class LivenessLayerOut(BaseModel):
    layer: Literal["capture", "active", "passive"]
    passed: bool | None = Field(description="None: not run (a photo shows no motion; a model not available)")
    reasons: list[str]


class LivenessOut(BaseModel):
    passed: bool = Field(description="No layer that ran failed")
    layers: list[LivenessLayerOut]


class SignInPersonOut(BaseModel):
    id: int
    name: str
    templates: int
    consent_ref: str | None = Field(description="Where the person's consent to sign-in is recorded")
    created_at: IsoTime
    locked_until: IsoTime | None = Field(description="Attempts are refused until then (repeated failures)")


class SignInPhotoOut(BaseModel):
    source: str
    accepted: bool
    reason: str


class SignInEnrolmentOut(BaseModel):
    person: SignInPersonOut
    photos: list[SignInPhotoOut]


class SignInRemovedOut(BaseModel):
    removed: SignInPersonOut


class SignInChallengeOut(BaseModel):
    direction: Literal["left", "right"] = Field(description="Which way to ask the person to turn their head (their "
                                                            "own left or right)")
    token: str = Field(description="Send it back with the clip (challenge_token): the server reads the direction "
                                   "from it, so the client cannot choose one")
    expires_at: IsoTime


class SignInResultOut(BaseModel):
    name: str
    accepted: bool = Field(description="The face matched at the operating point and no liveness layer failed")
    score: float
    threshold: float
    target_fmr: float
    fmr: float = Field(description="The false match rate at this score, from the calibration")
    fmr_extrapolated: bool
    matched: bool
    reasons: list[str] = Field(description="Why it was not accepted, one line each")
    liveness: LivenessOut
    capture: Literal["photo", "clip"]
    frames: int
    failures: int = Field(description="Attempts in a row not accepted, this one included (5 lock the person out)")
    fnmr_at_threshold: float | None = Field(description="What the operating point costs: the share of the "
                                                        "calibration's genuine pairs refused at this threshold "
                                                        "(null where the calibration has none)")


class CandidateOut(BaseModel):
    identity_id: int
    name: str
    score: float
    rank: int
    fmr: float


class IdentifiedFaceOut(BaseModel):
    box: list[float]
    match: bool
    candidates: list[CandidateOut]


class IdentificationOut(BaseModel):
    case: str
    source: str
    target_fpir: float
    watchlist_size: int
    threshold: float
    threshold_extrapolated: bool
    faces: list[IdentifiedFaceOut]


class SimilarOut(BaseModel):
    identity_id: int
    name: str
    score: float


class EnrolledPhotoOut(BaseModel):
    source: str
    accepted: bool
    reason: str
    similar_to: list[SimilarOut] = Field(description="Other enrolled people this photo already matches")
    unlike_person: float | None = Field(None, description="Added to a person already enrolled whose photos it does "
                                        "not match: its best score against them (below the 1:1 threshold)")


class EnrolmentOut(BaseModel):
    identity_id: int | None
    name: str
    case: str | None
    photos: list[EnrolledPhotoOut]
    # True when the name was already on the case's watchlist: the photos joined that person.
    added_to_existing: bool = False


class IdentityOut(BaseModel):
    id: int
    name: str
    templates: int
    created_by: str
    created_at: datetime


class RemovalOut(BaseModel):
    """What taking a person (or one enrolment photo) off a case's watchlist deleted."""

    case: str
    identity_id: int
    photo: int | None = Field(description="The enrolment photo's number (1 = first enrolled); none: the person")
    templates_deleted: int
    photos_deleted: int
    kept_by_other_cases: int = Field(description="Other live cases that still search the person: their "
                                                 "templates are kept for them")


class ScanParamsOut(BaseModel):
    paths: list[str]
    camera: str | None
    min_face: float = MIN_FACE_DEFAULT  # jobs queued before it existed searched from the default


class ScannedFileOut(BaseModel):
    path: str
    status: FileStatus
    frames: int
    seconds: float
    elapsed_s: float
    realtime_factor: float
    sightings: int
    problem: str | None
    time_source: str | None
    smallest_face_px: float = Field(description="Faces from this height (pixels of the footage) up were searched "
                                                "for; 0 when the file was not searched")
    too_small_tracks: int = Field(description="Faces followed in the footage that never reached that size: "
                                              "counted, never identified")


class ScanResultOut(BaseModel):
    case: str
    camera: str | None
    files: list[ScannedFileOut]
    sightings: int
    stopped: str | None


class JobOut(BaseModel):
    id: int
    kind: Literal["scan"]
    case: str
    params: ScanParamsOut
    status: JobStatus
    progress: dict[str, Any] = Field(description="While running: file, seconds, duration, frames, files_done, "
                                                 "matched_tracks; when done: files_done, sightings")
    result: ScanResultOut | None
    error: str | None
    created_by: str


class UserOut(BaseModel):
    username: str
    role: Role
    disabled: bool
    created_at: IsoTime


class UserAddedOut(BaseModel):
    username: str
    role: Role


class UserDisabledOut(BaseModel):
    username: str
    disabled: bool


class KeyOut(BaseModel):
    name: str
    role: Role
    revoked: bool
    created_at: IsoTime
    owner: str | None = Field(description="The person the key belongs to and acts for (none: a key from before "
                                           "keys had owners, which no longer works)")


class AssignmentOut(BaseModel):
    username: str
    role: Role
    assigned_by: str
    assigned_at: IsoTime


class KeyCreatedOut(BaseModel):
    name: str
    role: Role
    key: str = Field(description="The key itself: shown in this answer only, stored as its hash")


class KeyRevokedOut(BaseModel):
    name: str
    revoked: bool


class AuditEntryOut(BaseModel):
    seq: int
    at: IsoTime
    actor: str
    action: str  # not AuditAction: the log keeps whatever older versions wrote
    case_id: str | None
    subject: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class CheckpointRef(BaseModel):
    size: int = Field(description="Entries the checkpoint covers (0 to size-1).")
    at: str
    head: str = Field(description="The hash of entry size-1.")


class ChainOut(BaseModel):
    ok: bool
    checked: int
    first_bad_seq: int | None
    reason: str
    key_id: str | None = Field(default=None, description="The audit key's id (compare it with the one published "
                               "for this installation).")
    checkpoints_checked: int = 0
    latest_checkpoint: CheckpointRef | None = None
    notes: list[str] = []


class PersonOut(BaseModel):
    id: str
    name: str | None
    faces: int
    photos: int
    sample_face: str | None
    sample_photo: str | None


class PeopleOut(BaseModel):
    people: list[PersonOut]
    hidden_small: int = Field(description="People with too few faces to be listed")
    unsorted: int = Field(description="Faces below the quality floor, in no person")


class LibraryFaceOut(BaseModel):
    id: str
    person: str | None
    photo: str
    box: list[float]
    face_size: float
    unsorted: bool
    pinned: bool


class PersonFacesOut(BaseModel):
    """A person with their faces (``faces`` is the list here, not the count)."""

    id: str
    name: str | None
    photos: int
    sample_face: str | None
    sample_photo: str | None
    faces: list[LibraryFaceOut]


class PersonNamedOut(BaseModel):
    id: str
    name: str


class PeopleMergedOut(BaseModel):
    id: str
    faces_moved: int


class PersonSplitOut(BaseModel):
    people: list[str] = Field(description="The people the faces are in now")


class PersonForgottenOut(BaseModel):
    id: str
    faces_deleted: int
    photos: int


class FaceNotPersonOut(BaseModel):
    face: str
    now_with: str | None = Field(description="The person the face was grouped with instead, if any")


class FaceMovedOut(BaseModel):
    face: str
    person: str


class SiteCalibrationOut(BaseModel):
    id: int
    profile: str
    source: str = Field(description="The data it was measured on, as given to facesearch calibrate")
    data_sha256: str = Field(description="A hash of every image's bytes, person and groups it was measured on")
    policy: Literal["worst-group", "overall"]
    attribute: str | None = Field(description="The group column whose worst group sets thresholds (null: all)")
    created_at: IsoTime
    created_by: str
    in_force: bool
    withdrawn_at: IsoTime | None


class CalibrationStateOut(BaseModel):
    profile: str
    in_force: str = Field(description="The calibration every search uses now: a site calibration, or the shipped "
                                      "one (LFW)")
    site_calibration: int | None
    stored: list[SiteCalibrationOut]


class ThresholdChangeOut(BaseModel):
    target: float
    before: float | None
    after: float | None


class CalibrationChangeOut(BaseModel):
    calibration: SiteCalibrationOut | None = Field(description="The one in force now (null: the shipped one)")
    thresholds: list[ThresholdChangeOut]
