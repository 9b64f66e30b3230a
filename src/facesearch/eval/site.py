"""A site calibration: the score-to-FMR curve measured on the deployer's own faces, overall and per group.

Every threshold facesearch ships comes from LFW (adult celebrities in press photos). On other faces the promised
false match rates do not hold, and they differ between groups (NISTIR 8280). A site calibration measures them on
faces like the deployment's: every impostor pair of the data (two different people; with no ids, every pair of
images), the score-to-FMR curve with an exponential tail past the data, the threshold for each target FMR with
its interval (bootstrap over people), the same within each group the deployer labelled, and the worst group's
threshold: the one at which every group meets the target. Where genuine pairs exist (person ids given), what
each threshold costs in false non-matches.

A target the data cannot support (fewer than ``RULE_OF_30`` impostor pairs would be errors at it) gets no
threshold: it is refused, with the number of impostor pairs it would need. Images that are near-identical (the
same photo twice, resized or recompressed) counted as two people would pass as impostor pairs of one face and
raise every FMR; they are found (a very high score, then the faces' pixels compared) and all but one left out,
and reported.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

from facesearch.calibration import Calibration, fit_fmr, genuine_quantiles
from facesearch.engine import Engine
from facesearch.errors import FacesearchError
from facesearch.eval.report import FMR_TARGETS, MIN_GROUP_PEOPLE
from facesearch.eval.site_data import SiteData, SiteImage
from facesearch.eval.verification import RULE_OF_30, Comparisons, compare_all, fmr, fnmr, resample_people, threshold_for
from facesearch.images import read_file

# Near-identical images: first a score no two different people reach in the shipped calibration (its FMR under
# this), then the two faces' pixels (a small grey thumbnail) nearly the same.
DUPLICATE_FMR = 1e-7
DUPLICATE_PIXELS = 0.95  # correlation of the two faces' 24 x 24 grey thumbnails
THUMB = 24
BOOTSTRAP_ROUNDS = 300


class SiteCalibrationError(FacesearchError):
    pass


@dataclass(frozen=True)
class TargetResult:
    """One target FMR in one population: its threshold, or why there is none."""

    target: float
    threshold: float | None
    needed_pairs: int  # impostor pairs the rule of 30 asks for at this target
    fmr: dict[str, Any] | None = None  # the observed rate at the threshold, interval and support
    fnmr: dict[str, Any] | None = None  # where genuine pairs exist

    @property
    def supported(self) -> bool:
        return self.threshold is not None

    def to_json(self) -> dict[str, Any]:
        return {"target": self.target, "threshold": self.threshold, "supported": self.supported,
                "needed_impostor_pairs": self.needed_pairs, "fmr": self.fmr, "fnmr": self.fnmr}


@dataclass(frozen=True)
class Curve:
    """One population's measurement: the FMR curve (as ``Calibration`` keeps it) and the targets."""

    images: int
    people: int
    impostor_pairs: int
    genuine_pairs: int
    fmr_scores: tuple[float, ...]
    fmr_values: tuple[float, ...]
    tail_intercept: float
    tail_slope: float
    genuine_quantiles: tuple[float, ...]
    targets: list[TargetResult]

    def to_json(self) -> dict[str, Any]:
        return {"images": self.images, "people": self.people, "impostor_pairs": self.impostor_pairs,
                "genuine_pairs": self.genuine_pairs, "fmr_scores": [round(x, 6) for x in self.fmr_scores],
                "fmr_values": [float(f"{x:.6g}") for x in self.fmr_values], "tail_intercept": self.tail_intercept,
                "tail_slope": self.tail_slope, "genuine_quantiles": [round(x, 6) for x in self.genuine_quantiles],
                "targets": [t.to_json() for t in self.targets]}


@dataclass(frozen=True)
class Group:
    attribute: str
    value: str
    images: int
    people: int
    curve: Curve | None  # None: too small to measure
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "value": self.value, "images": self.images, "people": self.people,
                "curve": None if self.curve is None else self.curve.to_json(), "note": self.note}


@dataclass(frozen=True)
class WorstGroup:
    """The threshold at which every measured group of an attribute meets the target, and whose it is."""

    attribute: str
    target: float
    threshold: float | None
    group: str | None
    unsupported: list[str]  # groups whose data cannot support the target (not in the maximum)

    def to_json(self) -> dict[str, Any]:
        return {"attribute": self.attribute, "target": self.target, "threshold": self.threshold, "group": self.group,
                "groups_unsupported": self.unsupported}


