"""Face sign-in: enrol a person once, then verify a live capture against that person only (1:1).

Sign-in people are kept apart from cases and the gallery (``signin_people``): never on a watchlist, never
searched 1:N, enrolled for the purpose "authentication" with a record of consent. Every attempt is audited
(accepted or not, the score, each liveness layer) and no capture is kept. Attempts on one person are limited:
each counts as a failure as it starts, so that attempts sent at once cannot slip past the limit together, and
an accepted one clears the count; from ``MAX_FAILURES`` on, the person is locked out for ``LOCK_S``, doubling
with every further failure up to ``LONGEST_LOCK_S``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.calibration import TargetBeyondCalibration
from facesearch.calibration_store import in_force
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.errors import (
    BadInputError,
    ConflictError,
    FacesearchError,
    LimitedError,
    NotFoundError,
    UnavailableError,
)
from facesearch.faces import Faces
from facesearch.files import atomic_write
from facesearch.gallery.policy import EnrolmentPolicy, EnrolmentRefused, choose_face
from facesearch.gallery.service import photo_faces
from facesearch.images import read_file
from facesearch.models.recognizer import l2_normalize
from facesearch.quality import sharp_weight, usefulness
from facesearch.signin import kept
from facesearch.signin.capture import Capture, read_capture
from facesearch.signin.liveness import (
    Layer,
    Liveness,
    active_layer,
    capture_layer,
    flat_residual,
    passive_layer,
)
from facesearch.store import sealed_text
from facesearch.store.schema import SignInPersonRow, SignInTemplateRow
from facesearch.text import require_plain

MAX_FAILURES = 5  # attempts in a row that may fail before the person is locked out
LOCK_S = 60.0  # the first lockout; each further failure doubles it
LONGEST_LOCK_S = 3600.0
# The operating point: FIDO's biometric bar is a false accept rate of at most 1 in 10,000.
DEFAULT_TARGET_FMR = 1e-4
TARGET_FMR_RANGE = (1e-6, 1e-2)
CHALLENGES = ("left", "right")
CHALLENGE_S = 120.0  # how long an issued challenge may be answered: time to read it, turn, and send the clip
MATCH_VIEWS = 3  # a clip is matched from its best few frames (their embeddings averaged)


class SignInError(FacesearchError):
    pass


class SignInNotFound(SignInError, NotFoundError):
    pass


class SignInConflict(SignInError, ConflictError):
    pass


class SignInLocked(SignInError, LimitedError):
    pass


class SignInUnavailable(SignInError, UnavailableError):
    pass


@dataclass(frozen=True)
class SignInPerson:
    id: int
    name: str
    templates: int
    consent_ref: str | None
    created_at: datetime
    locked_until: datetime | None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "templates": self.templates, "consent_ref": self.consent_ref,
                "created_at": self.created_at.isoformat(),
                "locked_until": None if self.locked_until is None else self.locked_until.isoformat()}


@dataclass(frozen=True)
class SignInEnrolment:
    person: SignInPerson
    photos: list[dict[str, Any]]  # per photo: source, accepted, reason

    def to_json(self) -> dict[str, Any]:
        return {"person": self.person.to_json(), "photos": self.photos}


@dataclass(frozen=True)
class SignInResult:
    """One attempt's answer: accepted only if the face matches at the operating point and no liveness layer
    that ran failed."""

    name: str
    accepted: bool
    score: float
    threshold: float
    target_fmr: float
    fmr: float
    fmr_extrapolated: bool
    liveness: Liveness
    capture: str  # photo or clip
    frames: int  # frames of the capture looked at
    failures: int  # attempts in a row not accepted, this one included
    fnmr: float | None = None  # the share of the calibration's genuine pairs refused at this threshold

    @property
    def matched(self) -> bool:
        return self.score >= self.threshold

    @property
    def reasons(self) -> list[str]:
        why = [] if self.matched else [f"the face does not match: score {self.score:.3f} under the threshold "
                                       f"{self.threshold:.3f} (FMR {self.target_fmr:.0e})"]
        return why + self.liveness.reasons

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "accepted": self.accepted, "score": round(self.score, 6),
                "threshold": round(self.threshold, 6), "target_fmr": self.target_fmr,
                "fmr": float(f"{self.fmr:.3g}"), "fmr_extrapolated": self.fmr_extrapolated,
                "matched": self.matched, "reasons": self.reasons, "liveness": self.liveness.to_json(),
                "capture": self.capture, "frames": self.frames, "failures": self.failures,
                "fnmr_at_threshold": None if self.fnmr is None else float(f"{self.fnmr:.3g}")}


def _purpose(person_id: int, digest: str, profile: str) -> str:
    return f"signin_templates:{person_id}:{digest}:{profile}"


def _find(s: Session, ctx: Context, name: str, *, lock: bool = False) -> SignInPersonRow:
    require_plain("name", name)
    query = select(SignInPersonRow).where(SignInPersonRow.name_index == sealed_text.name_index(ctx.sealer, name))
    row = s.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise SignInNotFound(name[:100], "nobody of this name is enrolled for sign-in (facesearch signin enroll)")
    return row


def _check_name(name: str) -> None:
    require_plain("name", name)
    if not name.strip() or len(name) > 300:
        raise BadInputError("name", "a name of 1 to 300 characters is needed")


def _person(s: Session, ctx: Context, row: SignInPersonRow) -> SignInPerson:
    count = s.scalar(select(func.count()).select_from(SignInTemplateRow)
                     .where(SignInTemplateRow.person_id == row.id)) or 0
    return SignInPerson(row.id, str(sealed_text.get(s, row, "name", ctx.sealer)), int(count), row.consent_ref,
                        row.created_at, row.locked_until)


def enrol(ctx: Context, name: str, photos: Sequence[Path | bytes], *, actor: str,
          consent_ref: str | None = None) -> SignInEnrolment:
    """Enrol ``name`` for sign-in from ``photos`` (several are better: more of the ways the face looks), held to
    the quality policy of case enrolment; a name enrolled already is refused. ``consent_ref``: where the
    person's consent is recorded (a form's number)."""
    _check_name(name)
    require_plain("consent_ref", consent_ref)
    if consent_ref is not None and len(consent_ref) > 200:
        raise BadInputError("consent_ref", "at most 200 characters")
    engine = ctx.engine()
    with ctx.sessions() as s:
        if s.scalar(select(SignInPersonRow.id).where(
                SignInPersonRow.name_index == sealed_text.name_index(ctx.sealer, name))) is not None:
            raise SignInConflict(name, "is enrolled for sign-in already (signin remove, then enrol again)")
    policy = EnrolmentPolicy()
    outcomes: list[dict[str, Any]] = []
    accepted: list[tuple[str, NDArray[np.float32], dict[str, object]]] = []
    for photo in photos:
        data = photo if isinstance(photo, bytes) else read_file(photo, str(photo))
        source = f"<{len(data)} bytes>" if isinstance(photo, bytes) else str(photo)
        digest = hashlib.sha256(data).hexdigest()
        if any(d == digest for d, _, _ in accepted):
            outcomes.append({"source": source, "accepted": False, "reason": "the same photo was given twice"})
            continue
        try:
            _, faces = photo_faces(engine, data, source)
            i = choose_face(faces, policy)
        except FacesearchError as exc:
            outcomes.append({"source": source, "accepted": False, "reason": exc.reason})
            continue
        accepted.append((digest, faces.embeddings[i], {"face_size": float(faces.face_size[i]),
                                                       "sharpness": float(faces.sharpness[i]),
                                                       "frontal": float(faces.frontal[i])}))
        outcomes.append({"source": source, "accepted": True, "reason": ""})
    if not accepted:
        raise EnrolmentRefused(name, "no photo could be enrolled: " + "; ".join(
            f"{o['source']}: {o['reason']}" for o in outcomes))
    now = datetime.now(UTC)
    with ctx.sessions.begin() as s:
        row = SignInPersonRow(name="", purpose="authentication", consent_ref=consent_ref, created_at=now,
                              created_by=actor, failures=0)
        try:
            sealed_text.put(s, row, {"name": name}, ctx.sealer)  # a second of the name fails on the blind index
        except IntegrityError:
            raise SignInConflict(name, "is enrolled for sign-in already (enrolled at the same moment)") from None
        s.add_all(SignInTemplateRow(person_id=row.id, profile=engine.profile, dim=int(vector.shape[0]),
                                    sealed=ctx.sealer.seal_vector(vector, _purpose(row.id, digest, engine.profile)),
                                    source_sha256=digest, quality=quality, created_at=now)
                  for digest, vector, quality in accepted)
        audit.append(s, actor=actor, action=AuditAction.SIGNIN_ENROL, subject=f"signin:{row.id}", details={
            "purpose": "authentication", "consent_ref": consent_ref, "profile": engine.profile,
            "photos_sha256": [d for d, _, _ in accepted],
            "refused": [{"photo": k + 1, "reason": o["reason"]} for k, o in enumerate(outcomes) if not o["accepted"]]})
        s.flush()
        person = _person(s, ctx, row)
    return SignInEnrolment(person, outcomes)


def remove(ctx: Context, name: str, *, actor: str) -> SignInPerson:
    """Delete ``name``'s sign-in enrolment: the person and every template, audited."""
    with ctx.sessions.begin() as s:
        row = _find(s, ctx, name, lock=True)
        person = _person(s, ctx, row)
        s.execute(delete(SignInTemplateRow).where(SignInTemplateRow.person_id == row.id))
        s.delete(row)
        audit.append(s, actor=actor, action=AuditAction.SIGNIN_REMOVE, subject=f"signin:{person.id}",
                     details={"templates_deleted": person.templates,
                              "captures_deleted": len(kept.listed(ctx, person.id))})
    kept.delete(ctx, person.id)  # after the commit: a removal that failed leaves them for the next try
    return person


