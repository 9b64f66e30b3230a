"""``scan``: search recorded footage (files and folders) for a case's watchlist, resumably.

Each file's sightings are committed together with the record that the file is done, so a scan that is
interrupted loses at most the file it was in, and a rerun skips every file already done (while its size
and modification time are unchanged). A file that cannot be opened is reported and the scan goes on;
a file damaged part way is searched up to the damage, and the damage is reported.

With a media root (scans started through the API or the console), nothing outside that folder is read:
each file is resolved (its links followed) just before it is opened, and refused, reported as a failed
file, unless it lies under the root; a folder is walked without leaving the root (a link out of it is
reported, not followed). The check is made when the file is opened, not when the scan was asked for, since
a link may change in between (a job runs later, and may resume after a restart).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases.service import CaseError, require_searchable
from facesearch.cases.watchlist import DEFAULT_FPIR, load_watchlists
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.files import resolve_under, sha256_file
from facesearch.refs import parse_case_ref
from facesearch.store.crypto import Sealer
from facesearch.store.schema import ScannedFileRow, SightingRow
from facesearch.video.face_finder import smallest_searched
from facesearch.video.recording_time import recording_start
from facesearch.video.scan_report import FileOutcome, FileStatus, ScanReport
from facesearch.video.search import MatchedTrack, SearchConfig, SearchProgress, VideoSearch
from facesearch.video.sightings import save_track
from facesearch.video.source import VideoError, VideoReader

VIDEO_SUFFIXES = frozenset({".mp4", ".m4v", ".mov", ".mkv", ".webm", ".avi", ".wmv", ".flv", ".ts", ".mts", ".m2ts",
                            ".mpg", ".mpeg", ".3gp", ".h264", ".h265", ".hevc", ".mjpeg", ".y4m"})


def list_videos(paths: Sequence[Path], media_root: Path | None = None) -> tuple[list[Path], list[FileOutcome]]:
    """Video files under ``paths`` (folders searched recursively, in name order, links to folders not
    followed), and the paths that are neither a file nor a folder, as failures.

    With ``media_root`` (resolved), a path outside it is a failure and is not walked, and so is a link
    to a folder outside it found in a walk. Files are listed as found: each is checked when it is opened."""
    found: list[Path] = []
    missing: list[FileOutcome] = []
    for p in paths:
        real, problem = (p, "") if media_root is None else resolve_under(p, media_root)
        if real is None:
            missing.append(FileOutcome(str(p), FileStatus.FAILED, problem=problem))
        elif real.is_dir():
            entries = sorted(real.rglob("*"))  # the folder that was checked (the same, unless a link)
            found += [f for f in entries if f.is_file() and f.suffix.lower() in VIDEO_SUFFIXES]
            if media_root is not None:  # rglob does not follow a link to a folder: say so when it leads out
                missing += [FileOutcome(str(f), FileStatus.FAILED, problem=f"{why}; a link, not followed")
                            for f in entries if f.is_symlink() and f.is_dir()
                            and (why := resolve_under(f, media_root)[1])]
        elif real.is_file():
            found.append(p)
        else:
            missing.append(FileOutcome(str(p), FileStatus.FAILED, problem="no such file or folder"))
    return found, missing


def scan(ctx: Context, paths: Sequence[Path], case_ref: str, *,
         actor: str, camera: str | None = None, fps: float | None = None, start: datetime | None = None,
         target_fpir: float = DEFAULT_FPIR, config: SearchConfig | None = None,
         on_progress: Callable[[str, SearchProgress, float | None], None] | None = None,
         on_file: Callable[[FileOutcome], None] | None = None,
         should_stop: Callable[[], bool] | None = None, media_root: Path | None = None) -> ScanReport:
    """Search every video under ``paths`` for the watchlist of ``case_ref``; audited start and end.

    ``should_stop`` (checked on every frame) cancels: the file in progress is left undone, with nothing
    of it stored, so that a later run searches it whole and no sighting is duplicated. With ``media_root``
    (the API's and the console's jobs), only files under that folder are opened, each checked as it is
    opened; the others are reported as failed files and the scan goes on. A case limited to cameras is
    scanned on a registered camera it allows only (``require_searchable``), refused and audited otherwise."""
    engine, sessions, sealer = ctx.engine(), ctx.sessions, ctx.sealer
    root = None if media_root is None else media_root.resolve()
    files, failed = list_videos(paths, root)
    watchlists = load_watchlists(engine, sessions, sealer, [case_ref], camera=camera, actor=actor, fpir=target_fpir,
                                 refusal_details={"source": ", ".join(map(str, paths))}, cache=ctx.index_cache())
    ref = watchlists[0].case_ref
    report = ScanReport(ref, camera, list(failed))
    with sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.SCAN_START, case_id=ref, details={
            "paths": [str(p) for p in paths], "files": len(files), "camera": camera, "fps": fps,
            "watchlist_size": watchlists[0].size, "threshold": round(watchlists[0].threshold, 6),
            "calibration": watchlists[0].calibration_label,
            "target_fpir": target_fpir, "profile": engine.profile})
    total = len(failed) + len(files)
    for number, outcome in enumerate(failed, 1):
        if on_file:
            on_file(replace(outcome, position=(number, total)))
    for number, path in enumerate(files, len(failed) + 1):
        if should_stop is not None and should_stop():
            report.stopped, report.cancelled = "cancelled", True
            break
        with sessions() as s:
            try:
                require_searchable(s, ref, camera=camera, actor=actor)
            except CaseError as exc:
                report.stopped = exc.reason
                break
        outcome = _scan_file(engine, sessions, sealer, path, ref, watchlists, camera=camera, fps=fps, start=start,
                             actor=actor, config=config, on_progress=on_progress, report=report,
                             should_stop=should_stop, media_root=root)
        if outcome.status == FileStatus.CANCELLED:
            report.stopped, report.cancelled = "cancelled", True
            break
        report.files.append(outcome)
        if on_file:
            on_file(replace(outcome, position=(number, total)))
    with sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.SCAN_END, case_id=ref, details={
            "files_scanned": sum(f.status == FileStatus.SCANNED for f in report.files),
            "files_skipped": sum(f.status == FileStatus.SKIPPED for f in report.files),
            "files_failed": [{"path": f.path, "problem": f.problem} for f in report.files
                             if f.status == FileStatus.FAILED],
            "frames": sum(f.frames for f in report.files), "sightings": len(report.sighting_ids),
            "stopped": report.stopped})
    return report


def _scan_file(engine: Engine, sessions: sessionmaker[Session], sealer: Sealer, path: Path, ref: str,
               watchlists: list[Any], *, camera: str | None, fps: float | None, start: datetime | None, actor: str,
               config: SearchConfig | None, on_progress: Callable[[str, SearchProgress, float | None], None] | None,
               report: ScanReport, should_stop: Callable[[], bool] | None = None,
               media_root: Path | None = None) -> FileOutcome:
    name = str(path)
    if media_root is not None:  # checked now, as it is opened: a link may have changed since it was listed
        real, refused = resolve_under(path, media_root)
        if real is None:
            return FileOutcome(name, FileStatus.FAILED, problem=refused)
        path = real  # what was checked is what is opened (the record keeps the name it was listed under)
    try:
        stat = path.stat()
    except OSError as exc:  # gone since it was listed
        return FileOutcome(name, FileStatus.FAILED, problem=exc.strerror or "cannot be read")
    case_id = parse_case_ref(ref)
    smallest = smallest_searched((config or SearchConfig()).min_face, engine.video_detector.reliable_face_px)
    with sessions() as s:
        done = s.scalar(select(ScannedFileRow).where(ScannedFileRow.case_id == case_id, ScannedFileRow.path == name))
        if (done is not None and done.size == stat.st_size and done.mtime_ns == stat.st_mtime_ns
                and (done.min_face is None or done.min_face <= smallest + 1e-6)):
            return FileOutcome(name, FileStatus.SKIPPED, done.frames, sightings=done.sightings, problem=done.problem)
    began = time.perf_counter()
    try:
        reader = VideoReader(path, fps=fps, threads=max(os.cpu_count() or 1, 1),
                             detect_side=(config or SearchConfig()).detect_side)
    except VideoError as exc:
        return FileOutcome(name, FileStatus.FAILED, problem=exc.reason)
    with reader:
        when = recording_start(path, reader.info.metadata, reader.info.duration_s, start)
        problem = None
        if not any(w.covers(when.at) for w in watchlists):
            w = watchlists[0]
            problem = (f"recorded at {when.at:%Y-%m-%d %H:%M} UTC (from the {when.source}), outside {ref}'s "
                       f"recording window ({w.recorded_from:%Y-%m-%d %H:%M} to {w.recorded_until:%Y-%m-%d %H:%M}); "
                       "pass --start if that time is wrong")
            return FileOutcome(name, FileStatus.FAILED, problem=problem, time_source=when.source)
        search = VideoSearch(engine, watchlists, recording_start=when.at, fps=reader.info.fps, config=config)
        matched = list(search.run(reader.frames(), on_progress=None if on_progress is None else
                                  (lambda p: on_progress(name, p, reader.info.duration_s)),
                                  should_stop=None if should_stop is None else (lambda _frame: should_stop())))
        problem = reader.problem
        # How long the recording is, for the case's timeline: as the file declares it, else as far as it was read.
        length = reader.info.duration_s or search.progress.seconds or None
    if should_stop is not None and should_stop():
        return FileOutcome(name, FileStatus.CANCELLED, search.progress.frames)
    digest = sha256_file(path) if matched else None  # the input that led to a match (only then: it costs a read)
    with sessions.begin() as s:
        if done is not None:  # searched before (for bigger faces, or an earlier version of the file)
            matched = _not_stored_yet(s, case_id, name, matched)
        ids = [i for track in matched
               for i in save_track(s, sealer, track, source=name, camera=camera, start=when, actor=actor,
                                   source_sha256=digest)]
        s.execute(delete(ScannedFileRow).where(ScannedFileRow.case_id == case_id, ScannedFileRow.path == name))
        s.add(ScannedFileRow(case_id=case_id, path=name, camera_id=camera, size=stat.st_size,
                             mtime_ns=stat.st_mtime_ns, frames=search.progress.frames, sightings=len(ids),
                             problem=problem, finished_at=datetime.now(UTC), duration_s=length,
                             min_face=search.progress.smallest_face))
    report.sighting_ids += ids
    return FileOutcome(name, FileStatus.SCANNED, search.progress.frames, search.progress.seconds,
                       time.perf_counter() - began, len(ids), problem, when.source,
                       smallest_face=search.progress.smallest_face, too_small=search.progress.too_small)


def _not_stored_yet(s: Session, case_id: int, source: str, matched: list[MatchedTrack]) -> list[MatchedTrack]:
    """``matched`` less the matches a search of ``source`` stored before: the same person overlapping in time in
    the same file is the same appearance, and a reviewer should see it once (a rerun for smaller faces finds the
    big ones again)."""
    stored = s.execute(select(SightingRow.identity_id, SightingRow.start_s, SightingRow.end_s)
                       .where(SightingRow.case_id == case_id, SightingRow.source == source)).all()
    kept = []
    for track in matched:
        new = [m for m in track.matches if not any(
            identity == m.identity_id and start <= track.end_s and track.start_s <= end
            for identity, start, end in stored)]
        if new:
            kept.append(replace(track, matches=new))
    return kept

