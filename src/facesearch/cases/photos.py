"""A watchlist's enrolment photos, as the case page shows them: how many each person has, and one photo as a
small thumbnail, only to people who may see the case's contents (``cases.access``: assigned to it).

Photos are numbered 1, 2, ... in enrolment order (the order of the person's templates), one number per photo
whatever the number of model profiles that made templates from it: the numbers ``removal.remove_photo`` and
``case remove-person --photo`` take.
"""

from __future__ import annotations

import io

from PIL import Image
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.cases import access
from facesearch.cases.service import CaseError, CaseNotFound
from facesearch.errors import NotFoundError
from facesearch.gallery.service import photo_purpose
from facesearch.refs import case_ref, parse_case_ref
from facesearch.store.crypto import Sealer
from facesearch.store.schema import CaseRow, CaseTargetRow, EnrolmentPhotoRow, TemplateRow

THUMB_SIDE = 160  # pixels, longer side: sharp at 64-80 CSS pixels on a phone's 2x screen


class PhotoNotFound(CaseError, NotFoundError):
    """The person is not on the case's watchlist, or has no such photo (or it was deleted)."""


def photo_sources(s: Session, identity_id: int) -> list[str]:
    """The SHA-256 of each of the person's enrolment photos, photo 1 first (the numbering of every interface)."""
    sources: list[str] = []
    for source in s.scalars(select(TemplateRow.source_sha256).where(TemplateRow.identity_id == identity_id)
                            .order_by(TemplateRow.id)):
        if source not in sources:
            sources.append(source)
    return sources


def _visible(s: Session, case: str, actor: str) -> CaseRow:
    row = s.get(CaseRow, parse_case_ref(case))
    if row is None:
        raise CaseNotFound(str(case), "no such case")
    access.check(s, actor, row.id, contents=True)
    return row


def watchlist_photos(sessions: sessionmaker[Session], case: str, *, actor: str) -> dict[int, list[str]]:
    """Each person's enrolment photos on ``case``'s watchlist (their SHA-256, photo 1 first), by identity id,
    when ``actor`` may see the case's contents (``CaseForbidden`` otherwise)."""
    with sessions() as s:
        row = _visible(s, case, actor)
        people = s.scalars(select(CaseTargetRow.identity_id).where(CaseTargetRow.case_id == row.id))
        return {identity_id: photo_sources(s, identity_id) for identity_id in people}


def watchlist_thumbnail(sessions: sessionmaker[Session], sealer: Sealer, case: str, identity_id: int, photo: int,
                        *, actor: str) -> bytes:
    """Enrolment photo number ``photo`` of a person on ``case``'s watchlist, as a JPEG at most ``THUMB_SIDE``
    pixels on its longer side; ``CaseForbidden`` unless ``actor`` may see the case's contents, ``PhotoNotFound``
    for a person not on this case's watchlist or no such photo.

    >>> watchlist_thumbnail(ctx.sessions, ctx.sealer, "C1", 4, 1, actor="user:olga")[:2]  # doctest: +SKIP
    b'\\xff\\xd8'
    """
    with sessions() as s:
        row = _visible(s, case, actor)
        if s.get(CaseTargetRow, (row.id, identity_id)) is None:
            raise PhotoNotFound(f"identity {identity_id}", f"is not on {case_ref(row.id)}'s watchlist")
        sources = photo_sources(s, identity_id)
        if not 1 <= photo <= len(sources):
            raise PhotoNotFound(f"photo {photo}", f"identity {identity_id} has {len(sources)} enrolment photo(s)")
        found = s.execute(select(EnrolmentPhotoRow).join(TemplateRow, TemplateRow.id == EnrolmentPhotoRow.template_id)
                          .where(TemplateRow.identity_id == identity_id,
                                 TemplateRow.source_sha256 == sources[photo - 1])
                          .order_by(TemplateRow.id).limit(1)).scalar_one_or_none()
        if found is None:  # enrolled before enrolment photos were kept
            raise PhotoNotFound(f"photo {photo}", f"identity {identity_id}'s photo was not kept for reviewers")
        return _thumbnail(sealer.open(found.sealed, photo_purpose(found.template_id)))


def _thumbnail(jpeg: bytes) -> bytes:
    with Image.open(io.BytesIO(jpeg)) as img:
        shown = img.convert("RGB")
    shown.thumbnail((THUMB_SIDE, THUMB_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    shown.save(out, format="JPEG", quality=85)
    return out.getvalue()
