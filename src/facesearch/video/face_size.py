"""The smallest face a video search looks for: one rule, whichever interface asks (CLI, API, cluster).

Faces are measured as the detector's box (the geometric mean of its sides) in the footage's own pixels. Below
about 24 px a face holds too little for the recognizers to tell people apart reliably, and finding it costs
native-resolution searching; the limits keep a typo from asking for a search that cannot finish.
"""

from __future__ import annotations

from facesearch.errors import BadInputError

MIN_FACE_DEFAULT = 24.0
MIN_FACE_RANGE = (8.0, 1000.0)


def check_min_face(value: float) -> float:
    """``value`` if it is a smallest face size that can be searched for; ``BadInputError`` otherwise."""
    if not MIN_FACE_RANGE[0] <= value <= MIN_FACE_RANGE[1]:  # also refuses NaN
        raise BadInputError(f"min_face {value:g}", f"expected {MIN_FACE_RANGE[0]:g} to {MIN_FACE_RANGE[1]:g} pixels")
    return float(value)
