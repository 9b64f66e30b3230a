"""RetinaFace-MobileNet0.25 against YuNet on small faces in big frames (issue 16), in one run.

The footage is made here: real faces from LFW (one image per person), each cut out around its face and scaled
so the face is 16, 24, 32 or 48 px tall, pasted at known places on 1920x1080 canvases whose background is a
frame of the shared Hamilton clip scaled up (a real scene, with its own people in it; faces found only in the
background are not counted either way). A pasted face counts as found when a detection overlaps its box with
IoU >= 0.4. Each detector runs on the whole frame at two working sizes: 640 px on the longer side (about what
the video search uses today, 384-640) and native 1920. Time is CPU ms per 1080p frame, one thread, the median
of the frames; the two detectors' ratio is the steadier number on this shared machine.

WIDER FACE is not measured: its validation images are in no repository this project can reach (its ground
truth and evaluator are, in biubug6/Pytorch_Retinaface); the published AP (hard: RetinaFace-MobileNet0.25 47%,
YuNet 75%) is not from the same protocol.

    python benchmarks/detectors.py [--people 96] [--no-record]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from numpy.typing import NDArray

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import LFW, SHARED, markdown_table, record
from facesearch.detect import make_detector
from facesearch.detect.common import DetectorConfig
from facesearch.images import LoadedImage, load_image
from facesearch.models.runtime import RuntimeOptions

SIZES = (16, 24, 32, 48)  # face height in px, as the detector's box measures it on the source
CANVAS = (1080, 1920)
PER_ROW, ROWS = 8, 3  # faces per canvas: spread out, away from the edges
DETECTORS = ("retinaface", "yunet")
WORKING_SIDES = (640, 1920)


def _background() -> NDArray[np.uint8]:
    capture = cv2.VideoCapture(str(SHARED / "video" / "short_hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 120)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise SystemExit("cannot read the Hamilton clip for the background")
    rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    return np.asarray(cv2.resize(rgb, (CANVAS[1], CANVAS[0]), interpolation=cv2.INTER_CUBIC), np.uint8)


def _faces(people: int) -> list[tuple[NDArray[np.uint8], NDArray[np.float32]]]:
    """LFW images with the box of their one clear face (found at full size by RetinaFace at a high bar)."""
    finder = make_detector("retinaface", RuntimeOptions(threads=1), DetectorConfig(score_threshold=0.9))
    out = []
    for path in sorted(LFW.glob("*/*_0001.jpg")):
        image = load_image(path)
        found = finder.detect([image])[0]
        if len(found) == 1 and found.face_size[0] >= 80:
            out.append((image.pixels, found.boxes[0]))
        if len(out) == people:
            break
    return out


def _canvases(faces: list[tuple[NDArray[np.uint8], NDArray[np.float32]]], size: int,
              background: NDArray[np.uint8]) -> list[tuple[LoadedImage, list[NDArray[np.float32]]]]:
    """Canvases with the faces pasted at ``size`` px face height, and the pasted faces' boxes."""
    per_canvas = PER_ROW * ROWS
    canvases = []
    for start in range(0, len(faces), per_canvas):
        canvas = background.copy()
        truth = []
        for k, (pixels, box) in enumerate(faces[start : start + per_canvas]):
            scale = size / float(box[3] - box[1])
            small = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
            row, col = divmod(k, PER_ROW)
            top = int(90 + row * (CANVAS[0] - 180) / ROWS)
            left = int(60 + col * (CANVAS[1] - 120) / PER_ROW)
            h, w = small.shape[:2]
            canvas[top : top + h, left : left + w] = small
            truth.append(np.array([left + box[0] * scale, top + box[1] * scale, left + box[2] * scale,
                                   top + box[3] * scale], np.float32))
        canvases.append((load_image(canvas, channels="rgb", source=f"canvas {size}px #{start}"), truth))
    return canvases


def _iou(a: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    w = np.clip(np.minimum(a[2], b[:, 2]) - np.maximum(a[0], b[:, 0]), 0, None)
    h = np.clip(np.minimum(a[3], b[:, 3]) - np.maximum(a[1], b[:, 1]), 0, None)
    inter = w * h
    return np.asarray(inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1]) - inter),
                      np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=96)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    background = _background()
    faces = _faces(args.people)
    footage = {size: _canvases(faces, size, background) for size in SIZES}
    rows = []
    timing: dict[tuple[str, int], float] = {}
    for name in DETECTORS:
        for side in WORKING_SIDES:
            detector = make_detector(name, RuntimeOptions(threads=1),
                                     DetectorConfig(score_threshold=0.5, max_side=side, sharpness=False))
            detector.detect([footage[SIZES[0]][0][0]])  # load and warm up
            recall, times = [], []
            for size in SIZES:
                found = total = 0
                for canvas, truth in footage[size]:
                    began = time.process_time()
                    faces_found = detector.detect([canvas])[0]
                    times.append((time.process_time() - began) * 1000)
                    for box in truth:
                        total += 1
                        found += bool(len(faces_found) and _iou(box, faces_found.boxes).max() >= 0.4)
                recall.append(found / total)
            timing[(name, side)] = statistics.median(times)
            rows.append([name, side, *[f"{r:.0%}" for r in recall], f"{timing[(name, side)]:.0f}"])
    table = markdown_table(["detector", "working size (longer side, px)", *[f"found at {s} px" for s in SIZES],
                            "CPU ms per 1080p frame (1 thread)"], rows)
    ratios = ", ".join(f"{side} px: YuNet {timing[('yunet', side)] / timing[('retinaface', side)]:.2f}x "
                       "RetinaFace's time" for side in WORKING_SIDES)
    notes = (f"{len(faces)} LFW faces per size, pasted {PER_ROW * ROWS} to a 1920x1080 canvas over a Hamilton-clip "
             f"frame; found: a detection with IoU >= 0.4 (score >= 0.5). {ratios}. WIDER FACE not measured (its "
             "validation images are not reachable).")
    print(table)
    print(notes)
    if not args.no_record:
        record("Detectors on small faces in 1080p frames: RetinaFace-MobileNet0.25 vs YuNet",
               f"python benchmarks/detectors.py --people {args.people}", table, notes)


if __name__ == "__main__":
    main()
