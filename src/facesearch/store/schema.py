"""Database tables (SQLAlchemy 2). The schema evolves only through the Alembic migrations beside this file."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class AuditEventRow(Base):
    """One entry of the hash-chained audit log (``facesearch.audit.chain.AuditEvent``)."""

    __tablename__ = "audit_events"

    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    at: Mapped[str] = mapped_column(String(40), nullable=False)
    actor: Mapped[str] = mapped_column(String(200), nullable=False)
    action: Mapped[str] = mapped_column(String(100), nullable=False, index=True)
    case_id: Mapped[str | None] = mapped_column(String(64), index=True)
    subject: Mapped[str | None] = mapped_column(String(500))
    details: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    key_id: Mapped[str | None] = mapped_column(String(64))  # the audit key of the link; None before keying


class AuditHeadRow(Base):
    """The newest entry's sequence number and hash, rewritten in the same transaction as each append:
    the chain alone cannot show that entries were cut from its end."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False)
    updated: Mapped[object] = mapped_column(DateTime(timezone=True), nullable=False)
    note: Mapped[str | None] = mapped_column(Text)
    frontier: Mapped[list[str | None] | None] = mapped_column(JSON)  # the Merkle tree's right edge, by level
    key_id: Mapped[str | None] = mapped_column(String(64))  # the audit key the newest entries were written with


class IdentityRow(Base):
    """A person enrolled in the gallery. Reference fields are free-form (case file numbers, notes).

    The name and reference are sealed (``store.sealed_text``): ``name`` holds ``""`` and ``reference`` ``{}``
    once sealed; ``name_index`` is the name's keyed blind index, for lookups by name."""

    __tablename__ = "identities"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    reference: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    reference_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_index: Mapped[str | None] = mapped_column(String(64), index=True)


class TemplateRow(Base):
    """One enrolment photo's embedding, sealed with the installation's key (never stored in clear)."""

    __tablename__ = "templates"
    __table_args__ = (UniqueConstraint("identity_id", "profile", "source_sha256", name="uq_template_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    profile: Mapped[str] = mapped_column(String(100), nullable=False)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    quality: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class CaseRow(Base):
    """An authorised, time-limited search for named people. ``status``: draft, authorised, active,
    closed or expired. The title, purpose text and legal basis can name who is sought: they are sealed
    (``store.sealed_text``), their plaintext columns blank."""

    __tablename__ = "cases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(String(300), nullable=False)
    purpose: Mapped[str] = mapped_column(String(40), nullable=False)
    purpose_text: Mapped[str | None] = mapped_column(Text)
    legal_basis: Mapped[str | None] = mapped_column(Text)
    authorisation_ref: Mapped[str | None] = mapped_column(String(200))
    authorising_authority: Mapped[str | None] = mapped_column(String(300))
    authorised_by: Mapped[str | None] = mapped_column(String(200))
    valid_from: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    valid_until: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The recording window (which recordings a search may cover); null: the default rule (cases.service)
    recorded_from: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    recorded_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cameras: Mapped[list[str]] = mapped_column(JSON, nullable=False)
    reviewers_required: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    title_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    purpose_text_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    legal_basis_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    # Raised by database triggers whenever the watchlist's targets or their templates change (migration 0017):
    # a live watch compares it instead of reading every template id. Never written by facesearch itself.
    watchlist_version: Mapped[int] = mapped_column(BigInteger, nullable=False, server_default="0")


class CaseTargetRow(Base):
    """An identity a case searches for."""

    __tablename__ = "case_targets"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), primary_key=True)


class CameraRow(Base):
    """A camera or place footage comes from. The stream URL is sealed: it often holds a password. A removed
    camera's row stays (``status``), as sightings and scanned files name cameras by id."""

    __tablename__ = "cameras"

    id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    location: Mapped[str | None] = mapped_column(Text)
    url_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    # enabled, disabled (searched by nothing until enabled again) or removed (kept, with its stream address
    # deleted, so that sightings and scans naming it still say which camera; never searched again)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="enabled", server_default="enabled")
    # The smallest face its live searches look for, px (migration 0018); NULL: the default.
    min_face: Mapped[float | None] = mapped_column()


