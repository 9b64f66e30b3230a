"""``facesearch eval report``: from a data folder (one folder of images per person), a pair list and
optional group labels to ``report/index.html``, its PNGs and ``report.json``.

Bad input costs its part, not the report: an empty or unreadable pair list drops the 1:1 and
calibration sections, a bad group file drops the group section, unreadable images are left out; each
is said at the top of the report and in the returned problems.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from facesearch.engine import Engine
from facesearch.errors import FacesearchError
from facesearch.eval.groups import GroupFileError, GroupLabels, read_groups
from facesearch.eval.lfw import embed_lfw
from facesearch.eval.pairs import read_pairs
from facesearch.eval.report import EvaluationReport, Evidence, ReportSettings, build_report
from facesearch.eval.report_html import render

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


def data_images(root: Path) -> list[str]:
    """Every image under ``root/<person>/``, person by person, in name order."""
    if not root.is_dir():
        raise FacesearchError(str(root), "data folder not found")
    images = [f"{d.name}/{f.name}" for d in sorted(root.iterdir()) if d.is_dir()
              for f in sorted(d.iterdir()) if f.suffix.lower() in IMAGE_SUFFIXES]
    if not images:
        raise FacesearchError(str(root), "no images: expected one folder of images per person")
    return images


def embeddings(engine: Engine, root: Path, images: list[str], cache: Path | None,
               progress: Callable[[int], None] | None) -> tuple[NDArray[np.float32], dict[str, str]]:
    """Fused embeddings of every image (the central face), from ``cache`` when it matches."""
    key = hashlib.sha256(json.dumps([engine.profile, list(engine.model_names), list(engine.flips), images])
                         .encode()).hexdigest()
    if cache is not None and cache.exists():
        with np.load(cache, allow_pickle=False) as saved:
            if str(saved["key"]) == key:
                return saved["vectors"], json.loads(str(saved["unreadable"]))
    emb = embed_lfw(engine, root, images, progress=progress)
    vectors = engine.fuse(emb.per_model)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, key=np.array(key), vectors=vectors, unreadable=np.array(json.dumps(emb.unreadable)))
    return vectors, emb.unreadable


def run_report(engine: Engine, data: Path, pairs: Path | None, out: Path, *, groups: Path | None = None,
               settings: ReportSettings | None = None, cache: Path | None = None,
               progress: Callable[[int], None] | None = None,
               on_total: Callable[[int], None] | None = None,
               site: Path | None = None) -> tuple[EvaluationReport, Path]:
    settings = settings or ReportSettings()
    site_json = None
    if site is not None:  # read first: a bad file is said before any model work
        try:
            site_json = json.loads(site.read_text())
            if not isinstance(site_json, dict) or "overall" not in site_json:
                raise ValueError("not a site calibration (facesearch calibrate --out)")
        except (OSError, ValueError) as exc:
            raise FacesearchError(str(site), f"cannot be read as a site calibration ({exc})") from None
    images = data_images(data)
    problems: list[str] = []
    pair_images: list[str] = []
    folds: dict[str, int] = {}
    if pairs is not None:
        try:
            pair_list = read_pairs(pairs)
        except FacesearchError as exc:
            problems.append(f"pair list: {exc}; no 1:1 section")
            pair_list = []
        known = set(images)
        missing = sorted({x for p in pair_list for x in (p.a, p.b)} - known)
        if missing:
            problems.append(f"pair list: {len(missing)} images are not in {data} (e.g. {', '.join(missing[:3])}); "
                            "their pairs are left out")
        for p in pair_list:
            for image in (p.a, p.b):
                if image in known:
                    folds.setdefault(image, p.fold)
        pair_images = sorted(folds)
    else:  # no pair list: the 1:1 section from every pair among the images; no folds to hold out
        pair_images = list(images)
    if on_total is not None:
        on_total(len(images))
    vectors, unreadable = embeddings(engine, data, images, cache, progress)
    if unreadable:
        problems.append(f"{len(unreadable)} images could not be read and are left out (e.g. "
                        f"{', '.join(list(unreadable)[:3])})")
        keep = [i for i, image in enumerate(images) if image not in unreadable]
        images, vectors = [images[i] for i in keep], vectors[keep]
        pair_images = [i for i in pair_images if i not in unreadable]
    labels: GroupLabels | None = None
    if groups is not None:
        try:
            labels = read_groups(groups, images)
        except GroupFileError as exc:
            problems.append(f"group labels: {exc}; no group section")
    evidence = Evidence(
        dataset=f"{data.name} ({len(images):,} images, {len({i.split('/')[0] for i in images}):,} people)",
        profile=engine.profile, models=tuple(engine.model_names),
        protocol=(("1:1: every pair of the pair list's images (folds from the pair list)" if pairs is not None else
                   "1:1: every pair of the images (no pair list: no calibration folds)")
                  + "; 1:N: the first image of each person with two or more enrolled, the rest searched; "
                    "intervals by bootstrap over people"))
    report = build_report(evidence, vectors, images, pair_images, folds, engine.calibration, settings,
                          groups=labels, problems=problems, site=site_json)
    return report, render(report.to_json(), out)
