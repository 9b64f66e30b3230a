"""The cases a live watch searches for, kept current while it runs: one decode of a camera's stream serves every
active case that may search that camera (a cluster's stream worker, or ``watch`` given several cases).

A case leaves the moment it may no longer be searched: at the very frame its validity ends, and within a second
of being closed, or of its camera being disallowed; the others go on. A case whose watchlist changes (someone
enrolled into it or taken off it) is searched with the new list within a second. The watch ends when no case
is left."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from facesearch.cases.service import CaseError, require_searchable
from facesearch.cases.watchlist import CaseWatchlist, WatchlistShelf, load_watchlists
from facesearch.context import Context


@dataclass(frozen=True)
class CaseLeft:
    case: str
    reason: str


class LiveCases:
    def __init__(self, ctx: Context, case_refs: Sequence[str], *, camera: str, actor: str, fpir: float,
                 source: str, shelf: WatchlistShelf | None = None) -> None:
        self.ctx, self.camera, self.actor, self.fpir, self.source = ctx, camera, actor, fpir, source
        # Indexes shared with the process's other watches (a cluster node's cameras), or kept for this one.
        self.shelf = shelf if shelf is not None else WatchlistShelf()
        # The list the search holds: changed in place, so the search sees every change at its next track.
        self.watchlists: list[CaseWatchlist] = self._load(list(case_refs))
        self._held: list[CaseWatchlist] = []  # the cases put aside while the database cannot be reached

    @property
    def suspended(self) -> bool:
        return bool(self._held)

    def suspend(self) -> None:
        """Stop matching every case (the database cannot be reached: whether a case may still be searched
        cannot be known, and nothing could be stored); ``resume`` puts them back."""
        if self.watchlists:
            self._held = list(self.watchlists)
            self.watchlists.clear()

    def resume(self) -> None:
        if self._held:
            self.watchlists[:] = self._held
            self._held = []

    def _load(self, refs: list[str]) -> list[CaseWatchlist]:
        """The watchlists of ``refs``, live (the recording window always covers "now"); a case that may not be
        searched is refused (audited) by ``load_watchlists``."""
        ctx = self.ctx
        return [w.live() for w in load_watchlists(
            ctx.engine(), ctx.sessions, ctx.sealer, refs, camera=self.camera, actor=self.actor, fpir=self.fpir,
            refusal_details={"source": self.source}, cache=ctx.index_cache(), shelf=self.shelf)]

    @property
    def refs(self) -> list[str]:
        return [w.case_ref for w in self.watchlists]

    def expired(self, now: datetime) -> list[CaseLeft]:
        """The cases whose validity has ended by ``now``, taken out at once (no database: checked every frame)."""
        gone = [w for w in self.watchlists if now >= w.valid_until]
        for w in gone:
            self.watchlists.remove(w)
        return [CaseLeft(w.case_ref, f"{w.case_ref} expired at {w.valid_until:%Y-%m-%d %H:%M:%S} UTC") for w in gone]

    def check(self) -> tuple[list[CaseLeft], list[str]]:
        """Look at the database: the cases that may no longer be searched (closed, camera disallowed, ...) are
        taken out, and the watchlists that changed are loaded again. Returns (cases that left, cases whose
        watchlist changed)."""
        left: list[CaseLeft] = []
        changed: list[str] = []
        with self.ctx.sessions() as s:
            for w in list(self.watchlists):
                try:
                    case = require_searchable(s, w.case_ref, camera=self.camera, actor=self.actor)
                except CaseError as exc:
                    self.watchlists.remove(w)
                    left.append(CaseLeft(w.case_ref, f"{w.case_ref} {exc.reason}"))
                    continue
                if case.watchlist_version != w.version:  # raised by the database at every change (0017)
                    changed.append(w.case_ref)
        if changed:
            try:
                fresh = {w.case_ref: w for w in self._load(changed)}
            except CaseError:  # refused since the look above (audited): it leaves at the next look
                fresh = {}
            self.watchlists[:] = [fresh.get(w.case_ref, w) for w in self.watchlists]
        return left, changed
