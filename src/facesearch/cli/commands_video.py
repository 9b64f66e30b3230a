"""``camera``, ``scan`` and ``sightings``: search footage for a case's watchlist, and read the results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from facesearch.cli.commands_cases import _moment
from facesearch.cli.output import (
    EXIT_PARTIAL,
    JsonOpt,
    command_group,
    emit_as,
    emit_json,
    fail,
    format_fmr,
    line,
    table,
    warn,
)
from facesearch.cli.wiring import open_context, operator
from facesearch.errors import FacesearchError
from facesearch.refs import RefKind, normalise_ref
from facesearch.video.face_size import MIN_FACE_DEFAULT, check_min_face

camera_app = command_group("Cameras and places footage comes from.")


@camera_app.command("add")
def camera_add(
    camera_id: Annotated[str, typer.Argument(help="Short id, e.g. cam-1.")],
    name: Annotated[str, typer.Option(help="What people call it.")],
    url: Annotated[str | None, typer.Option(help="Live stream URL (rtsp://...); stored sealed.")] = None,
    location: Annotated[str | None, typer.Option(help="Where it is.")] = None,
    min_face: Annotated[float | None, typer.Option(help="Smallest face its live searches look for, in the "
                                                        "stream's pixels (default 24).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Register a camera; its URL (which often carries a password) is sealed at rest and never printed."""
    from facesearch.api.schemas import CameraOut
    from facesearch.video.cameras import add_camera

    try:
        ctx = open_context()
        camera = add_camera(ctx, camera_id, name=name, url=url, location=location, min_face=min_face,
                            actor=operator(ctx, "cameras.write").actor)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(CameraOut, camera.to_json())
    else:
        line(f"camera {camera.id}: {camera.name}" + (f" at {camera.location}" if camera.location else "")
             + (f", {camera.shown_url}" if camera.url else ""))


@camera_app.command("list")
def camera_list(json_out: JsonOpt = False) -> None:
    """The registered cameras."""
    from facesearch.api.schemas import CameraOut
    from facesearch.video.cameras import list_cameras

    try:
        cameras = list_cameras(open_context().sessions)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(list[CameraOut], [c.to_json() | {"url": None} for c in cameras])
        return
    table("cameras", ["id", "name", "location", "status"],
          [[c.id, c.name, c.location or "", c.status] for c in cameras])


def _camera_change(camera_id: str, change: str, json_out: bool) -> None:
    from facesearch.api.schemas import CameraOut
    from facesearch.video.cameras import remove_camera, set_camera_enabled

    try:
        ctx = open_context()
        actor = operator(ctx, "cameras.write").actor
        if change == "remove":
            camera = remove_camera(ctx.sessions, camera_id, actor=actor)
        else:
            camera = set_camera_enabled(ctx.sessions, camera_id, change == "enable", actor=actor)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(CameraOut, camera.to_json())
    elif change == "remove":
        line(f"camera {camera.id}: removed (kept as removed for the sightings that name it; its stream address "
             "was deleted)")
    else:
        line(f"camera {camera.id}: {camera.status}"
             + (": nothing is scanned, identified or watched on it" if camera.status == "disabled" else ""))


@camera_app.command("disable")
def camera_disable(camera_id: Annotated[str, typer.Argument(help="The camera's id.")],
                   json_out: JsonOpt = False) -> None:
    """Stop every search on a camera (scans, identify, watches) until it is enabled again."""
    _camera_change(camera_id, "disable", json_out)


@camera_app.command("enable")
def camera_enable(camera_id: Annotated[str, typer.Argument(help="The camera's id.")],
                  json_out: JsonOpt = False) -> None:
    """Allow searches on a disabled camera again."""
    _camera_change(camera_id, "enable", json_out)


@camera_app.command("remove")
def camera_remove(camera_id: Annotated[str, typer.Argument(help="The camera's id.")],
                  json_out: JsonOpt = False) -> None:
    """Remove a camera (refused while a live case names it or a scan job uses it; disable it to stop it now)."""
    _camera_change(camera_id, "remove", json_out)


