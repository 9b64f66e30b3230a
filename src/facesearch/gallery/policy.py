"""What an enrolment photo must be: one clear, large, near-frontal face. Refusals say why."""

from __future__ import annotations

from dataclasses import dataclass

from facesearch.errors import FacesearchError
from facesearch.faces import Faces


class EnrolmentRefused(FacesearchError):
    """A photo is not fit to enrol; the reason names the measure and the limit."""


@dataclass(frozen=True)
class EnrolmentPolicy:
    """Limits for enrolment photos. A template from a poor photo raises false matches for everyone."""

    min_face_size: float = 80.0  # pixels (geometric mean of the box's sides)
    min_sharpness: float = 80.0  # variance of the Laplacian on the normalised chip (a 3-px blur: ~50)
    min_frontal: float = 0.45
    min_score: float = 0.8


def choose_face(faces: Faces, policy: EnrolmentPolicy, face: int | None = None) -> int:
    """The face to enrol from a photo, or ``EnrolmentRefused`` with the reason.

    A photo with several faces needs ``face`` (an index into ``faces``, largest-first order is the
    caller's to show); guessing which person is meant is not the system's call.
    """
    if len(faces) == 0:
        raise EnrolmentRefused(faces.source, "no face found")
    if face is None:
        if len(faces) > 1:
            raise EnrolmentRefused(faces.source, f"{len(faces)} faces in the photo; choose one (--face N)")
        face = 0
    if not 0 <= face < len(faces):
        raise EnrolmentRefused(faces.source, f"face {face} does not exist (the photo has {len(faces)})")
    checks = [
        (float(faces.face_size[face]), policy.min_face_size, "face too small: {v:.0f} px, the minimum is {m:.0f} px"),
        (float(faces.sharpness[face]), policy.min_sharpness,
         "face too blurred: sharpness {v:.0f}, the minimum is {m:.0f}"),
        (float(faces.frontal[face]), policy.min_frontal, "face too far from frontal: {v:.2f}, the minimum is {m:.2f}"),
        (float(faces.scores[face]), policy.min_score, "face detected with low confidence: {v:.2f} < {m:.2f}"),
    ]
    for value, minimum, message in checks:
        if value < minimum:
            raise EnrolmentRefused(faces.source, message.format(v=value, m=minimum))
    return face
