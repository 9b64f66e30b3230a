"""Presentation-attack checks for a sign-in capture, in layers, each reported with its reasons.

- **capture**: one face only, big and sharp enough to be judged (a second face in view is refused: whose
  sign-in would it be?).
- **active** (clips): the head must turn, as asked when a direction is given. A face has depth: as a head
  turns, the nose tip moves against the eyes and mouth, and its position in their frame changes. A photo
  or a screen moved, turned, tilted or brought closer moves every point of its face together (a flat object:
  nearly an affine map in the picture), so the nose keeps its place in that frame, and the check fails. A
  photo swung hard about an axis close to the camera departs from the affine map, and landmark estimates
  drift with a face's roll and size, so the face must also not move as a flat thing moves: points of texture
  tracked over the face (optical flow) all follow one homography when the face is a photo or a screen, and
  stray from it when it is a head (depth, and a face that talks and blinks). ``benchmarks/signin.py``
  measures how often attacks made in code pass.
- **passive**: a model that tells a face from a print or a screen in one frame (``models.antispoofing``), run
  on the frames the face is matched from; the median of their scores must be under the model's threshold.
  It reads any small or soft face as a spoof, so faces under its ``MIN_FACE_PX`` are not judged: the layer
  then says so and does not refuse (the other layers still run). Its verdict refuses only where the
  installation says so (``signin_passive``): measured on public photos, it is too weak to by default.

What these do not stop: a mask, a deepfake, or a video injected into the capture path (a virtual camera) of a
real person turning their head. The README says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesearch.faces import Faces

# The capture's limits (the best frame's): faces smaller or more blurred than this cannot be told apart reliably
# at sign-in's operating point; a webcam at arm's length gives faces of 150-300 px.
MIN_FACE_PX = 80.0
MIN_SHARPNESS = 50.0  # variance of the Laplacian on the normalised chip (a 3-px blur gives about 50)
SECOND_FACE_SHARE = 0.5  # another face at least this big beside the largest is a second person in view
MIN_FACE_FRAMES = 0.6  # of a clip's frames, at least this share show the face
# The active check: how far the nose must move in the frame of the eyes and mouth, in eye-to-eye distances.
# About 0.6 sin(yaw): a turn of 15 degrees moves it ~0.15, landmark noise on a 100 px face ~0.02.
MIN_TURN = 0.10
SMOOTHING = 3  # frames in the running median that takes landmark jitter out before the turn is measured
# How far (a share of the face's size) the points tracked over a face may stray from the one homography that a
# flat face follows, and the face still count as flat: photos moved and swung in front of a camera stray up to
# ~0.09 (tracking noise and compression), a real head talking in a car 0.14-0.37 over 2 s windows.
FLAT_RESIDUAL = 0.12
MIN_TRACKED = 12  # points of texture that must survive tracking for the test to say anything


@dataclass(frozen=True)
class Layer:
    name: str  # capture, active, passive
    passed: bool | None  # None: not run (a photo has no motion; a face too small for the model)
    reasons: list[str] = field(default_factory=list)
    enforced: bool = True  # False: reported only (the installation's choice), a failure does not refuse

    def to_json(self) -> dict[str, Any]:
        return {"layer": self.name, "passed": self.passed, "reasons": self.reasons, "enforced": self.enforced}


@dataclass(frozen=True)
class Liveness:
    layers: list[Layer]

    @property
    def passed(self) -> bool:
        """No enforced layer that ran failed (a layer that could not run, or one only reported, does not refuse)."""
        return all(layer.passed is not False for layer in self.layers if layer.enforced)

    @property
    def reasons(self) -> list[str]:
        return [f"{layer.name}: {reason}" for layer in self.layers if layer.passed is False and layer.enforced
                for reason in layer.reasons]

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "layers": [layer.to_json() for layer in self.layers]}


def capture_layer(faces_per_frame: list[Faces], best: int | None) -> Layer:
    """One face only, in enough of the frames, and the best view big and sharp enough (``best``: its frame)."""
    reasons = []
    seen = [f for f in faces_per_frame if len(f)]
    if not seen or best is None:
        return Layer("capture", False, ["no face found"])
    crowded = [f for f in seen if len(f) > 1
               and np.sort(f.face_size)[-2] >= SECOND_FACE_SHARE * float(f.face_size.max())]
    if crowded:
        reasons.append(f"more than one face in view ({max(len(f) for f in crowded)})")
    if len(seen) < MIN_FACE_FRAMES * len(faces_per_frame):
        reasons.append(f"the face is in {len(seen)} of {len(faces_per_frame)} frames")
    faces = faces_per_frame[best]
    i = int(np.argmax(faces.face_size))
    if float(faces.face_size[i]) < MIN_FACE_PX:
        reasons.append(f"face too small: {float(faces.face_size[i]):.0f} px, the minimum is {MIN_FACE_PX:.0f} px")
    if float(faces.sharpness[i]) < MIN_SHARPNESS:
        reasons.append(f"face too blurred: sharpness {float(faces.sharpness[i]):.0f}, the minimum is "
                       f"{MIN_SHARPNESS:.0f}")
    return Layer("capture", not reasons, reasons)


def nose_in_face_frame(landmarks: NDArray[np.float32]) -> NDArray[np.float64]:
    """The nose tip's coordinates ``(across, down)`` in the affine frame of the right eye, the left eye and the
    mouth's middle: unchanged by any affine map of the picture (a flat photo moved, turned or tilted), changed
    by a turn of a real head. ``landmarks``: ``(n, 5, 2)``, RetinaFace/YuNet order."""
    lm = landmarks.astype(np.float64)
    eye_r, eye_l, nose = lm[:, 0], lm[:, 1], lm[:, 2]
    mouth = (lm[:, 3] + lm[:, 4]) / 2
    basis = np.stack([eye_l - eye_r, mouth - eye_r], axis=2)  # (n, 2, 2): columns are the frame's axes
    det = np.linalg.det(basis)
    safe = np.where((np.abs(det) < 1e-9)[:, None, None], np.eye(2)[None], basis)
    return np.asarray(np.linalg.solve(safe, (nose - eye_r)[:, :, None])[:, :, 0], np.float64)


def flat_residual(greys: list[NDArray[np.uint8]], boxes: list[NDArray[np.float32]]) -> float | None:
    """How far points of texture tracked over the face, from the first frame through the others, stray from
    the homography that best carries their first positions to their current ones: the largest over the frames
    of the upper quartile of the misses, as a share of the face's size. About 0 for a flat face (a photo, a
    screen); None when too few points can be tracked to say."""
    import cv2

    x0, y0, x1, y1 = (round(float(v)) for v in boxes[0])
    size = float(np.sqrt(max(x1 - x0, 1) * max(y1 - y0, 1)))
    mask = np.zeros_like(greys[0])
    mask[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = 255
    points = cv2.goodFeaturesToTrack(greys[0], 200, 0.01, max(3, int(size / 30)), mask=mask)
    if points is None or len(points) < MIN_TRACKED:
        return None
    start, current = points.astype(np.float32), points.astype(np.float32)
    alive = np.ones(len(points), bool)
    worst: float | None = None
    for k in range(1, len(greys)):
        moved, status, _ = cv2.calcOpticalFlowPyrLK(greys[k - 1], greys[k], current, np.empty_like(current),
                                                    winSize=(21, 21), maxLevel=3)
        alive &= np.asarray(status)[:, 0] == 1
        current = np.asarray(moved, np.float32)
        if alive.sum() < MIN_TRACKED:
            break
        homography, _ = cv2.findHomography(start[alive], current[alive], cv2.RANSAC, 0.01 * size)
        if homography is None:
            continue
        predicted = cv2.perspectiveTransform(start[alive], homography)
        miss = np.linalg.norm(predicted - current[alive], axis=2)[:, 0]
        bx0, by0, bx1, by1 = (float(v) for v in boxes[k])
        here = float(np.quantile(miss, 0.75)) / max(float(np.sqrt(max(bx1 - bx0, 1) * max(by1 - by0, 1))), 1.0)
        worst = here if worst is None else max(worst, here)
    return worst


def active_layer(landmarks: list[NDArray[np.float32]], challenge: str | None,
                 flatness: float | None = None) -> Layer:
    """Whether the head turned (towards ``challenge``, "left" or "right", the person's own, when given) over the
    clip's frames, and did not move as a flat picture does (``flatness``: ``flat_residual``, when measured);
    ``landmarks``: the face's five points in each frame that shows it, in order."""
    if len(landmarks) < SMOOTHING + 2:
        return Layer("active", False, [f"the face is in only {len(landmarks)} frames: too few to see it turn"])
    if flatness is not None and flatness < FLAT_RESIDUAL:
        return Layer("active", False, [f"the face moved as a flat picture does: points tracked over it stray "
                                       f"{flatness:.3f} of its size from one homography, {FLAT_RESIDUAL:.2f} "
                                       "needed (a photo or a screen)"])
    across = nose_in_face_frame(np.stack(landmarks))[:, 0]
    smooth = np.array([np.median(across[i : i + SMOOTHING]) for i in range(len(across) - SMOOTHING + 1)])
    moved = smooth - smooth[0]
    # Their own left: towards their left eye, which raises ``across`` (in a picture that is not mirrored).
    reach = {"left": float(moved.max()), "right": float(-moved.min())}
    turn = max(reach.values()) if challenge is None else reach[challenge]
    if turn >= MIN_TURN:
        return Layer("active", True, [])
    if challenge is not None and max(reach.values()) >= MIN_TURN:
        other = "right" if challenge == "left" else "left"
        return Layer("active", False, [f"the head turned {other}, and {challenge} was asked"])
    return Layer("active", False, [f"the head did not turn: the nose moved {max(reach.values()):.2f} of the "
                                   f"distance between the eyes against the face, {MIN_TURN:.2f} needed (a photo "
                                   f"or screen moved as a whole moves it by none)"])


def passive_layer(scores: list[float], face_px: list[float], *, enforced: bool = True) -> Layer:
    """The print-and-replay model's verdict on the frames the face is matched from (``scores``, with each
    frame's face size): the median score of the faces big enough to judge must be under the threshold.
    ``enforced``: False where the installation has the verdict reported only."""
    from facesearch.models.antispoofing import MIN_FACE_PX, SPOOF_THRESHOLD

    judged = [s for s, px in zip(scores, face_px, strict=True) if px >= MIN_FACE_PX]
    if not judged:
        largest = max(face_px, default=0.0)
        return Layer("passive", None, [f"not judged: the face is {largest:.0f} px, the print-and-replay model "
                                       f"needs {MIN_FACE_PX:.0f} px (come closer to the camera)"], enforced)
    score = float(np.median(judged))
    if score < SPOOF_THRESHOLD:
        return Layer("passive", True, [], enforced)
    return Layer("passive", False, [f"looks like a print or a screen: score {score:.2f}, under {SPOOF_THRESHOLD:.2f} "
                                    "needed" + ("" if enforced else " (reported only, by the installation's choice)")],
                 enforced)