def captures(ctx: Context, name: str) -> list[kept.KeptCapture]:
    """The captures kept of ``name``'s attempts (none unless the installation keeps them)."""
    with ctx.sessions() as s:
        person_id = _find(s, ctx, name).id
    return kept.listed(ctx, person_id)


def export_captures(ctx: Context, name: str, target: Path, *, actor: str) -> list[Path]:
    """Write ``name``'s kept captures, unsealed, into the folder ``target`` (made if missing), audited."""
    with ctx.sessions() as s:
        person_id = _find(s, ctx, name).id
    found = kept.listed(ctx, person_id)
    written = []
    for item in found:
        path = target / f"{item.at:%Y%m%dT%H%M%S}-{item.sha256[:16]}.capture"
        atomic_write(path, kept.opened(ctx, person_id, item.file))
        written.append(path)
    with ctx.sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.SIGNIN_CAPTURES_EXPORT, subject=f"signin:{person_id}",
                     details={"captures": [c.sha256 for c in found], "to": str(target)})
    return written


def list_people(ctx: Context) -> list[SignInPerson]:
    with ctx.sessions() as s:
        rows = s.scalars(select(SignInPersonRow).order_by(SignInPersonRow.id)).all()
        return [_person(s, ctx, r) for r in rows]


def check_target_fmr(value: float) -> float:
    low, high = TARGET_FMR_RANGE
    if not low <= value <= high:  # also refuses NaN
        raise BadInputError(f"target_fmr {value:g}", f"expected {low:g} to {high:g}")
    return float(value)


