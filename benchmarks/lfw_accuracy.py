"""LFW View 2 accuracy (10 folds, thresholds chosen on the other nine) of facesearch's profiles (each
recognizer alone, and the fused default), and of the `face_recognition` library on the same pairs, in one
run.

`face_recognition` as its users run it: `face_locations` (HOG, one upsampling) then `face_encodings`,
scored by Euclidean distance. Where its detector finds no face, the box at the centre of the
deep-funneled image (the median of the boxes it did find) is used, as facesearch does with its own
detector. Its encodings are cached in benchmarks/.cache (two processes, about 10 minutes the first time).

    pip install face_recognition --no-deps
    python benchmarks/lfw_accuracy.py [--skip-face-recognition]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import LFW, LFW_PAIRS, ROOT, markdown_table, record
from facesearch.eval.metrics import kfold_accuracy, roc
from facesearch.eval.pairs import read_pairs

CACHE = ROOT / "benchmarks" / ".cache"


def _fr_locate(path: str) -> list[tuple[int, int, int, int]]:
    import face_recognition

    return face_recognition.face_locations(face_recognition.load_image_file(path))


def _fr_encode(job: tuple[str, tuple[int, int, int, int]]) -> list[float]:
    import face_recognition

    path, box = job
    return face_recognition.face_encodings(face_recognition.load_image_file(path), [box])[0].tolist()


def face_recognition_encodings(images: list[str], cache_name: str = "face_recognition_lfw.json"
                               ) -> tuple[np.ndarray, int]:
    """face_recognition's encodings of ``images`` (under LFW), as its users compute them; cached by image list."""
    CACHE.mkdir(parents=True, exist_ok=True)
    cache = CACHE / cache_name
    if cache.exists():
        data = json.loads(cache.read_text())
        if data["images"] == images:
            return np.array(data["encodings"]), data["undetected"]
    paths = [str(LFW / i) for i in images]
    with ProcessPoolExecutor(2) as pool:
        located = list(pool.map(_fr_locate, paths, chunksize=32))
        found = [b for boxes in located for b in boxes]
        centre = tuple(int(v) for v in np.median(np.array(found), axis=0))
        boxes = []
        for boxes_here in located:
            if not boxes_here:
                boxes.append(centre)
                continue
            # LFW centres the labelled person: the box whose centre is nearest (125, 125)
            boxes.append(min(boxes_here, key=lambda b: abs((b[1] + b[3]) / 2 - 125) + abs((b[0] + b[2]) / 2 - 125)))
        encodings = list(pool.map(_fr_encode, zip(paths, boxes, strict=True), chunksize=32))
    undetected = sum(1 for b in located if not b)
    cache.write_text(json.dumps({"images": images, "encodings": encodings, "undetected": undetected}))
    return np.array(encodings), undetected


def row(name: str, per_model: list[np.ndarray], same: np.ndarray, folds: np.ndarray, undetected: int) -> list[object]:
    fr = kfold_accuracy(per_model, same, folds)
    r = roc(fr.out_of_fold_scores, same)
    return [name, f"{100 * fr.mean:.2f}% ± {100 * fr.std:.2f}", f"{r.auc():.5f}", f"{100 * r.tar_at(1e-2):.2f}%",
            f"{100 * r.tar_at(1e-3):.2f}%", undetected]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--skip-face-recognition", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    from facesearch import Engine
    from facesearch.eval.lfw import evaluate, pair_scores

    pairs = read_pairs(LFW_PAIRS)
    same = np.array([p.same for p in pairs])
    folds = np.array([p.fold for p in pairs])
    rows, timings = [], []
    for profile in ("dlib", "mobilefacenet", "default"):
        engine = Engine(profile)
        engine.recognizers  # noqa: B018 - load before timing
        start = time.perf_counter()
        _, emb, _ = evaluate(engine, LFW, LFW_PAIRS)
        seconds = time.perf_counter() - start
        timings.append(f"{profile}: {len(emb.images) / seconds:.1f} images/s")
        per_model, _ = pair_scores(emb, pairs)
        mirror = ", ".join(f"{m}{' +mirror' if f else ''}" for m, f in zip(engine.model_names, engine.flips,
                                                                              strict=True))
        rows.append(row(f"facesearch --model {profile} ({mirror})", per_model, same, folds, len(emb.undetected)))
    if not args.skip_face_recognition:
        enc, undetected = face_recognition_encodings(emb.images)
        index = {p: i for i, p in enumerate(emb.images)}
        a = np.array([index[p.a] for p in pairs])
        b = np.array([index[p.b] for p in pairs])
        rows.append(row("face_recognition (HOG + dlib, distance)", [-np.linalg.norm(enc[a] - enc[b], axis=1)],
                        same, folds, undetected))
    columns = ["model", "accuracy (10-fold)", "ROC AUC", "TAR@FAR=1e-2", "TAR@FAR=1e-3", "images without a face"]
    table = markdown_table(columns, rows)
    print(table)
    print(f"facesearch, {len(emb.images)} images embedded: {'; '.join(timings)}")
    if not args.no_record:
        record("LFW View 2 accuracy, 6,000 pairs, 10 folds", "python benchmarks/lfw_accuracy.py", table,
               f"Embedding speed over the {len(emb.images)} images: {'; '.join(timings)}. Images where a "
               "detector finds no face use the centre of the deep-funneled image, for every pipeline.")


if __name__ == "__main__":
    main()