class _Progress:
    """One bar per file on stderr: footage seconds searched, frames/s and the real-time factor."""

    def __init__(self) -> None:
        self.bar: Any = None
        self.current: str | None = None

    def update(self, name: str, progress: Any, duration: float | None) -> None:
        import time

        from tqdm import tqdm

        if name != self.current:
            self.close()
            self.current, self.started = name, time.perf_counter()
            self.bar = tqdm(total=round(duration or 0, 1) or None, desc=Path(name).name[:40], unit="s",
                            leave=False, dynamic_ncols=True, disable=None)
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        self.bar.n = round(progress.seconds, 1)
        self.bar.set_postfix_str(f"{progress.frames / elapsed:.0f} frames/s, {progress.seconds / elapsed:.1f}x "
                                 f"real time, {progress.matched} matched", refresh=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def scan(
    paths: Annotated[list[Path], typer.Argument(help="Video files or folders of recordings.")],
    case: Annotated[str, typer.Option(help="Active case whose watchlist is searched.")],
    camera: Annotated[str | None, typer.Option(help="Camera the footage comes from (checked against the case).")]
    = None,
    fps: Annotated[float | None, typer.Option(help="Frames per second to search (default: every frame).")] = None,
    detect_every: Annotated[int, typer.Option(help="Detect faces on every n-th searched frame; the frames between "
                                                   "are still tracked. 2 is about 1.3x faster.")] = 1,
    min_face: Annotated[float, typer.Option(help="Smallest face to search for, in the footage's pixels (face "
                                                 "height); smaller faces cost more to find.")] = MIN_FACE_DEFAULT,
    start: Annotated[str | None, typer.Option(help="When the recording started (ISO time), if the file's "
                                                   "metadata, name or modification time is wrong.")] = None,
    fpir: Annotated[float, typer.Option(help="Target false positive identification rate per track.")] = 1e-3,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    json_out: JsonOpt = False,
) -> None:
    """Search recordings for the case's watchlist; a rerun skips files already done."""
    from facesearch.api.schemas import ScanResultOut
    from facesearch.video.scan import scan as run_scan
    from facesearch.video.scan_report import FileStatus
    from facesearch.video.search import SearchConfig

    if fps is not None and fps <= 0:
        fail(f"--fps {fps}: expected a positive number")
    if detect_every < 1:
        fail(f"--detect-every {detect_every}: expected 1 or more")
    try:
        check_min_face(min_face)
    except FacesearchError as exc:
        fail(f"--min-face {min_face:g}: {exc.reason}")
    if not 0 < fpir < 1:
        fail(f"--fpir {fpir}: expected a rate between 0 and 1")
    started = _moment(start, end_of_day=False)
    progress = _Progress()

    def on_file(outcome: Any) -> None:
        progress.close()
        if json_out:
            return
        number, total = outcome.position
        if outcome.status == FileStatus.FAILED:
            warn(f"{outcome.path}: {outcome.problem}")
        elif outcome.status == FileStatus.SKIPPED:
            line(f"[{number}/{total}] {outcome.path}: done before, skipped ({outcome.sightings} sightings)")
        else:
            line(f"[{number}/{total}] {outcome.path}: {outcome.frames} frames, {outcome.seconds:.1f} s of footage in "
                 f"{outcome.elapsed_s:.1f} s ({outcome.realtime_factor:.1f}x real time), "
                 f"{outcome.sightings} sightings; faces from {outcome.smallest_face:.0f} px searched"
                 + (f", {outcome.too_small} tracks too small to identify" if outcome.too_small else "")
                 + (f"; {outcome.problem}" if outcome.problem else ""))

    try:
        ctx = open_context(model)
        who = operator(ctx, "scans.write")
        if camera is not None:
            from facesearch.video.cameras import get_camera

            get_camera(ctx, camera)
        report = run_scan(ctx, paths, case, actor=who.actor, camera=camera,
                          fps=fps, start=started, target_fpir=fpir,
                          config=SearchConfig(detect_every=detect_every, min_face=min_face),
                          on_progress=progress.update, on_file=on_file)
    except FacesearchError as exc:
        progress.close()
        fail(str(exc))
    if json_out:
        emit_as(ScanResultOut, report.to_json())
    else:
        line(f"{report.case}: {len(report.sighting_ids)} new sightings from "
             f"{sum(f.status == FileStatus.SCANNED for f in report.files)} files scanned, "
             f"{sum(f.status == FileStatus.SKIPPED for f in report.files)} skipped, "
             f"{sum(f.status == FileStatus.FAILED for f in report.files)} failed")
    if report.stopped:
        warn(f"{report.case}: scan stopped: {report.stopped}")
    if any(f.status == FileStatus.FAILED or f.problem for f in report.files) or report.stopped:
        raise typer.Exit(EXIT_PARTIAL)


def sightings(
    case: Annotated[str, typer.Option(help="Case whose sightings are listed.")],
    json_out: JsonOpt = False,
) -> None:
    """The case's candidate sightings: who, where, when (seconds into the recording, and absolute), score, FMR."""
    from facesearch.api.schemas import SightingOut
    from facesearch.video.sightings import list_sightings

    try:
        ctx = open_context()
        who = operator(ctx, "sightings.read")
        with ctx.sessions() as s:
            found = list_sightings(s, case, actor=who.actor)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_as(list[SightingOut], [x.to_json() for x in found])
        return
    table(f"sightings, {normalise_ref(case, RefKind.CASE)} (candidates until reviewers confirm them)",
          ["id", "name", "camera", "source", "start s", "end s", "started (UTC)", "time from", "score", "FMR",
           "status"],
          [[x.id, x.name, x.camera or "", Path(x.source).name, f"{x.start:.1f}", f"{x.end:.1f}",
            f"{x.started_at:%Y-%m-%d %H:%M:%S}" if x.started_at else "",
            x.time_source + (" (weak)" if x.time_weak else ""), f"{x.score:.3f}", format_fmr(x.fmr),
            x.status] for x in found])


def watch(
    case: Annotated[list[str], typer.Option(metavar="CASE", help="Active case whose watchlist is searched; "
                                            "repeat it to search several cases from one decode of the stream.")],
    camera: Annotated[str, typer.Option(help="Registered camera to watch (its URL is used).")],
    url: Annotated[str | None, typer.Option(help="Stream URL, instead of the camera's own.")] = None,
    fps: Annotated[float | None, typer.Option(help="Frames per second to search (default: every frame).")] = None,
    fpir: Annotated[float, typer.Option(help="Target false positive identification rate per track.")] = 1e-3,
    give_up_after: Annotated[int | None, typer.Option(help="Stop after this many failed connection attempts in a "
                                                           "row (default: keep trying).")] = None,
    min_face: Annotated[float | None, typer.Option(help="Smallest face to search for, in the stream's pixels "
                                                        "(default: the camera's own, else 24).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    json_out: Annotated[bool, typer.Option("--json", help="Print events as JSON lines.")] = False,
) -> None:
    """Search a live stream until Ctrl-C (or every case has ended): sightings as they happen, reconnecting on
    drops. A case that ends leaves the watch at once; the others go on."""
    import json
    import signal
    import sys
    import threading

    from facesearch.retention import start_up_retention
    from facesearch.video.cameras import get_camera
    from facesearch.video.watch import StopReason, WatchEventKind
    from facesearch.video.watch import watch as run_watch

    stop = threading.Event()

    def on_signal(_sig: int, _frame: Any) -> None:
        if stop.is_set():  # a second Ctrl-C: leave now
            raise KeyboardInterrupt
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def on_event(event: Any) -> None:
        if json_out:
            sys.stdout.write(json.dumps({"event": event.kind, "at": event.at.isoformat(), "message": event.message,
                                         **event.data}, default=str) + "\n")
            sys.stdout.flush()
        elif event.kind in (WatchEventKind.RETRYING, WatchEventKind.DISCONNECTED):
            warn(event.message)
        else:
            line(f"{event.at:%H:%M:%S} {event.message}")

    try:
        ctx = open_context(model)
        who = operator(ctx, "scans.write")
        start_up_retention(ctx, actor="system")
        cam = get_camera(ctx, camera)
        stream = url or cam.url
        if not stream:
            fail(f"{camera}: the camera has no stream URL (camera add --url, or --url)")
        report = run_watch(ctx, case, camera, stream, actor=who.actor, stop=stop,
                           fps=fps, target_fpir=fpir, max_failures=give_up_after,
                           on_event=on_event, min_face=min_face)
    except FacesearchError as exc:
        fail(str(exc))
    if report.stop_reason == StopReason.GAVE_UP:
        fail(report.stopped)
    if not json_out:
        line(f"{report.case} on {report.camera}: {report.frames} frames over {report.connections} connections, "
             f"{len(report.sighting_ids)} sightings; {report.stopped}")


def report(
    case: Annotated[str, typer.Option(help="Case whose sightings are reported.")],
    out: Annotated[Path, typer.Option(help="HTML file to write.")],
    json_out: JsonOpt = False,
) -> None:
    """Write an HTML report of the case's sightings: timeline and redacted evidence per person (audited)."""
    from facesearch.video.case_report import write_report

    try:
        ctx = open_context()
        summary = write_report(ctx, case, out, actor=operator(ctx, "exports.write").actor)
    except FacesearchError as exc:
        fail(str(exc))
    except OSError as exc:
        fail(f"{out}: {exc.strerror or exc}")
    if json_out:
        emit_json({"path": str(summary.path), "sightings": summary.sightings, "people": summary.people,
                   "sha256": summary.sha256})
    else:
        line(f"{summary.path}: {summary.sightings} sightings of {summary.people} people (sha256 {summary.sha256[:12]})")
