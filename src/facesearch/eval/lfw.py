"""LFW View 2 evaluation: 10 folds, thresholds chosen on the other nine, and the calibration it yields.

One run embeds every image of the pairs file once with each recognizer of the profile, then scores
each recognizer alone and, for a fused profile, the fusion. When the detector finds no face in an
image (a handful of LFW's 13,233), the face at the centre of the deep-funneled image is used: the
median landmarks of all the faces that *were* found, which is where deep funneling puts faces; the
count of such images is reported.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesearch.calibration import Calibration, ScoreStats, fit_fmr, genuine_quantiles
from facesearch.engine import Engine
from facesearch.errors import FacesearchError
from facesearch.eval.metrics import FoldResult, Roc, best_threshold, fuse_scores, kfold_accuracy, roc
from facesearch.eval.pairs import Pair, read_pairs
from facesearch.faces import Faces
from facesearch.images import LoadedImage
from facesearch.models.registry import profile_flips

log = logging.getLogger(__name__)

Progress = Callable[[int], None]


@dataclass(frozen=True)
class ModelScore:
    """One recognizer (or the fusion) on the protocol."""

    name: str
    folds: FoldResult
    roc: Roc

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "accuracy_mean": round(self.folds.mean, 5),
            "accuracy_std": round(self.folds.std, 5),
            "fold_accuracies": [round(float(a), 5) for a in self.folds.accuracies],
            "fold_thresholds": [round(float(t), 5) for t in self.folds.thresholds],
            "roc_auc": round(self.roc.auc(), 6),
            "tar_at_far_1e-2": round(self.roc.tar_at(1e-2), 5),
            "tar_at_far_1e-3": round(self.roc.tar_at(1e-3), 5),
        }


@dataclass
class LfwEmbeddings:
    """Per-model unit embeddings of the protocol's images, and how each face was found."""

    images: list[str]
    per_model: list[NDArray[np.float32]]
    undetected: list[str] = field(default_factory=list)
    unreadable: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LfwReport:
    profile: str
    models: tuple[str, ...]
    mirror_pass: tuple[bool, ...]
    scores: list[ModelScore]
    pairs: int
    impostor_pairs: int
    images: int
    undetected: list[str]
    unreadable: dict[str, str]
    skipped_pairs: int
    created: str

    @property
    def main(self) -> ModelScore:
        return self.scores[-1]

    def to_json(self) -> dict[str, Any]:
        return {
            "dataset": "LFW (deep-funneled), View 2, 10 folds",
            "profile": self.profile,
            "models": list(self.models),
            "mirror_pass": dict(zip(self.models, self.mirror_pass, strict=True)),
            "created": self.created,
            "pairs": self.pairs,
            "skipped_pairs": self.skipped_pairs,
            "images": self.images,
            "no_face_detected": len(self.undetected),
            "no_face_detected_images": self.undetected,
            "no_face_detected_handling": "centre of the deep-funneled image (median landmarks of detected faces)",
            "unreadable_images": self.unreadable,
            "results": [s.summary() for s in self.scores],
        }


def _central_face(faces: Faces) -> int:
    """LFW centres the labelled person; pick the detected face closest to the centre, larger first."""
    h, w = faces.image_size
    centres = (faces.boxes[:, :2] + faces.boxes[:, 2:]) / 2
    dist = np.hypot(centres[:, 0] - w / 2, centres[:, 1] - h / 2) / max(h, w)
    size = faces.face_size / max(faces.face_size.max(), 1.0)
    return int(np.argmin(dist - 0.25 * size))


