"""1:N identification on LFW, NIST-style (FNIR at fixed FPIR), for the fused default profile and dlib alone.

Protocol: the gallery holds one image of each person with two or more images (their `_0001`; 1,680
people); mated probes are those people's other images (7,484); non-mated probes are the images of the
people with a single image (4,069), who are never enrolled. Every image is embedded once (the central
face, as in the LFW verification benchmark) and searched exhaustively against the gallery by inner
product. FNIR counts a mated search as a miss unless its mate is the top candidate (L = 1) at or above
the threshold; the threshold is set on the non-mated searches' top-1 scores for each target FPIR.

With 4,069 non-mated searches the smallest measurable FPIR is 1/4,069 ≈ 2.5e-4, and FPIR 1e-3 rests on
4 non-mated false positives: its threshold, and so its FNIR, is indicative only (flagged in the table).

Embeddings are cached in benchmarks/.cache (about 6 minutes on 2 cores the first time; --fresh redoes them).

    python benchmarks/identify_lfw.py [--out /tmp/identify] [--no-record] [--fresh]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import LFW, ROOT, markdown_table, record
from facesearch.eval.identification import (
    RULE_OF_30,
    IdentificationResult,
    OperatingPoint,
    identification_result,
    search_topk,
    split_by_identity,
)

CACHE = ROOT / "benchmarks" / ".cache"
FPIRS = (1e-2, 1e-3)
# LFW people filed under two spellings of one name, the single-image spelling first: each would be a
# non-mated probe that is in fact enrolled. The protocol keeps LFW's labels; the "aliases merged" rows
# show how much of the low-FPIR end is these label errors (the top non-mated scores are listed too).
ALIASES = {
    "Yingfan_Wang": "Wang_Yingfan",
    "Sung_Hong_Choi": "Choi_Sung-hong",
    "Hasan_Wirayuda": "Hassan_Wirajuda",
    "Wang_Nan": "Nan_Wang",
    "Mireya_Elisa_Moscoso_Rodriguez": "Mireya_Moscoso",
}


def lfw_images(root: Path) -> list[str]:
    """Every image, person by person, each person's images in number order (so `_0001` comes first)."""
    images = [f"{d.name}/{f.name}" for d in sorted(root.iterdir()) if d.is_dir() for f in sorted(d.glob("*.jpg"))]
    if not images:
        raise SystemExit(f"no LFW images under {root}")
    return images