@dataclass
class SiteCalibration:
    profile: str
    models: tuple[str, ...]
    flip: tuple[bool, ...]
    source: str
    data_sha256: str
    overall: Curve
    groups: list[Group]
    worst: list[WorstGroup]
    duplicates: list[dict[str, str]]
    problems: list[str]
    ids_given: bool
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    def to_json(self) -> dict[str, Any]:
        return {"profile": self.profile, "models": list(self.models), "flip": list(self.flip), "source": self.source,
                "data_sha256": self.data_sha256, "created": self.created, "ids_given": self.ids_given,
                "overall": self.overall.to_json(), "groups": [g.to_json() for g in self.groups],
                "worst_group": [w.to_json() for w in self.worst], "duplicates": self.duplicates,
                "problems": self.problems}


@dataclass
class _Embedded:
    images: list[SiteImage]
    vectors: NDArray[np.float32]
    thumbs: NDArray[np.float32]  # zero-mean, unit-norm grey thumbnails of the faces
    digests: list[str]


def _thumb(chip: NDArray[np.uint8]) -> NDArray[np.float32]:
    grey = cv2.resize(cv2.cvtColor(chip, cv2.COLOR_RGB2GRAY), (THUMB, THUMB), interpolation=cv2.INTER_AREA)
    t = grey.astype(np.float32).ravel()
    t -= t.mean()
    return np.asarray(t / max(float(np.linalg.norm(t)), 1e-6), np.float32)


def _embed(engine: Engine, data: SiteData, problems: list[str], duplicates: list[dict[str, str]],
           progress: Callable[[int], None] | None) -> _Embedded:
    """The largest face of every readable image; exact copies (same bytes) left out."""
    seen: dict[str, SiteImage] = {}
    kept: list[tuple[SiteImage, bytes, str]] = []
    for image in data.images:
        try:
            raw = read_file(image.path, str(image.path))
        except FacesearchError as exc:
            problems.append(str(exc))
            continue
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen:
            duplicates.append({"kept": str(seen[digest].path), "left_out": str(image.path), "why": "the same file"})
            continue
        seen[digest] = image
        kept.append((image, raw, digest))
    images, vectors, thumbs, digests = [], [], [], []
    for (image, _, digest), result in zip(kept, engine.analyze_many([raw for _, raw, _ in kept], chips=True),
                                          strict=True):
        if progress is not None:
            progress(1)
        if result.faces is None:
            problems.append(f"{image.path}: {result.error}")
            continue
        if not len(result.faces):
            problems.append(f"{image.path}: no face found; left out")
            continue
        i = int(np.argmax(result.faces.face_size))
        images.append(image)
        vectors.append(result.faces.embeddings[i])
        thumbs.append(_thumb(result.faces.chips[i]))
        digests.append(digest)
    if len(images) < 2:
        raise SiteCalibrationError(data.source, f"{len(images)} images with a face: too few to calibrate")
    return _Embedded(images, np.stack(vectors).astype(np.float32), np.stack(thumbs), digests)


def _near_duplicates(embedded: _Embedded, person: NDArray[np.int64], floor: float,
                     duplicates: list[dict[str, str]], problems: list[str]) -> NDArray[np.bool_]:
    """Which images to keep: of each near-identical pair counted as two people (score from ``floor`` and pixels
    alike), the first. Near-identical photos of one person labelled as such stay: they are genuine pairs."""
    n = len(embedded.images)
    keep = np.ones(n, bool)
    alike = 0
    for start in range(0, n, 1024):
        sims = embedded.vectors[start : start + 1024] @ embedded.vectors.T
        rows, cols = np.nonzero(sims >= floor)
        for r, c in zip(rows + start, cols, strict=True):
            if c <= r or not keep[r] or not keep[c] or person[r] == person[c]:
                continue
            if float(embedded.thumbs[r] @ embedded.thumbs[c]) >= DUPLICATE_PIXELS:
                keep[c] = False
                duplicates.append({"kept": str(embedded.images[r].path), "left_out": str(embedded.images[c].path),
                                   "why": "near-identical faces"})
            else:
                alike += 1
    if alike:
        problems.append(f"{alike} pairs taken as two people score as the same person does (beyond FMR "
                        f"{DUPLICATE_FMR:g} in the shipped calibration): if some people appear twice, give person "
                        "ids, or one photo per person; otherwise every FMR here is too high")
    return keep