def check_challenge(value: str | None) -> str | None:
    if value is not None and value not in CHALLENGES:
        raise BadInputError(f"challenge {value[:20]!r}", f"expected one of {', '.join(CHALLENGES)}")
    return value


@dataclass(frozen=True)
class Challenge:
    """A way to turn the head, chosen by the server at random for one person's next attempt, and the token
    that carries it back sealed (the client can read the direction but cannot choose or change it)."""

    direction: str
    token: str
    expires_at: datetime

    def to_json(self) -> dict[str, Any]:
        return {"direction": self.direction, "token": self.token, "expires_at": self.expires_at.isoformat()}


def _challenge_purpose(ctx: Context, name: str) -> str:
    return f"signin-challenge:{sealed_text.name_index(ctx.sealer, name)}"


def issue_challenge(ctx: Context, name: str) -> Challenge:
    """A random direction for ``name``'s next clip, valid for ``CHALLENGE_S``. Nothing is looked up: whether
    the name is enrolled is not revealed here."""
    _check_name(name)
    direction = secrets.choice(CHALLENGES)
    expires = time.time() + CHALLENGE_S
    sealed = ctx.sealer.seal(json.dumps({"direction": direction, "expires": expires}).encode(),
                             _challenge_purpose(ctx, name))
    return Challenge(direction, base64.urlsafe_b64encode(sealed).decode().rstrip("="),
                     datetime.fromtimestamp(expires, UTC))


def open_challenge(ctx: Context, name: str, token: str) -> str:
    """The direction a token issued for ``name`` carries; ``BadInputError`` for a token that is damaged, made
    for someone else, or past its time."""
    try:
        sealed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        content = json.loads(ctx.sealer.open(sealed, _challenge_purpose(ctx, name)))
    except (ValueError, FacesearchError):
        raise BadInputError("challenge token", "not one issued for this person (damaged, or for someone "
                                               "else): ask for a new challenge") from None
    if float(content["expires"]) < time.time():
        raise BadInputError("challenge token", f"expired: a challenge is answered within {CHALLENGE_S:.0f} s; "
                                               "ask for a new one")
    direction = str(content["direction"])
    check_challenge(direction)
    return direction