class SightingRow(Base):
    """A candidate: one face track that matched one targeted identity, until people confirm or reject it.

    ``start_s``/``end_s`` are seconds from the start of the recording; ``started_at``/``ended_at`` the
    absolute times, when the recording's start is known (``time_source`` says from where)."""

    __tablename__ = "sightings"
    __table_args__ = (UniqueConstraint("track_key", "identity_id", name="uq_sighting_track_person"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=False, index=True)
    identity_id: Mapped[int] = mapped_column(ForeignKey("identities.id", ondelete="CASCADE"), nullable=False)
    camera_id: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(Text, nullable=False)
    track: Mapped[int] = mapped_column(Integer, nullable=False)
    start_s: Mapped[float] = mapped_column(nullable=False)
    end_s: Mapped[float] = mapped_column(nullable=False)
    best_s: Mapped[float] = mapped_column(nullable=False)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    time_source: Mapped[str] = mapped_column(String(40), nullable=False)
    score: Mapped[float] = mapped_column(nullable=False)
    fmr: Mapped[float] = mapped_column(nullable=False)
    threshold: Mapped[float] = mapped_column(nullable=False)
    calibration: Mapped[str | None] = mapped_column(String(200))  # which calibration the threshold came from
    box: Mapped[list[float]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="candidate")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)
    # A live track's identity across retries (migration 0015): camera, the lease token of the worker that
    # followed it, and its track number; unique with the person. NULL for files and older rows.
    track_key: Mapped[str | None] = mapped_column(String(200))


class CameraLeaseRow(Base):
    """Which worker owns a camera's stream until ``expires_at``. ``token`` grows by one with every new owner
    (a fencing token): a worker writes only while the row still holds its token."""

    __tablename__ = "camera_leases"

    camera_id: Mapped[str] = mapped_column(ForeignKey("cameras.id", ondelete="CASCADE"), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200), nullable=False)
    token: Mapped[int] = mapped_column(BigInteger, nullable=False)
    acquired_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class SignInFailureRow(Base):
    """One failed sign-in: a 16-byte hash of its key (address and name, never the name itself) and when."""

    __tablename__ = "sign_in_failures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key_digest: Mapped[str] = mapped_column(String(32), nullable=False, index=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False, index=True)


class EvidenceRow(Base):
    """Sealed evidence of a sighting: ``frame`` (the best frame, everyone else blurred) or ``crop`` (the
    aligned face that matched), JPEG bytes sealed with the installation's key."""

    __tablename__ = "evidence"

    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id", ondelete="CASCADE"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    sha256: Mapped[str] = mapped_column(String(64), nullable=False)  # of the plaintext, for exports and audit


class ScannedFileRow(Base):
    """A recording scanned for a case: a rerun skips it while its size and modification time agree."""

    __tablename__ = "scanned_files"
    __table_args__ = (UniqueConstraint("case_id", "path", name="uq_scanned_file"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), nullable=False)
    path: Mapped[str] = mapped_column(Text, nullable=False)
    camera_id: Mapped[str | None] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    frames: Mapped[int] = mapped_column(Integer, nullable=False)
    sightings: Mapped[int] = mapped_column(Integer, nullable=False)
    problem: Mapped[str | None] = mapped_column(Text)
    finished_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The recording's length in seconds (migration 0014); NULL for files scanned before, or of unknown length.
    duration_s: Mapped[float | None] = mapped_column()
    # The smallest face searched for, px (migration 0018): a rerun asking for smaller faces searches the file
    # again. NULL for files scanned before it was recorded (a rerun skips them as before).
    min_face: Mapped[float | None] = mapped_column()


