"""Undo on a watchlist: take a person off a case, or delete one of their enrolment photos; audited, and only by
people assigned to the case (``cases.access``, with the ``identities.enrol`` role checked by every interface).

Templates go at once, in the transaction that records the removal, with the enrolment photos shown to
reviewers, and the sealed index on disk is deleted right after the commit (it is rebuilt from the database
at the next search), so no search finds the person after the call returns.

- **A person** removed from a case loses that case's target. Their templates are deleted unless another live
  case (authorised or active) still targets them: the rule retention applies when a case ends
  (``cases.service``), so a person searched by two cases stays searchable by the other. The identity's row
  stays (sightings already stored name it, and go with retention); with no template it matches nothing.
- **A photo** (numbered 1, 2, ... in enrolment order, as reviewers see them) is the person's, not the case's:
  its templates (every model profile) are deleted wherever the person is searched. It is refused when another
  live case that the caller is not assigned to targets the person, since it would change that case's watchlist.

Sightings already stored are kept, with their evidence and reviews, until retention deletes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases import access
from facesearch.cases.photos import photo_sources
from facesearch.cases.service import LIVE, CaseError, require_open
from facesearch.context import Context
from facesearch.errors import ConflictError, NotFoundError
from facesearch.refs import case_ref
from facesearch.store.notify import Channel, notify
from facesearch.store.schema import CaseRow, CaseTargetRow, EnrolmentPhotoRow, TemplateRow


class RemovalNotFound(CaseError, NotFoundError):
    """The person is not on the case's watchlist, or has no such photo."""


@dataclass(frozen=True)
class Removal:
    """What a removal deleted: ``kept_by`` other live cases still search the person (their templates stay)."""

    case: str
    identity_id: int
    photo: int | None
    templates_deleted: int
    photos_deleted: int
    kept_by: int = 0
    profiles: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "identity_id": self.identity_id, "photo": self.photo,
                "templates_deleted": self.templates_deleted, "photos_deleted": self.photos_deleted,
                "kept_by_other_cases": self.kept_by}


def _target(s: Session, ref: str, identity_id: int, actor: str) -> CaseRow:
    row = require_open(s, ref)
    access.check(s, actor, row.id, contents=True)
    if s.get(CaseTargetRow, (row.id, identity_id)) is None:
        raise RemovalNotFound(f"identity {identity_id}", f"is not on {case_ref(row.id)}'s watchlist")
    return row


def _other_live_cases(s: Session, case_id: int, identity_id: int) -> list[int]:
    return list(s.scalars(select(CaseRow.id).join(CaseTargetRow, CaseTargetRow.case_id == CaseRow.id)
                          .where(CaseTargetRow.identity_id == identity_id, CaseRow.id != case_id,
                                 CaseRow.status.in_(LIVE)).order_by(CaseRow.id)))


def _delete_templates(s: Session, template_ids: list[int]) -> tuple[int, int, list[str]]:
    """Delete the templates and their enrolment photos (explicitly: not every copy of a database cascades)."""
    if not template_ids:
        return 0, 0, []
    profiles = sorted(set(s.scalars(select(TemplateRow.profile).where(TemplateRow.id.in_(template_ids)))))
    photos = len(list(s.scalars(select(EnrolmentPhotoRow.template_id)
                                .where(EnrolmentPhotoRow.template_id.in_(template_ids)))))
    s.execute(delete(EnrolmentPhotoRow).where(EnrolmentPhotoRow.template_id.in_(template_ids)))
    s.execute(delete(TemplateRow).where(TemplateRow.id.in_(template_ids)))
    for profile in profiles:
        notify(s, Channel.GALLERY, profile)
    return len(template_ids), photos, profiles


def _drop_cached_indexes(ctx: Context, profiles: list[str]) -> None:
    cache = ctx.index_cache()
    for profile in profiles:
        cache.drop(profile)


def remove_person(ctx: Context, case: str, identity_id: int, *, actor: str) -> Removal:
    """Take ``identity_id`` off ``case``'s watchlist, audited; their templates are deleted unless another live
    case still targets them."""
    with ctx.sessions.begin() as s:
        row = _target(s, case, identity_id, actor)
        s.execute(delete(CaseTargetRow).where(CaseTargetRow.case_id == row.id,
                                              CaseTargetRow.identity_id == identity_id))
        notify(s, Channel.WATCH, case_ref(row.id))  # the watchlist changed, whether templates go or stay
        others = _other_live_cases(s, row.id, identity_id)
        doomed = [] if others else list(s.scalars(select(TemplateRow.id).where(TemplateRow.identity_id == identity_id)))
        templates, photos, profiles = _delete_templates(s, doomed)
        result = Removal(case_ref(row.id), identity_id, None, templates, photos, len(others), profiles)
        audit.append(s, actor=actor, action=AuditAction.IDENTITY_REMOVE, case_id=result.case,
                     subject=f"identity:{identity_id}",
                     details={"templates_deleted": templates, "photos_deleted": photos,
                              "kept_for_cases": [case_ref(c) for c in others]})
    _drop_cached_indexes(ctx, profiles)
    return result


class PhotoMoved(CaseError, ConflictError):
    """Photo number K is no longer the photo the caller saw: another removal renumbered the photos."""


def remove_photo(ctx: Context, case: str, identity_id: int, photo: int, *, actor: str,
                 expected_sha256: str | None = None) -> Removal:
    """Delete enrolment photo number ``photo`` (1-based, enrolment order) of a person on ``case``'s watchlist
    and its templates, audited. ``expected_sha256`` (the photo's SHA-256 or a prefix of it, as a page showed
    it): refused unless number ``photo`` is still that photo, so that two people removing "photo 1" at once
    never delete two photos."""
    with ctx.sessions.begin() as s:
        row = _target(s, case, identity_id, actor)
        for other in _other_live_cases(s, row.id, identity_id):
            try:
                access.check(s, actor, other, contents=True)
            except access.CaseForbidden:
                raise access.CaseForbidden(
                    case_ref(row.id), f"identity {identity_id} is also searched by a case you are not assigned "
                    "to: removing a photo would change its watchlist (remove the person from this case instead)"
                ) from None
        sources = photo_sources(s, identity_id)
        if not 1 <= photo <= len(sources):
            raise RemovalNotFound(f"photo {photo}", f"identity {identity_id} has {len(sources)} enrolment photo(s)"
                                  + (f": give 1 to {len(sources)}" if sources else ""))
        digest = sources[photo - 1]
        if expected_sha256 is not None and not digest.startswith(expected_sha256.lower()):
            raise PhotoMoved(f"photo {photo}", "is no longer the photo you saw (the photos changed since): "
                             "look again and choose")
        doomed = list(s.scalars(select(TemplateRow.id).where(TemplateRow.identity_id == identity_id,
                                                             TemplateRow.source_sha256 == digest)))
        templates, photos, profiles = _delete_templates(s, doomed)
        result = Removal(case_ref(row.id), identity_id, photo, templates, photos, 0, profiles)
        audit.append(s, actor=actor, action=AuditAction.IDENTITY_PHOTO_REMOVE, case_id=result.case,
                     subject=f"identity:{identity_id}",
                     details={"photo": photo, "photo_sha256": digest, "templates_deleted": templates,
                              "photos_deleted": photos, "left": len(sources) - 1})
    _drop_cached_indexes(ctx, profiles)
    return result
