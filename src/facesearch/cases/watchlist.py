"""A case's watchlist, as every search sees it: the targets' index, their names, and the threshold.

The threshold holds the false positive identification rate per searched face or track to the target
(default 1e-3) for a watchlist of N people: each of the N comparisons may false-match at most FPIR / N
(FPIR ~= N x FMR for small rates). A case that may not be searched (not active, expired, closed, not
allowed on the camera, limited to cameras and searched without one, or searched on a camera that is not
registered) is refused with ``CaseError``, and the refusal is audited.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import NoReturn

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.audit.chain import JsonValue
from facesearch.calibration import Calibration
from facesearch.calibration_store import SHIPPED_LABEL, in_force
from facesearch.cases.service import CaseError, as_utc, recording_window, require_searchable
from facesearch.engine import Engine
from facesearch.errors import FacesearchError
from facesearch.gallery.service import load_index
from facesearch.index.cache import IndexCache
from facesearch.index.gallery_index import GalleryIndex
from facesearch.refs import RefKind, case_ref, normalise_ref
from facesearch.store import sealed_text
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CaseTargetRow, IdentityRow

DEFAULT_FPIR = 1e-3


@dataclass(frozen=True)
class CaseWatchlist:
    case_ref: str
    index: GalleryIndex
    names: dict[int, str]  # the targets that have templates
    threshold: float
    threshold_extrapolated: bool  # beyond the calibration's measured scores
    target_fpir: float
    valid_from: datetime  # the validity: when searches may run (``require_searchable`` checks it)
    valid_until: datetime
    recorded_from: datetime  # the recording window: which recordings a search may cover
    recorded_until: datetime
    version: int = 0  # the case's watchlist version when loaded (read before the index: never newer than it)
    # The calibration the threshold came from (the site's in force, or the shipped one) and its name for the
    # sightings and audit entries; None only in watchlists built by hand (tests): the engine's then.
    calibration: Calibration | None = None
    calibration_label: str = SHIPPED_LABEL

    @property
    def size(self) -> int:
        return len(self.names)

    def covers(self, moment: datetime | None) -> bool:
        """Whether footage recorded at ``moment`` falls inside the case's recording window (unknown: it
        does not)."""
        return moment is not None and self.recorded_from <= moment <= self.recorded_until

    def live(self) -> CaseWatchlist:
        """This watchlist for a live watch, which always covers "now": its recording window widened to
        take in the validity (a watch runs only while the case is valid)."""
        return replace(self, recorded_from=min(self.recorded_from, self.valid_from),
                       recorded_until=max(self.recorded_until, self.valid_until))


class WatchlistShelf:
    """The watchlist indexes one process's searches share (a cluster node's cameras): one copy per case and
    watchlist version, held for as long as some search holds it. The version is raised by the database at every
    change of what the watchlist holds (migration 0017), so an index found here is the one the database would
    give. One shelf serves one database."""

    def __init__(self) -> None:
        self._indexes: weakref.WeakValueDictionary[tuple[int, int, str], GalleryIndex] = \
            weakref.WeakValueDictionary()
        self._lock = threading.Lock()
        self.loads = 0  # indexes read from the database or the index cache (the rest were shared)

    def index(self, case_id: int, version: int, profile: str, load: Callable[[], GalleryIndex]) -> GalleryIndex:
        key = (case_id, version, profile)
        with self._lock:  # one load per key, even when a node's cameras all ask at once
            found = self._indexes.get(key)
            if found is None:
                found = load()
                self._indexes[key] = found
                self.loads += 1
            return found


def load_watchlists(engine: Engine, sessions: sessionmaker[Session], sealer: Sealer, case_refs: list[str], *,
                    camera: str | None, actor: str, fpir: float = DEFAULT_FPIR,
                    refusal_details: Mapping[str, JsonValue] | None = None,
                    cache: IndexCache | None = None, shelf: WatchlistShelf | None = None) -> list[CaseWatchlist]:
    """The watchlists of ``case_refs``, each searchable now (and on ``camera``); ``refusal_details`` go
    into the audit entry of a refusal (what was to be searched); ``shelf``: indexes shared with the process's
    other searches."""
    found = in_force(sessions, engine.profile, engine.calibration)
    calibration = found.calibration
    if calibration is None:
        raise FacesearchError(engine.profile, "profile is not calibrated: identification needs calibrated scores")
    out: list[CaseWatchlist] = []
    for ref in case_refs:
        refused: CaseError | None = None
        with sessions() as s:
            try:
                case = require_searchable(s, ref, camera=camera, actor=actor)
            except CaseError as exc:
                refused = exc
            else:
                targets = set(s.scalars(select(CaseTargetRow.identity_id).where(CaseTargetRow.case_id == case.id)))
                names = {r.id: sealed_text.get(s, r, "name", sealer)
                         for r in s.scalars(select(IdentityRow).where(IdentityRow.id.in_(targets)))}
                window = (as_utc(case.valid_from), as_utc(case.valid_until), *recording_window(case))
                version = case.watchlist_version
        if refused is not None:
            _refuse(sessions, ref, refused, camera=camera, actor=actor, refusal_details=refusal_details)

        def load(targets: set[int] = targets) -> GalleryIndex:
            return load_index(sessions, sealer, engine.profile, engine.embedding_size, identity_ids=targets,
                              cache=cache)

        index = shelf.index(case.id, version, engine.profile, load) if shelf is not None else load()
        present = {int(i) for i in index.identity_ids.tolist()}
        names = {i: n for i, n in names.items() if i in present}
        threshold, extrapolated = calibration.operating_threshold(
            fpir / max(len(names), 1), subject=case_ref(case.id),
            advice=f"a watchlist of {len(names)} at an FPIR of {fpir:g} needs it; raise the FPIR or split the "
                   "watchlist")
        out.append(CaseWatchlist(case_ref(case.id), index, names, threshold, extrapolated, fpir, *window, version,
                                 calibration, found.label))
    return out


def check_searchable(sessions: sessionmaker[Session], ref: str, *, camera: str | None, actor: str,
                     refusal_details: Mapping[str, JsonValue] | None = None) -> None:
    """Refuse now, audited as a search's refusal is, a search of case ``ref`` (on ``camera``) that
    ``load_watchlists`` would refuse: for work queued to run later (a scan job), so that the caller hears
    of the refusal when asking. The search checks again when it starts."""
    with sessions() as s:
        try:
            require_searchable(s, ref, camera=camera, actor=actor)
        except CaseError as exc:
            refused = exc
        else:
            return
    _refuse(sessions, ref, refused, camera=camera, actor=actor, refusal_details=refusal_details)


def _refuse(sessions: sessionmaker[Session], ref: str, refused: CaseError, *, camera: str | None, actor: str,
            refusal_details: Mapping[str, JsonValue] | None) -> NoReturn:
    with sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.SEARCH_REFUSED, case_id=normalise_ref(ref, RefKind.CASE),
                     details={**(refusal_details or {}), "camera": camera, "reason": refused.reason})
    raise refused