class ReviewRow(Base):
    """One reviewer's decision on a candidate sighting, with the evidence (hashes) they were shown."""

    __tablename__ = "reviews"
    __table_args__ = (UniqueConstraint("sighting_id", "reviewer", name="uq_review_reviewer"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    sighting_id: Mapped[int] = mapped_column(ForeignKey("sightings.id", ondelete="CASCADE"), nullable=False,
                                             index=True)
    reviewer: Mapped[str] = mapped_column(String(200), nullable=False)
    decision: Mapped[str] = mapped_column(String(20), nullable=False)  # "confirm" or "reject"
    note: Mapped[str | None] = mapped_column(Text)  # sealed in ``note_sealed`` (it may name the person)
    seen: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    note_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)


class EnrolmentPhotoRow(Base):
    """The enrolment photo behind a template (downscaled JPEG, sealed), shown to reviewers beside a
    sighting's evidence; it goes when its template goes."""

    __tablename__ = "enrolment_photos"

    template_id: Mapped[int] = mapped_column(ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class UserRow(Base):
    """A person who signs in to the API or console; the password is kept as an argon2 hash."""

    __tablename__ = "users"

    username: Mapped[str] = mapped_column(String(100), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(200), nullable=False)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    disabled: Mapped[bool] = mapped_column(nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class ApiKeyRow(Base):
    """A program's key: only its SHA-256 is stored (the key is 256 random bits, shown once)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    role: Mapped[str] = mapped_column(String(20), nullable=False)
    revoked: Mapped[bool] = mapped_column(nullable=False, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    # The person the key belongs to; it acts with their role while they hold it (none: a key from before
    # keys had owners, which no longer works).
    owner: Mapped[str | None] = mapped_column(String(100))


class CaseAssignmentRow(Base):
    """Need to know: an officer or reviewer assigned to a case (by an administrator, or as its creator)."""

    __tablename__ = "case_assignments"

    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"), primary_key=True,
                                          index=True)
    assigned_by: Mapped[str] = mapped_column(String(200), nullable=False)
    assigned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class WebSessionRow(Base):
    """A signed-in person's session: only the token's SHA-256 is stored, with its CSRF token and expiry."""

    __tablename__ = "web_sessions"

    token_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    username: Mapped[str] = mapped_column(ForeignKey("users.username", ondelete="CASCADE"), nullable=False)
    csrf_token: Mapped[str] = mapped_column(String(64), nullable=False)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class JobRow(Base):
    """Long work (a scan) run in the background: its parameters, progress and outcome survive restarts."""

    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(20), nullable=False)
    case_id: Mapped[str] = mapped_column(String(20), nullable=False)
    params: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, index=True)  # queued running done failed cancelled
    progress: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False)
    result: Mapped[dict[str, object] | None] = mapped_column(JSON)
    error: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class LibraryPhotoRow(Base):
    """A file of the personal photo library, as last indexed (size and mtime tell a changed file)."""

    __tablename__ = "library_photos"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    path: Mapped[str] = mapped_column(String(4096), nullable=False, unique=True)
    size: Mapped[int] = mapped_column(BigInteger, nullable=False)
    mtime_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    sha256: Mapped[str | None] = mapped_column(String(64), index=True)
    dhash: Mapped[str | None] = mapped_column(String(16))  # 64-bit difference hash, hex: re-encoded copies
    status: Mapped[str] = mapped_column(String(20), nullable=False)  # faces no_faces unreadable duplicate
    reason: Mapped[str | None] = mapped_column(Text)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("library_photos.id", ondelete="SET NULL"))
    indexed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)


class LibraryPersonRow(Base):
    """A person of the library: a cluster of faces, named or not (shown as ``P<id>``). A name is sealed in
    ``name_sealed`` (``name`` stays ``NULL``), with its blind index in ``name_index``."""

    __tablename__ = "library_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_index: Mapped[str | None] = mapped_column(String(64), index=True)


class LibraryFaceRow(Base):
    """A face in a library photo: its sealed embedding and crop, and the person it belongs to (if any).

    ``clusterable`` is false for faces below the quality floor ("unsorted"); ``pinned`` marks a face a
    person placed by hand, which the machine never moves.
    """

    __tablename__ = "library_faces"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    photo_id: Mapped[int] = mapped_column(ForeignKey("library_photos.id", ondelete="CASCADE"), nullable=False,
                                          index=True)
    person_id: Mapped[int | None] = mapped_column(ForeignKey("library_people.id", ondelete="SET NULL"), index=True)
    face_index: Mapped[int] = mapped_column(Integer, nullable=False)
    box: Mapped[list[float]] = mapped_column(JSON, nullable=False)
    face_size: Mapped[float] = mapped_column(nullable=False)
    sharpness: Mapped[float] = mapped_column(nullable=False)
    clusterable: Mapped[bool] = mapped_column(nullable=False)
    pinned: Mapped[bool] = mapped_column(nullable=False, default=False)
    profile: Mapped[str] = mapped_column(String(100), nullable=False)
    embedding: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    crop: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)


class LibraryRejectionRow(Base):
    """"Not this person": the face never joins that person again, whatever the scores say."""

    __tablename__ = "library_rejections"

    face_id: Mapped[int] = mapped_column(ForeignKey("library_faces.id", ondelete="CASCADE"), primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("library_people.id", ondelete="CASCADE"), primary_key=True)


class SiteCalibrationRow(Base):
    """A calibration measured on the deployer's own faces (``eval.site``). At most one per profile is
    ``in_force``: ``identify``, ``scan``, ``watch``, ``verify`` and sign-in take their thresholds from it; the
    ones withdrawn stay for the record. ``body`` holds the curves (overall and per group), never image paths."""

    __tablename__ = "site_calibrations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    profile: Mapped[str] = mapped_column(String(50), nullable=False, index=True)
    source: Mapped[str] = mapped_column(Text, nullable=False)
    data_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    policy: Mapped[str] = mapped_column(String(20), nullable=False)  # worst-group or overall
    attribute: Mapped[str | None] = mapped_column(String(100))  # the worst group of this attribute (None: all)
    body: Mapped[dict[str, Any]] = mapped_column(JSON, nullable=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    in_force: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False, server_default=false())
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("uq_site_calibration_in_force", "profile", unique=True, sqlite_where=text("in_force"),
                            postgresql_where=text("in_force")),)


class SignInPersonRow(Base):
    """A person enrolled for face sign-in (1:1 against themselves only): never on a watchlist, never searched
    1:N. The name is sealed (``name`` holds ``""``), found through its blind index ``name_index``.

    ``failures`` counts attempts since the last accepted one, each counted as it starts (so that attempts sent
    at once cannot slip past the limit together); from ``signin.service.MAX_FAILURES`` on, attempts are refused
    until ``locked_until``, which grows with every further failure."""

    __tablename__ = "signin_people"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(300), nullable=False)
    name_sealed: Mapped[bytes | None] = mapped_column(LargeBinary)
    name_index: Mapped[str | None] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(40), nullable=False, default="authentication")
    consent_ref: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_by: Mapped[str] = mapped_column(String(200), nullable=False)
    failures: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class SignInTemplateRow(Base):
    """One sign-in enrolment photo's embedding, sealed like the gallery's templates."""

    __tablename__ = "signin_templates"
    __table_args__ = (UniqueConstraint("person_id", "profile", "source_sha256", name="uq_signin_template_source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("signin_people.id", ondelete="CASCADE"), nullable=False,
                                           index=True)
    profile: Mapped[str] = mapped_column(String(50), nullable=False)
    dim: Mapped[int] = mapped_column(Integer, nullable=False)
    sealed: Mapped[bytes] = mapped_column(LargeBinary, nullable=False)
    source_sha256: Mapped[str] = mapped_column(String(64), nullable=False)
    quality: Mapped[dict[str, object]] = mapped_column(JSON, nullable=False, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), nullable=False)