def verify(ctx: Context, name: str, data: bytes, source: str, *, actor: str,
           target_fmr: float = DEFAULT_TARGET_FMR, challenge: str | None = None,
           challenge_token: str | None = None) -> SignInResult:
    """Verify a live capture (a photo, or a clip of 1-3 s) against ``name``: accepted or not, why, and each
    liveness layer. ``challenge``: the way the person was asked to turn their head ("left", "right": their own),
    for a clip; ``challenge_token``: the same, as issued by ``issue_challenge`` (the client cannot pick it).
    Locked out: ``SignInLocked``, audited, with nothing of the capture read."""
    target_fmr = check_target_fmr(target_fmr)
    challenge = check_challenge(challenge)
    if challenge_token is not None:
        if len(challenge_token) > 1000:
            raise BadInputError("challenge token", "longer than any issued")
        issued = open_challenge(ctx, name, challenge_token)
        if challenge is not None and challenge != issued:
            raise BadInputError(f"challenge {challenge}", f"the token issued asks for {issued}")
        challenge = issued
    engine = ctx.engine()
    found = in_force(ctx.sessions, engine.profile, engine.calibration)
    calibration = found.calibration
    if calibration is None:
        raise SignInUnavailable(engine.profile, "the profile is not calibrated: sign-in needs a known false match "
                                                "rate")
    try:
        threshold, _ = calibration.operating_threshold(target_fmr, subject="sign-in",
                                                       advice="choose a larger target FMR")
    except TargetBeyondCalibration as exc:
        raise BadInputError(f"target_fmr {target_fmr:g}", exc.reason) from None
    digest = hashlib.sha256(data).hexdigest()
    person_id, failures, templates = _begin_attempt(ctx, name, actor, digest)
    kept_as = kept.keep(ctx, person_id, data, digest) if ctx.settings.signin_keep_captures else None
    try:
        capture = read_capture(data, source, max_pixels=ctx.settings.max_upload_pixels)
        if capture.kind == "photo" and ctx.settings.signin_clips_only:
            raise BadInputError(source[:100], "a photo: this installation signs in from clips only (1-3 s, the head "
                                              "turning as asked)")
        embedding, liveness, frames = _examine(engine, capture, challenge, enforce_passive=ctx.settings.signin_passive
                                               == "refuse")
    except FacesearchError as exc:
        _end_attempt(ctx, person_id, actor, digest, accepted=False, details={"problem": str(exc)[:300],
                                                                             "capture_kept": kept_as})
        raise
    mean = l2_normalize(np.mean([ctx.sealer.open_vector(sealed, _purpose(person_id, source, engine.profile))
                                 for source, sealed in templates], axis=0, keepdims=True))[0]
    score = engine.similarity(embedding, mean) if embedding is not None else -1.0
    fmr, extrapolated = calibration.fmr(score)
    accepted = score >= threshold and liveness.passed
    result = SignInResult(name, accepted, score, threshold, target_fmr, fmr, extrapolated, liveness, capture.kind,
                          frames, 0 if accepted else failures, calibration.fnmr(threshold))
    _end_attempt(ctx, person_id, actor, digest, accepted=accepted, details={
        "score": round(score, 6), "threshold": round(threshold, 6), "target_fmr": target_fmr,
        "fmr": float(f"{fmr:.3g}"), "capture": capture.kind, "frames": frames, "challenge": challenge,
        "challenge_issued": challenge_token is not None, "calibration": found.label,
        "liveness": liveness.to_json(), "failures": result.failures, "capture_kept": kept_as})
    return result