def embed_lfw(
    engine: Engine, root: Path, images: list[str], batch_size: int = 64, progress: Progress | None = None
) -> LfwEmbeddings:
    """Embed one face per image (the central one) with every recognizer of the engine's profile."""
    dims = [r.spec.embedding_size for r in engine.recognizers]
    per_model = [np.zeros((len(images), d), np.float32) for d in dims]
    undetected: list[tuple[int, LoadedImage]] = []
    unreadable: dict[str, str] = {}
    found_landmarks: list[NDArray[np.float32]] = []

    def load(rel: str) -> LoadedImage | str:
        try:
            return engine.load(root / rel)
        except FacesearchError as exc:
            return str(exc)

    def embed_into(rows: list[int], loaded: list[LoadedImage], faces: list[Faces]) -> None:
        vectors, _ = engine.embed_per_model(loaded, faces)
        for m, v in enumerate(vectors):
            per_model[m][rows] = v

    with ThreadPoolExecutor(max_workers=2, thread_name_prefix="decode") as pool:
        for start in range(0, len(images), batch_size):
            rows = list(range(start, min(start + batch_size, len(images))))
            decoded = list(pool.map(load, [images[i] for i in rows]))
            ok = [(i, d) for i, d in zip(rows, decoded, strict=True) if isinstance(d, LoadedImage)]
            for i, d in zip(rows, decoded, strict=True):
                if isinstance(d, str):
                    unreadable[images[i]] = d
            detected = engine.detect([d for _, d in ok])
            keep_rows, keep_images, keep_faces = [], [], []
            for (i, d), faces in zip(ok, detected, strict=True):
                if len(faces) == 0:
                    undetected.append((i, d))
                    continue
                face = faces[_central_face(faces)]
                found_landmarks.append(face.landmarks[0])
                keep_rows.append(i)
                keep_images.append(d)
                keep_faces.append(face)
            if keep_rows:
                embed_into(keep_rows, keep_images, keep_faces)
            if progress is not None:
                progress(len(rows))
    if undetected:
        if not found_landmarks:
            raise FacesearchError(str(root), "no face was detected in any image")
        centre = np.median(np.stack(found_landmarks), axis=0).astype(np.float32)
        fallback = []
        for _, d in undetected:
            h, w = d.size
            box = np.array([[w * 0.3, h * 0.25, w * 0.7, h * 0.8]], np.float32)
            fallback.append(
                Faces(box, np.zeros(1, np.float32), centre[None], np.zeros(1, np.float32),
                      np.zeros(1, np.float32), np.zeros(1, np.float32), image_size=d.size, source=d.source)
            )
        embed_into([i for i, _ in undetected], [d for _, d in undetected], fallback)
        log.info("%d images without a detected face: used the centre of the image", len(undetected))
    return LfwEmbeddings(images, per_model, [images[i] for i, _ in undetected], unreadable)


def pair_scores(emb: LfwEmbeddings, pairs: list[Pair]) -> tuple[list[NDArray[np.float64]], NDArray[np.bool_]]:
    """Per-model cosine of every pair whose two images were read; and which pairs those are."""
    index = {p: i for i, p in enumerate(emb.images)}
    usable = np.array([p.a not in emb.unreadable and p.b not in emb.unreadable for p in pairs])
    a = np.array([index[p.a] for p in pairs])
    b = np.array([index[p.b] for p in pairs])
    scores = [np.einsum("ij,ij->i", e[a].astype(np.float64), e[b].astype(np.float64)) for e in emb.per_model]
    return scores, usable


def evaluate(
    engine: Engine, root: Path, pairs_path: Path, progress: Progress | None = None, batch_size: int = 64
) -> tuple[LfwReport, LfwEmbeddings, list[Pair]]:
    pairs = read_pairs(pairs_path)
    if not root.is_dir():
        raise FacesearchError(str(root), "LFW folder not found")
    images = sorted({p.a for p in pairs} | {p.b for p in pairs})
    emb = embed_lfw(engine, root, images, batch_size=batch_size, progress=progress)
    return score(engine, emb, pairs), emb, pairs


def score(engine: Engine, emb: LfwEmbeddings, pairs: list[Pair]) -> LfwReport:
    per_model, usable = pair_scores(emb, pairs)
    same = np.array([p.same for p in pairs])[usable]
    folds = np.array([p.fold for p in pairs])[usable]
    per_model = [s[usable] for s in per_model]
    results: list[ModelScore] = []
    names = list(engine.model_names)
    for name, s in zip(names, per_model, strict=True):
        fr = kfold_accuracy([s], same, folds)
        results.append(ModelScore(name, fr, roc(fr.out_of_fold_scores, same)))
    if len(names) > 1:
        fr = kfold_accuracy(per_model, same, folds)
        results.append(ModelScore(f"fused ({' + '.join(names)})", fr, roc(fr.out_of_fold_scores, same)))
    return LfwReport(
        profile=engine.profile,
        models=tuple(names),
        mirror_pass=engine.flips,
        scores=results,
        pairs=len(pairs),
        impostor_pairs=int((~same).sum()),
        images=len(emb.images),
        undetected=emb.undetected,
        unreadable=emb.unreadable,
        skipped_pairs=int((~usable).sum()),
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )


