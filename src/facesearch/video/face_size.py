"""The smallest face a video search looks for: one rule, whichever interface asks (CLI, API, cluster).

Faces are measured as the detector's box (the geometric mean of its sides) in the footage's own pixels. Below
about 24 px a face holds too little for the recognizers to tell people apart reliably, and finding it costs
native-resolution searching; the limits keep a typo from asking for a search that cannot finish.
"""

from __future__ import annotations

MIN_FACE_DEFAULT = 24.0
MIN_FACE_RANGE = (8.0, 1000.0)