def _begin_attempt(ctx: Context, name: str, actor: str, digest: str) -> tuple[int, int, list[tuple[str, bytes]]]:
    """Counts the attempt as a failure before anything is read (one statement, so attempts at once are counted
    one by one), locking the person out from ``MAX_FAILURES`` on; ``SignInLocked`` while locked out (the refusal
    audited). The person's id, failures so far (this one included) and sealed templates."""
    now = datetime.now(UTC)
    profile = ctx.engine().profile
    locked: SignInLocked | None = None
    with ctx.sessions.begin() as s:
        row = _find(s, ctx, name)
        result = s.execute(update(SignInPersonRow).where(
            SignInPersonRow.id == row.id,
            or_(SignInPersonRow.locked_until.is_(None), SignInPersonRow.locked_until <= now),
        ).values(failures=SignInPersonRow.failures + 1).execution_options(synchronize_session=False))
        counted = int(getattr(result, "rowcount", 0) or 0)
        s.refresh(row)
        person_id, failures = row.id, row.failures
        if not counted:
            until = _aware(row.locked_until) if row.locked_until is not None else now
            audit.append(s, actor=actor, action=AuditAction.SIGNIN_ATTEMPT, subject=f"signin:{row.id}", details={
                "accepted": False, "locked_until": until.isoformat(), "capture_sha256": digest})
            locked = SignInLocked(name[:100], f"locked after {row.failures} failed attempts; try again at "
                                              f"{until:%H:%M:%S} UTC",
                                  retry_after_s=max(int((until - now).total_seconds()) + 1, 1))
        else:
            if row.failures >= MAX_FAILURES:
                lock = min(LOCK_S * 2 ** (row.failures - MAX_FAILURES), LONGEST_LOCK_S)
                row.locked_until = now + timedelta(seconds=lock)
            templates = [(t.source_sha256, t.sealed) for t in s.scalars(select(SignInTemplateRow).where(
                SignInTemplateRow.person_id == row.id, SignInTemplateRow.profile == profile))]
    if locked is not None:  # raised once the refusal's audit entry is committed
        raise locked
    if not templates:
        raise SignInUnavailable(name[:100], f"enrolled under another model profile than {profile}: enrol again")
    return person_id, failures, templates


def _end_attempt(ctx: Context, person_id: int, actor: str, digest: str, *, accepted: bool,
                 details: dict[str, Any]) -> None:
    with ctx.sessions.begin() as s:
        if accepted:  # the count starts again, and a lockout this attempt began is lifted
            s.execute(update(SignInPersonRow).where(SignInPersonRow.id == person_id)
                      .values(failures=0, locked_until=None).execution_options(synchronize_session=False))
        audit.append(s, actor=actor, action=AuditAction.SIGNIN_ATTEMPT, subject=f"signin:{person_id}",
                     details={"accepted": accepted, "capture_sha256": digest, **details})


def _aware(t: datetime) -> datetime:
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def _examine(engine: Engine, capture: Capture, challenge: str | None, *, enforce_passive: bool = True
             ) -> tuple[NDArray[np.float32] | None, Liveness, int]:
    """The capture's face embedding (from its best frames), its liveness layers, and the frames looked at."""
    detected = engine.detect(capture.frames)
    largest = [int(np.argmax(f.face_size)) if len(f) else -1 for f in detected]
    quality = np.array([_usefulness(f, i) if i >= 0 else -1.0 for f, i in zip(detected, largest, strict=True)])
    best = int(np.argmax(quality)) if (quality >= 0).any() else None
    layers = [capture_layer(detected, best)]
    if capture.kind == "clip":
        shown = [k for k, i in enumerate(largest) if i >= 0]
        flatness = None if len(shown) < 2 else flat_residual(
            [np.asarray(cv2.cvtColor(capture.frames[k].pixels, cv2.COLOR_RGB2GRAY), np.uint8) for k in shown],
            [detected[k].boxes[largest[k]] for k in shown])
        layers.append(active_layer([detected[k].landmarks[largest[k]] for k in shown], challenge, flatness))
    else:
        layers.append(Layer("active", None, ["a photo cannot show a head turning: send a clip"]))
    if best is None:
        return None, Liveness([*layers, Layer("passive", None, ["no face to judge"], enforce_passive)]), len(
            capture.frames)
    chosen = [int(k) for k in np.argsort(-quality)[:MATCH_VIEWS] if quality[k] >= 0]
    boxes = [detected[k].boxes[largest[k]] for k in chosen]
    sizes = [float(detected[k].face_size[largest[k]]) for k in chosen]
    scores = engine.spoof_scores([capture.frames[k] for k in chosen], boxes)
    layers.append(passive_layer([float(v) for v in scores], sizes, enforced=enforce_passive))
    liveness = Liveness(layers)
    embedded = engine.embed_faces([capture.frames[k] for k in chosen],
                                  [detected[k][largest[k]] for k in chosen])
    mean = np.stack([e.embeddings[0] for e in embedded]).mean(axis=0, keepdims=True)
    return l2_normalize(mean)[0], liveness, len(capture.frames)


def _usefulness(faces: Faces, i: int) -> float:
    """How well a frame's face can be matched: the weight a track's view gets (``quality``)."""
    return float(usefulness(faces.face_size[i : i + 1], faces.frontal[i : i + 1])[0]) * sharp_weight(
        float(faces.sharpness[i]))