def _people(images: Sequence[SiteImage]) -> NDArray[np.int64]:
    _, numbered = np.unique([image.person for image in images], return_inverse=True)
    return np.asarray(numbered, np.int64)


def _curve(vectors: NDArray[np.float32], person: NDArray[np.int64], targets: Sequence[float], seed: int) -> Curve:
    """The FMR curve and every target's threshold (rule of 30), with intervals by bootstrap over people."""
    first = compare_all(vectors, person, keep_from=math.inf)
    if len(first.impostor) < 10:
        raise SiteCalibrationError("calibration", f"{len(first.impostor)} impostor pairs: too few to calibrate")
    thresholds = {t: threshold_for(first.impostor, t) for t in targets}
    usable = [thr for thr, ok in thresholds.values() if ok]
    keep_from = min(usable) if usable else math.inf
    c: Comparisons = compare_all(vectors, person, keep_from=keep_from) if usable else first
    draws = resample_people(c.people, BOOTSTRAP_ROUNDS, seed)
    grid, values, intercept, slope = fit_fmr(c.impostor)
    results = []
    for target in targets:
        thr, supported = thresholds[target]
        needed = math.ceil(RULE_OF_30 / target)
        if not supported:
            results.append(TargetResult(target, None, needed))
            continue
        results.append(TargetResult(target, float(thr), needed, fmr(c, thr, draws).to_json(),
                                    fnmr(c, thr, draws).to_json() if len(c.genuine) else None))
    return Curve(len(vectors), c.people, len(c.impostor), len(c.genuine), grid, values, intercept, slope,
                 genuine_quantiles(c.genuine.astype(np.float64)), results)


def _group_rows(images: Sequence[SiteImage], attribute: str) -> list[tuple[str, NDArray[np.int64]]]:
    """Each value of ``attribute`` among ``images``, in order, with the rows of the images labelled with it."""
    values = sorted({i.groups[attribute] for i in images if attribute in i.groups})
    return [(v, np.array([k for k, i in enumerate(images) if i.groups.get(attribute) == v], np.int64))
            for v in values]


def data_digest(images: Sequence[SiteImage], digests: Sequence[str]) -> str:
    """What the calibration was made from, as one hash: each image's bytes, person and groups."""
    lines = sorted(f"{d}\t{i.person if not i.person.startswith('image:') else ''}\t{sorted(i.groups.items())}"
                   for i, d in zip(images, digests, strict=True))
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def build_site_calibration(engine: Engine, data: SiteData, *, targets: Sequence[float] = FMR_TARGETS,
                           progress: Callable[[int], None] | None = None, seed: int = 0) -> SiteCalibration:
    """Measure ``data`` (see the module's docstring). Raises ``SiteCalibrationError`` when too little is left."""
    prepared = embed_site_faces(engine, data, progress=progress)
    images, vectors, person = prepared.images, prepared.vectors, prepared.person
    overall = _curve(vectors, person, targets, seed)

    groups: list[Group] = []
    worst: list[WorstGroup] = []
    for attribute in data.attributes:
        measured: list[Group] = []
        for value, rows in _group_rows(images, attribute):
            members = np.unique(person[rows])
            if len(members) < MIN_GROUP_PEOPLE:
                groups.append(Group(attribute, value, len(rows), len(members), None,
                                    f"too small to measure: {len(members)} people (at least {MIN_GROUP_PEOPLE})"))
                continue
            group = Group(attribute, value, len(rows), len(members),
                          _curve(vectors[rows], np.searchsorted(members, person[rows]), targets, seed))
            groups.append(group)
            measured.append(group)
        for k, target in enumerate(targets):
            supported = [(g.curve.targets[k].threshold, g.value) for g in measured
                         if g.curve is not None and g.curve.targets[k].threshold is not None]
            top = max(supported, default=(None, None))
            worst.append(WorstGroup(attribute, target, top[0], top[1],
                                    [g.value for g in measured if g.curve is not None and
                                     g.curve.targets[k].threshold is None]))
    return SiteCalibration(engine.profile, tuple(engine.model_names), tuple(engine.flips), data.source,
                           prepared.data_sha256, overall, groups, worst, prepared.duplicates, prepared.problems,
                           data.ids_given)