def _impostor_scores_all(
    emb: LfwEmbeddings, weights: NDArray[np.float64], model_idx: list[int], block: int = 2048
) -> NDArray[np.float32]:
    """Fused cosines of every pair of readable images of different people (tens of millions): the
    impostor distribution behind the FMR table, far deeper than the 3,000 impostor pairs of View 2."""
    people = np.array([p.split("/")[0] for p in emb.images])
    ok = np.array([p not in emb.unreadable for p in emb.images])
    vecs = np.hstack([emb.per_model[m] * np.float32(np.sqrt(w)) for m, w in zip(model_idx, weights, strict=True)])
    vecs, people = vecs[ok], people[ok]
    out = []
    for s in range(0, len(vecs), block):
        sims = vecs[s : s + block] @ vecs.T
        rows = np.arange(s, min(s + block, len(vecs)))
        upper = np.arange(len(vecs))[None, :] > rows[:, None]
        different = people[s : s + block][:, None] != people[None, :]
        out.append(sims[upper & different])
    return np.concatenate(out)


def calibrations(engine: Engine, emb: LfwEmbeddings, pairs: list[Pair]) -> list[Calibration]:
    """A calibration for every profile made of this engine's recognizers (the fusion and each alone)."""
    per_model, usable = pair_scores(emb, pairs)
    same = np.array([p.same for p in pairs])[usable]
    per_model = [s[usable] for s in per_model]
    names = list(engine.model_names)
    out = []
    for profile, models in engine.store.profiles().items():
        if not models or not set(models) <= set(names):
            continue
        idx = [names.index(m) for m in models]
        flips = profile_flips(profile, models, engine.settings.flip)
        if flips != tuple(engine.flips[i] for i in idx):
            continue  # that profile runs its recognizers differently: calibrate it with its own run
        stats = {
            names[i]: ScoreStats(float(per_model[i][~same].mean()), float(per_model[i][~same].std())) for i in idx
        }
        fused = fuse_scores([per_model[i] for i in idx], training=~same)
        weights = np.array([1 / stats[names[i]].std for i in idx])
        weights /= weights.sum()
        impostors = _impostor_scores_all(emb, weights, idx)
        grid, fmr, intercept, slope = fit_fmr(impostors)
        out.append(
            Calibration(
                profile=profile,
                models=tuple(models),
                znorm=stats,
                threshold=best_threshold(fused, same),
                fmr_scores=grid,
                fmr_values=fmr,
                tail_intercept=intercept,
                tail_slope=slope,
                impostor_comparisons=len(impostors),
                flip=flips,
                genuine_quantiles=genuine_quantiles(fused[same]),
                genuine_pairs=int(same.sum()),
                dataset="LFW View 2 (all 10 folds); FMR over all different-person image pairs",
                created=datetime.now(UTC).isoformat(timespec="seconds"),
            )
        )
    return out


def plot_curves(report: LfwReport, out_dir: Path) -> list[Path]:
    """``roc.png`` (TAR against FAR) and ``det.png`` (FNMR against FMR, log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for kind in ("roc", "det"):
        fig, ax = plt.subplots(figsize=(6.4, 4.8), dpi=110)
        for s in report.scores:
            far, tar = s.roc.far, s.roc.tar
            label = f"{s.name}: {100 * s.folds.mean:.2f}%"
            if kind == "roc":
                ax.plot(np.maximum(far, 1e-5), tar, label=label)
            else:
                ax.plot(np.maximum(far, 1e-5), np.maximum(1 - tar, 1e-4), label=label)
        ax.set_xscale("log")
        if kind == "roc":
            ax.set(xlabel="false accept rate (FAR)", ylabel="true accept rate (TAR)", ylim=(0.8, 1.001))
        else:
            ax.set_yscale("log")
            ax.set(xlabel="false match rate (FMR)", ylabel="false non-match rate (FNMR)")
        # Below one impostor pair in the protocol, the curve says nothing.
        ax.set_xlim(max(1e-4, 1.0 / max(report.impostor_pairs, 1)), 1)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(loc="lower right" if kind == "roc" else "upper right", fontsize=8)
        ax.set_title(f"LFW View 2, {report.pairs} pairs, profile '{report.profile}'", fontsize=10)
        fig.tight_layout()
        path = out_dir / f"{kind}.png"
        fig.savefig(path)
        plt.close(fig)
        paths.append(path)
    return paths
