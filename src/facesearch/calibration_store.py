"""Which calibration is in force for a search: the site calibration an administrator put in force for the
profile (``facesearch calibrate --save``), or else the one shipped with facesearch (LFW), which says so.

A site calibration is read from its stored curves: with the policy "worst-group", the curve of the whole data
and of every measured group (of one attribute, or of all), the highest FMR at each score (``WorstOf``), so that
a threshold for a target FMR holds in every group; with "overall", the whole data's curve alone. The fusion's
weights stay the shipped calibration's (they are the model's, not the site's). Every search reads it when it
starts, so a change reaches the next search of every process, on every machine sharing the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from facesearch.calibration import Calibration, WorstOf

SHIPPED_LABEL = "shipped (LFW)"


@dataclass(frozen=True)
class InForce:
    """The calibration a search uses, and its name for audit entries, sightings and ``doctor``."""

    calibration: Calibration | None
    label: str
    site_id: int | None = None


def _curve(curve: dict[str, Any], shipped: Calibration, dataset: str, created: str) -> Calibration:
    return Calibration(profile=shipped.profile, models=shipped.models, znorm=shipped.znorm,
                       threshold=shipped.threshold, fmr_scores=tuple(curve["fmr_scores"]),
                       fmr_values=tuple(curve["fmr_values"]), tail_intercept=float(curve["tail_intercept"]),
                       tail_slope=float(curve["tail_slope"]), impostor_comparisons=int(curve["impostor_pairs"]),
                       dataset=dataset, created=created, flip=shipped.flip,
                       genuine_quantiles=tuple(curve.get("genuine_quantiles", ())),
                       genuine_pairs=int(curve.get("genuine_pairs", 0)))


def site_calibration(body: dict[str, Any], shipped: Calibration, *, policy: str, attribute: str | None,
                     label: str) -> Calibration:
    """The stored site calibration ``body`` (``SiteCalibration.to_json``) as the calibration searches use."""
    created = str(body.get("created", ""))
    overall = _curve(body["overall"], shipped, label, created)
    if policy != "worst-group":
        return overall
    groups = [g for g in body.get("groups", []) if g.get("curve") is not None
              and (attribute is None or g["attribute"] == attribute)]
    parts = tuple(_curve(g["curve"], shipped, f"{label}, {g['attribute']}={g['value']}", created) for g in groups)
    fields = {f: getattr(overall, f) for f in Calibration.__dataclass_fields__}
    return WorstOf(**fields, parts=parts)


def in_force(sessions: sessionmaker[Session], profile: str, shipped: Calibration | None) -> InForce:
    """The calibration for ``profile``'s searches now (``shipped``: the engine's own)."""
    from facesearch.store.schema import SiteCalibrationRow

    with sessions() as s:
        row = s.scalar(select(SiteCalibrationRow).where(SiteCalibrationRow.profile == profile,
                                                        SiteCalibrationRow.in_force.is_(True))
                       .order_by(SiteCalibrationRow.id.desc()))
        if row is None or shipped is None:
            return InForce(shipped, SHIPPED_LABEL)
        label = f"site #{row.id} ({row.policy}{'' if row.attribute is None else ' by ' + row.attribute}, data " \
                f"{row.data_sha256[:12]})"
        # Read from its stored curves each time (a few milliseconds, once per search): never stale.
        return InForce(site_calibration(row.body, shipped, policy=row.policy, attribute=row.attribute, label=label),
                       label, row.id)