def embed(profile: str, images: list[str], fresh: bool) -> tuple[Any, dict[str, Any]]:
    """The engine and its per-model embeddings of every image (cached by profile, models and image list)."""
    from tqdm import tqdm

    from facesearch import Engine
    from facesearch.eval.lfw import LfwEmbeddings, embed_lfw

    engine = Engine(profile)
    key = {"profile": profile, "models": list(engine.model_names), "flips": list(engine.flips),
           "images": len(images), "first": images[0], "last": images[-1]}
    cache = CACHE / f"identify_lfw_{profile}.npz"
    if not fresh and cache.exists():
        with np.load(cache, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["key"] == key:
                per_model = [data[f"model{i}"] for i in range(len(engine.model_names))]
                emb = LfwEmbeddings(images, per_model, meta["undetected"], meta["unreadable"])
                return engine, {"emb": emb, "seconds": meta["seconds"], "cached": True}
    engine.recognizers  # noqa: B018 - load the models before timing
    start = time.perf_counter()
    with tqdm(total=len(images), unit="img", desc=f"embedding ({profile})") as bar:
        emb = embed_lfw(engine, LFW, images, progress=bar.update)
    seconds = time.perf_counter() - start
    CACHE.mkdir(parents=True, exist_ok=True)
    meta = {"key": key, "undetected": emb.undetected, "unreadable": emb.unreadable, "seconds": seconds}
    arrays = {f"model{i}": e for i, e in enumerate(emb.per_model)}
    np.savez(cache, meta=np.array(json.dumps(meta)), **arrays)  # type: ignore[arg-type]
    return engine, {"emb": emb, "seconds": seconds, "cached": False}


def evaluate(
    name: str, vectors: NDArray[np.float32], keep: NDArray[np.int64], labels: list[str]
) -> IdentificationResult:
    """The protocol on the images ``keep``, in that order (their rows of ``vectors``; their people ``labels``)."""
    split = split_by_identity(labels)
    v = vectors[keep]
    return identification_result(name, v[split.gallery], v[split.mated], split.mate_of, v[split.nonmated],
                                 fpirs=FPIRS, k=20)


def merge_aliases(images: list[str], keep: NDArray[np.int64]) -> tuple[NDArray[np.int64], list[str]]:
    """``keep`` and its labels with ``ALIASES`` merged, ordered so that each enrolled person keeps the same
    gallery image (their own ``_0001``) and an alias's image becomes one more mated probe."""
    def person(i: int) -> str:
        return images[i].split("/")[0]

    order = sorted((int(i) for i in keep), key=lambda i: (ALIASES.get(person(i), person(i)), person(i) in ALIASES,
                                                          images[i]))
    return np.array(order, np.int64), [ALIASES.get(person(i), person(i)) for i in order]


def top_nonmated(vectors: NDArray[np.float32], images: list[str], keep: NDArray[np.int64], labels: list[str],
                 count: int = 10) -> list[tuple[float, str, str]]:
    """The highest-scoring non-mated searches: (score, probe image, the gallery image it hits)."""
    split = split_by_identity(labels)
    v = vectors[keep]
    scores, idx = search_topk(v[split.gallery], v[split.nonmated], 1)
    out = []
    for j in np.argsort(-scores[:, 0], kind="stable")[:count]:
        probe, hit = keep[split.nonmated[j]], keep[split.gallery[idx[j, 0]]]
        out.append((float(scores[j, 0]), images[probe], images[hit]))
    return out


def describe(engine: Any) -> str:
    return ", ".join(f"{m}{' +mirror' if f else ''}" for m, f in zip(engine.model_names, engine.flips, strict=True))


def cell(p: OperatingPoint) -> str:
    mark = "" if p.resolved else ("†" if p.measurable else "‡")
    return f"{100 * p.fnir:.2f}%{mark} (T = {p.threshold:.4f}, {p.false_positives_allowed} FP)"


def plot(results: list[IdentificationResult], out: Path, title: str, merged: IdentificationResult | None) -> Path:
    """``fnir_fpir.png``: FNIR against FPIR (log-log), solid where FPIR rests on >= 30 non-mated false
    positives, dashed below, with the operating points of the table marked; ``merged`` (the first result
    with LFW's name aliases merged) dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    fig, ax = plt.subplots(figsize=(7.2, 6.0), dpi=120)
    n = results[0].nonmated_probes
    lo = 1.0 / n
    ax.axvspan(lo * 0.8, RULE_OF_30 / n, color="0.92", zorder=0)
    ymin = 1.0
    for i, r in enumerate(results):
        c = r.curve
        color = f"C{i}"
        fnir = np.maximum(c.fnir, 1e-4)
        ymin = min(ymin, float(fnir.min()))
        # Steps: FNIR holds between the FPIRs the data can show.
        ax.step(c.fpir[c.resolved], fnir[c.resolved], where="post", color=color, lw=1.8,
                label=f"{r.name}: rank-1 {100 * r.rank1:.2f}%")
        last = int(np.argmax(c.resolved)) + 1 if c.resolved.any() else len(c.fpir)
        ax.step(c.fpir[:last], fnir[:last], where="post", color=color, lw=1.4, ls="--")
        for p, marker in zip(r.operating_points, ("o", "s"), strict=False):
            ax.plot(p.fpir, max(p.fnir, 1e-4), marker=marker, color=color, ms=6, mfc="white" if not p.resolved
                    else color, mew=1.5, ls="none")
    if merged is not None:
        ax.step(merged.curve.fpir, np.maximum(merged.curve.fnir, 1e-4), where="post", color="C0", lw=1.2, ls=":",
                label=f"{merged.name}: rank-1 {100 * merged.rank1:.2f}%")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo * 0.8, 1.0)
    ax.set_ylim(max(ymin * 0.6, 1e-4), 1.0)
    ax.set_xlabel("false positive identification rate (FPIR), non-mated searches")
    ax.set_ylabel("false negative identification rate (FNIR), rank 1")
    ax.grid(True, which="major", alpha=0.35)
    ax.grid(True, which="minor", alpha=0.12)
    handles = ax.get_legend_handles_labels()[0] + [
        Line2D([], [], marker="o", color="0.3", ls="none", label="FPIR 1e-2"),
        Line2D([], [], marker="s", color="0.3", ls="none", label="FPIR 1e-3 (markers hollow where < 30 FP)"),
        Patch(color="0.92", label=f"shaded, dashed: < {RULE_OF_30} non-mated false positives, indicative only"),
    ]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.13), fontsize=8, frameon=False)
    ax.set_title(title, fontsize=9.5)
    fig.tight_layout()
    out.mkdir(parents=True, exist_ok=True)
    path = out / "fnir_fpir.png"
    fig.savefig(path)
    plt.close(fig)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("/tmp/identify"), help="folder for the plot and JSON")
    parser.add_argument("--no-record", action="store_true", help="do not append to benchmarks/RESULTS.md")
    parser.add_argument("--fresh", action="store_true", help="embed again instead of using benchmarks/.cache")
    args = parser.parse_args()

    images = lfw_images(LFW)
    engine, run = embed("default", images, args.fresh)
    dlib_engine, dlib_run = embed("dlib", images, args.fresh)
    emb, dlib_emb = run["emb"], dlib_run["emb"]
    unreadable = set(emb.unreadable) | set(dlib_emb.unreadable)
    keep = np.array([i for i, im in enumerate(images) if im not in unreadable], np.int64)
    labels = [images[i].split("/")[0] for i in keep]

    results = [
        evaluate(f"default, fused ({describe(engine)})", engine.fuse(emb.per_model), keep, labels),
        evaluate(f"dlib ({describe(dlib_engine)})", dlib_engine.fuse(dlib_emb.per_model), keep, labels),
    ]
    # The other half of the fusion, as it runs inside the default profile (free: already embedded).
    for i, (m, f) in enumerate(zip(engine.model_names, engine.flips, strict=True)):
        if m not in dlib_engine.model_names:
            results.append(evaluate(f"{m}{' +mirror' if f else ''} (the default's other half, alone)",
                                    emb.per_model[i], keep, labels))
    # The same with LFW's five two-spelling people merged (a sensitivity check, not the protocol).
    keep_merged, labels_merged = merge_aliases(images, keep)
    fused = engine.fuse(emb.per_model)
    merged = [
        evaluate(f"default, fused, {len(ALIASES)} LFW name aliases merged", fused, keep_merged, labels_merged),
        evaluate(f"dlib, {len(ALIASES)} LFW name aliases merged", dlib_engine.fuse(dlib_emb.per_model), keep_merged,
                 labels_merged),
    ]
    if results[0].gallery_size != merged[0].gallery_size:
        raise SystemExit("merging the aliases changed the gallery")
    top = top_nonmated(fused, images, keep, labels)

    columns = ["model", "gallery", "mated probes", "non-mated probes", "rank-1", "rank-10",
               "FNIR @ FPIR 1e-2", "FNIR @ FPIR 1e-3", "FPIR resolution (1/N)"]
    rows: list[list[object]] = [
        [r.name, f"{r.gallery_size:,}", f"{r.mated_probes:,}", f"{r.nonmated_probes:,}", f"{100 * r.rank1:.2f}%",
         f"{100 * r.cmc[9]:.2f}%", cell(r.at(1e-2)), cell(r.at(1e-3)), f"{r.fpir_resolution:.2e}"]
        for r in results + merged
    ]
    table = markdown_table(columns, rows)

    unmeasurable = any(not p.measurable for r in results + merged for p in r.operating_points)
    notes = [
        f"† fewer than {RULE_OF_30} non-mated false positives behind the threshold (Doddington's rule of 30): "
        "indicative only."
        + (" ‡ FPIR below 1/N: not measurable; T sits just above every non-mated score and the FNIR is an "
           "optimistic floor." if unmeasurable else "")
        + " Thresholds are each row's own score (fused cosine, or the model's cosine); FP = non-mated searches "
        "allowed at or above T. Rank-1/rank-10 use no threshold."
    ]
    if engine.calibration is not None:
        parts = []
        for p in results[0].operating_points:
            fmr, extrapolated = engine.calibration.fmr(p.threshold)
            flag = " (extrapolated)" if extrapolated else ""
            parts.append(f"T = {p.threshold:.4f} (FPIR {p.fpir:g}): 1:1 FMR {fmr:.2g}{flag}, against "
                         f"FPIR / gallery = {p.fpir / results[0].gallery_size:.2g}")
        notes.append("The shipped 1:1 calibration of the default profile at these thresholds: "
                     + "; ".join(parts) + ".")
    listed = "; ".join(f"{score:.4f} {probe.split('/')[1]} → {hit.split('/')[1]}"
                       f"{' (same person, other spelling)' if probe.split('/')[0] in ALIASES else ''}"
                       for score, probe, hit in top)
    notes.append(f"The {len(top)} highest non-mated top-1 scores of the default profile (these set the low-FPIR "
                 f"thresholds: FPIR 1e-3 allows {results[0].at(1e-3).false_positives_allowed}): {listed}.")
    same = next((i for i, m in enumerate(engine.model_names) if m in dlib_engine.model_names), None)
    if same is not None and engine.flips[same] == dlib_engine.flips[0]:
        diff = float(np.abs(emb.per_model[same] - dlib_emb.per_model[0]).max())
        notes.append(f"The dlib pass reproduces the default's dlib half (largest difference {diff:.1e}).")
    speed = []
    for profile, r in (("default", run), ("dlib", dlib_run)):
        rate = "embeddings from the cache" if r["cached"] else f"{len(images) / r['seconds']:.1f} images/s"
        speed.append(f"{profile}: {rate}")
    notes.append(f"{len(images):,} images, {len(unreadable)} unreadable (left out), {len(emb.undetected)} without a "
                 f"detected face (centre of the image used); embedding speed: {'; '.join(speed)}.")

    print(table)
    print()
    print("\n".join(notes))
    out: Path = args.out
    title = (f"LFW 1:N: gallery {results[0].gallery_size:,}, {results[0].mated_probes:,} mated and "
             f"{results[0].nonmated_probes:,} non-mated searches")
    path = plot(results, out, title, merged=merged[0])
    report = {
        "results": [r.to_json() for r in results + merged],
        "aliases_merged": ALIASES,
        "top_nonmated_default": [{"score": round(s_, 6), "probe": p_, "gallery": g_} for s_, p_, g_ in top],
        "notes": notes,
    }
    (out / "identify_lfw.json").write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n")
    print(f"\nplot: {path}\nresults: {out / 'identify_lfw.json'}")
    if not args.no_record:
        record("LFW 1:N identification (NIST-style FNIR at FPIR), gallery 1,680", "python benchmarks/identify_lfw.py",
               table, "\n\n".join(notes))


if __name__ == "__main__":
    main()
