"""Acceptance for small faces in big frames: the Hamilton clip as far cameras would record it (scaled and placed on
1080p and 4K canvases, or scaled up whole). Lin-Manuel Miranda must be found in each of his two appearances where
his face is at least 24 px tall (the default ``min_face``), and nobody else, on every variant. The watchlist's other
person, Alex Lacamoire, is in the clip too (at the piano, in its first 0.6 s, 31 px tall at the clip's size): he
may be found there, and nowhere else.

The frames are made one at a time and fed to the real search (detector, tracker, recognizers, watchlist
threshold), without a round trip through an encoder: ``test_scan_cli`` covers reading files.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from facesearch.cases.service import activate_case, create_case, enrol_into_case
from facesearch.cases.watchlist import CaseWatchlist, load_watchlists
from facesearch.context import Context
from facesearch.engine import Engine
from facesearch.settings import Settings
from facesearch.store.crypto import Sealer
from facesearch.store.db import open_database
from facesearch.video import search as search_module
from facesearch.video.search import MatchedTrack, SearchConfig, VideoSearch
from facesearch.video.source import VideoFrame
from support.footage import Placement, placed_frames

FPS = 29.97
# Where each watchlist person appears in the clip (seconds) and how tall his face is there (px, at 640x360).
MIRANDA = [(0.0, 0.63, 53.0), (2.74, 7.01, 95.0)]  # far, then the close-up
LACAMOIRE = [(0.0, 0.63, 31.0)]
VARIANTS = [
    Placement("1080p canvas, clip at its own size", (1920, 1080), 1.0, (1100, 600)),
    Placement("1080p canvas, clip at a third", (1920, 1080), 0.3, (300, 200)),  # the close-up only is over 24 px
    Placement("4K canvas, clip at its own size", (3840, 2160), 1.0, (2900, 1700)),
    Placement("4K canvas, clip at twice its size", (3840, 2160), 2.0, (300, 900)),
    Placement("clip scaled up to 1080p", (1920, 1080), 3.0),
]


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory, people: Path) -> tuple[Engine, list[CaseWatchlist]]:
    home = tmp_path_factory.mktemp("far")
    _, sessions = open_database(f"sqlite:///{home}/far.db")
    engine = Engine()
    ctx = Context(Settings(home=home), sessions, Sealer(os.urandom(32)), make_engine=lambda: engine)
    now = datetime.now(UTC)
    case = create_case(sessions, title="far", purpose="other", purpose_text="test", actor="officer",
                       valid_from=now - timedelta(days=1), valid_until=now + timedelta(days=1), legal_basis="-",
                       authorisation_ref="-", authorised_by="-")
    for name, photo in (("Lin-Manuel Miranda", "lin-manuel-miranda.png"), ("Alex Lacamoire", "alex-lacamoire.png")):
        enrol_into_case(ctx, case.ref, name, [people / photo], actor="officer")
    activate_case(sessions, case.ref, actor="officer")
    return engine, load_watchlists(engine, sessions, ctx.sealer, [case.ref], camera=None, actor="officer")


def _frames(clip: Path, placement: Placement) -> Iterator[VideoFrame]:
    for index, pixels in enumerate(placed_frames(clip, placement)):
        yield VideoFrame(index, index / FPS, pixels)


@pytest.mark.parametrize("placement", VARIANTS, ids=[v.name for v in VARIANTS])
def test_miranda_is_found_wherever_his_face_is_24_px_and_nobody_else(
        searched: tuple[Engine, list[CaseWatchlist]], video: Path, placement: Placement) -> None:
    engine, watchlists = searched
    search = VideoSearch(engine, watchlists, recording_start=datetime.now(UTC), fps=FPS)
    tracks: list[MatchedTrack] = list(search.run(_frames(video / "short_hamilton_clip.mp4", placement)))

    appearances = {"Lin-Manuel Miranda": MIRANDA, "Alex Lacamoire": LACAMOIRE}
    for t in tracks:  # nobody but the people on the watchlist, and each only where he is
        for m in t.matches:
            assert any(t.start_s < end + 0.3 and t.end_s > start - 0.3 for start, end, _ in appearances[m.name]), (
                placement, m.name, t.start_s, t.end_s)
    miranda = [t for t in tracks if any(m.name == "Lin-Manuel Miranda" for m in t.matches)]
    for start, end, face in MIRANDA:  # found in each appearance where his face is big enough
        if placement.face_px(face) >= 24:
            assert any(t.start_s < end and t.end_s > start for t in miranda), (placement, start, [
                (t.start_s, t.end_s) for t in tracks])
    assert search.progress.smallest_face == 24.0 and search.progress.frames == 275


@pytest.mark.parametrize("behind", [False, True], ids=["on time", "behind"])
def test_a_live_search_behind_the_stream_embeds_tracks_from_their_best_views_and_still_finds_him(
        searched: tuple[Engine, list[CaseWatchlist]], video: Path, monkeypatch: pytest.MonkeyPatch,
        behind: bool) -> None:
    # A live watch that falls a second behind its stream embeds each track from its best views only, until it
    # has caught up. Made deterministic here: the search counts as behind throughout, or never.
    monkeypatch.setattr(search_module, "BEHIND_S", -math.inf if behind else math.inf)
    engine, watchlists = searched
    config = SearchConfig(batch_span_s=0.25)
    live = VideoSearch(engine, watchlists, recording_start=datetime.now(UTC), fps=FPS, config=config)
    views_embedded: list[int] = []  # chips per recognizer call: one track's views each
    for recognizer in engine.recognizers:
        def counted(chips: Any, embed: Any = recognizer.embed) -> Any:
            views_embedded.append(len(chips))
            return embed(chips)
        monkeypatch.setattr(recognizer, "embed", counted)
    native = Placement("the clip", (640, 360), 1.0)
    tracks = list(live.run(_frames(video / "short_hamilton_clip.mp4", native)))
    names = {m.name for t in tracks for m in t.matches}
    assert names <= {"Lin-Manuel Miranda", "Alex Lacamoire"}
    for start, end, _ in MIRANDA:
        assert any(t.start_s < end and t.end_s > start for t in tracks
                   if any(m.name == "Lin-Manuel Miranda" for m in t.matches)), (start, behind)
    embedded = live.progress.tracks  # every track ended; those embedded were hurried when behind
    assert (live.progress.hurried > 0) == behind and live.progress.hurried <= embedded
    # Behind, no model sees more than the best few views of a track; on time, the cheaper ones see them all.
    assert (max(views_embedded) <= config.costly_views) == behind