@dataclass(frozen=True)
class CheckRow:
    """One target on fresh data: the threshold in force for it, and the FMR observed there."""

    population: str  # "all", or "attribute=value"
    target: float
    threshold: float
    fmr: dict[str, Any] | None  # None: too few impostor pairs to say anything
    needed_pairs: int
    fnmr: dict[str, Any] | None = None  # what the threshold costs, where the data has genuine pairs

    @property
    def verdict(self) -> str:
        """holds (the target is inside or above the interval), exceeded (the whole interval is above it), or
        unresolved (fewer than RULE_OF_30 impostor pairs would be errors at the target)."""
        if self.fmr is None or self.fmr["trials"] < self.needed_pairs:
            return "unresolved"
        return "exceeded" if self.fmr["ci95"][0] > self.target else "holds"

    def to_json(self) -> dict[str, Any]:
        return {"population": self.population, "target": self.target, "threshold": self.threshold, "fmr": self.fmr,
                "needed_impostor_pairs": self.needed_pairs, "verdict": self.verdict, "fnmr": self.fnmr}


@dataclass
class SiteFaces:
    """A site's faces embedded once (copies left out): to measure a calibration on, or to check one or several
    calibrations against."""

    images: list[SiteImage]
    vectors: NDArray[np.float32]
    person: NDArray[np.int64]
    attributes: list[str]
    data_sha256: str
    problems: list[str]
    duplicates: list[dict[str, str]]  # what was left out as a copy or near-identical, and of which image


def embed_site_faces(engine: Engine, data: SiteData, *, progress: Callable[[int], None] | None = None) -> SiteFaces:
    """``data`` embedded, copies and near-identical images taken as two people left out: what a calibration is
    measured on, and what a check runs on."""
    problems: list[str] = list(data.problems)
    duplicates: list[dict[str, str]] = []
    embedded = _embed(engine, data, problems, duplicates, progress)
    floor = engine.calibration.threshold_for_fmr(DUPLICATE_FMR)[0] if engine.calibration is not None else 0.9
    keep = _near_duplicates(embedded, _people(embedded.images), floor, duplicates, problems)
    images = [i for i, k in zip(embedded.images, keep, strict=True) if k]
    digest = data_digest(images, [d for d, k in zip(embedded.digests, keep, strict=True) if k])
    return SiteFaces(images, embedded.vectors[keep], _people(images), data.attributes, digest, problems, duplicates)


def check_on_faces(fresh: SiteFaces, calibration: Calibration, *, targets: Sequence[float] = FMR_TARGETS,
                seed: int = 0) -> list[CheckRow]:
    """At ``calibration``'s threshold for each target, the FMR observed on ``fresh`` with its interval (and the
    FNMR it costs where there are genuine pairs), over all of it and in every group large enough (smaller
    groups are added to ``fresh.problems``)."""
    thresholds = {t: calibration.threshold_for_fmr(t)[0] for t in targets}
    populations = [("all", np.arange(len(fresh.images)))]
    for attribute in fresh.attributes:
        for value, rows in _group_rows(fresh.images, attribute):
            people = len(np.unique(fresh.person[rows]))
            if people >= MIN_GROUP_PEOPLE:
                populations.append((f"{attribute}={value}", rows))
            elif (note := f"{attribute}={value}: too small to check ({people} people, at least "
                           f"{MIN_GROUP_PEOPLE})") not in fresh.problems:
                fresh.problems.append(note)
    out = []
    for name, rows in populations:
        members = np.unique(fresh.person[rows])
        c = compare_all(fresh.vectors[rows], np.searchsorted(members, fresh.person[rows]),
                        keep_from=min(thresholds.values()))
        draws = resample_people(c.people, BOOTSTRAP_ROUNDS, seed)
        for target in targets:
            rate = fmr(c, thresholds[target], draws).to_json() if len(c.impostor) else None
            cost = fnmr(c, thresholds[target], draws).to_json() if len(c.genuine) else None
            out.append(CheckRow(name, target, thresholds[target], rate, math.ceil(RULE_OF_30 / target), cost))
    return out


def check_calibration(engine: Engine, data: SiteData, calibration: Calibration, *,
                      targets: Sequence[float] = FMR_TARGETS, progress: Callable[[int], None] | None = None,
                      seed: int = 0) -> tuple[list[CheckRow], str, list[str]]:
    """Whether ``calibration`` (the one in force) still holds on fresh ``data`` (``check_on_faces``). Returns the
    rows, the data's hash and the problems met."""
    fresh = embed_site_faces(engine, data, progress=progress)
    rows = check_on_faces(fresh, calibration, targets=targets, seed=seed)
    left_out = [f"{len(fresh.duplicates)} copies or near-identical images left out"] if fresh.duplicates else []
    return rows, fresh.data_sha256, fresh.problems + left_out
