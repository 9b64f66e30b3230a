"""``report``: one self-contained HTML file of a case's sightings, for reviewers.

Per person: a timeline of when and where they were seen (one row per recording or camera), then each
sighting with its evidence: the best frame, with everyone but the matched person blurred (as stored:
the report has no access to anything unblurred), and the aligned face that matched. Every sighting is
labelled a candidate until reviewers confirm it. Writing a report is an export, and is audited with
the file's SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import html
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from facesearch.audit import log as audit
from facesearch.audit.actions import AuditAction
from facesearch.cases.service import get_case
from facesearch.context import Context
from facesearch.files import atomic_write
from facesearch.video.recording_length import recording_lengths
from facesearch.video.sightings import Sighting, list_sightings, open_evidence

_STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:22px}h2{font-size:18px;margin-top:2em;border-bottom:1px solid #ccc}
.note{background:#fff6d6;border:1px solid #e6cf73;padding:.6em 1em;border-radius:4px}
.meta td{padding:0 1em 0 0}.sighting{display:flex;gap:1em;margin:1em 0;padding:.8em;border:1px solid #ddd;
border-radius:4px}.sighting img{border-radius:3px}.frame{width:420px}.crop{width:112px;height:112px}
.facts td{padding:0 .8em 0 0;vertical-align:top}.candidate{color:#a15c00;font-weight:600}
svg text{font:11px system-ui,sans-serif}
"""


@dataclass(frozen=True)
class ReportSummary:
    path: Path
    sightings: int
    people: int
    sha256: str


def _img(data: bytes | None, cls: str, alt: str) -> str:
    if data is None:
        return f'<div class="{cls}">(no evidence)</div>'
    encoded = base64.b64encode(data).decode()
    return f'<img class="{cls}" alt="{html.escape(alt)}" src="data:image/jpeg;base64,{encoded}">'


# Bar colours by review status (the same hues as the console's badges, darker so a thin bar shows).
STATUS_COLOURS = {"candidate": "#c98a00", "confirmed": "#2e8b57", "rejected": "#b0413e"}


def _recording(s: Sighting) -> str:
    return f"{s.camera + ': ' if s.camera else ''}{Path(s.source).name}"


def timeline_svg(sightings: list[Sighting], lengths: Mapping[str, float] | None = None) -> str:
    """An SVG strip per person and recording, labelled with both: a bar from each sighting's start to its end,
    coloured by its review status (legend above), on an axis in seconds that runs to the end of the longest
    recording (``lengths``: seconds by ``Sighting.source``, as scans record them; a recording without one ends
    at its last sighting). It fills the width it is given: bars and ticks are placed in percent of it, while
    text keeps its size, so a phone's narrow screen shrinks the bars, not the labels.

    >>> timeline_svg(list_sightings(s, "C1", actor=actor), {"/media/a.mp4": 120.0})[:4]  # doctest: +SKIP
    '<svg'
    """
    lengths = lengths or {}
    ends: dict[str, float] = defaultdict(float)  # each recording's length: as stored, else its last sighting's end
    for s in sightings:
        ends[s.source] = max(ends[s.source], s.end, lengths.get(s.source, 0.0))
    span = max([*ends.values(), 1.0])
    rows: dict[tuple[str, int, str], list[Sighting]] = defaultdict(list)
    for s in sightings:
        rows[(s.name, s.identity_id, _recording(s))].append(s)

    def pct(seconds: float) -> str:
        return f"{100 * seconds / span:.2f}%"

    step, top = 40, 26
    height = top + step * len(rows) + 22
    parts = [f'<svg class="timeline" width="100%" height="{height}" role="img" font-family="system-ui,sans-serif" '
             f'font-size="13" aria-label="timeline of {len(sightings)} sightings by person and recording">']
    x = 0
    for status, colour in STATUS_COLOURS.items():  # the legend
        parts.append(f'<rect x="{x}" y="4" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{x + 16}" y="14">{status}</text>')
        x += 24 + 8 * len(status)
    for i, ((name, identity_id, recording), items) in enumerate(sorted(rows.items())):
        y = top + i * step
        label = f"{name} (identity {identity_id}) · {recording}"
        source = items[0].source
        parts.append(f'<text x="0" y="{y + 12}"><tspan font-weight="600">{html.escape(name[:40])}</tspan>'
                     f'<tspan fill="#5b6573"> · {html.escape(recording[:48])}</tspan><title>{html.escape(label)}'
                     "</title></text>")
        parts.append(f'<line x1="0" y1="{y + 24}" x2="{pct(ends[source])}" y2="{y + 24}" stroke="#c9ced6" '
                     'stroke-width="2"/>')
        for s in items:
            colour = STATUS_COLOURS.get(s.status, "#3a7bd5")
            width = f"{max(100 * (s.end - s.start) / span, 0.4):.2f}%"
            parts.append(f'<rect data-status="{html.escape(s.status)}" x="{pct(s.start)}" y="{y + 17}" width="{width}" '
                         f'height="14" rx="2" fill="{colour}"><title>#{s.id} {html.escape(name)}: {s.start:.1f}-'
                         f"{s.end:.1f} s, {html.escape(s.status)}, score {s.score:.3f}</title></rect>")
    axis_y = top + len(rows) * step + 14
    ticks = 4  # few enough that their labels stay apart on a phone
    for k in range(ticks + 1):
        anchor = "start" if k == 0 else "end" if k == ticks else "middle"  # the end labels stay inside the strip
        at = span * k / ticks
        shown = f"{at:.1f}" if span < 100 else f"{at:.0f}"
        parts.append(f'<text x="{pct(at)}" y="{axis_y}" text-anchor="{anchor}" fill="#5b6573">{shown} s</text>')
    parts.append("</svg>")
    return "".join(parts)


def write_report(ctx: Context, case_ref: str, out: Path, *, actor: str) -> ReportSummary:
    sessions, sealer = ctx.sessions, ctx.sealer
    case = get_case(sessions, case_ref, actor=actor, contents=True)  # need to know: assigned people only
    with sessions() as s:
        sightings = list_sightings(s, case_ref, actor=actor)
        evidence = {x.id: open_evidence(s, sealer, x.id, actor=actor) for x in sightings}
        lengths = recording_lengths(s, case_ref, actor=actor)  # each timeline runs to its recording's end
    people: dict[str, list[Sighting]] = defaultdict(list)
    for x in sightings:
        people[x.name].append(x)
    now = datetime.now(UTC)
    body = [f"<h1>{html.escape(case.ref)}: {html.escape(case.title)}</h1>",
            '<p class="note">Every sighting below is a <b>candidate</b> found by face recognition: it is not an '
            "identification until the required reviewers confirm it, and nothing may be done on its strength "
            "alone. Everyone other than the matched person is blurred.</p>",
            '<table class="meta">'
            f"<tr><td>Purpose</td><td>{html.escape(case.purpose)}</td></tr>"
            f"<tr><td>Legal basis</td><td>{html.escape(str(case.fields.get('legal_basis') or ''))}</td></tr>"
            f"<tr><td>Authorisation</td><td>{html.escape(str(case.fields.get('authorisation_ref') or ''))}, "
            f"{html.escape(str(case.fields.get('authorised_by') or ''))}</td></tr>"
            f"<tr><td>Valid</td><td>{case.valid_from:%Y-%m-%d %H:%M} to {case.valid_until:%Y-%m-%d %H:%M} UTC</td></tr>"
            f"<tr><td>Covers recordings</td><td>{case.recorded_from:%Y-%m-%d %H:%M} to "
            f"{case.recorded_until:%Y-%m-%d %H:%M} UTC</td></tr>"
            f"<tr><td>Status</td><td>{html.escape(case.status)}; {case.reviewers_required} reviewers required</td></tr>"
            f"<tr><td>Report</td><td>written {now:%Y-%m-%d %H:%M} UTC by {html.escape(actor)}; "
            f"{len(sightings)} sightings of {len(people)} people</td></tr></table>"]
    if not sightings:
        body.append("<p>No sightings.</p>")
    for name, items in sorted(people.items()):
        body.append(f"<h2>{html.escape(name)} ({len(items)} sightings)</h2>{timeline_svg(items, lengths)}")
        for x in items:
            ev = evidence[x.id]
            source = x.time_source + (", weak" if x.time_weak else "")
            when = f"{x.started_at:%Y-%m-%d %H:%M:%S} UTC ({source})" if x.started_at else "unknown"
            body.append(
                f'<div class="sighting">{_img(ev.get("frame"), "frame", f"sighting {x.id}, best frame")}'
                f'{_img(ev.get("crop"), "crop", f"sighting {x.id}, matched face")}<table class="facts">'
                f'<tr><td>Sighting</td><td>#{x.id} <span class="candidate">{html.escape(x.status)}</span></td></tr>'
                f"<tr><td>Where</td><td>{html.escape(x.camera or '-')}, {html.escape(x.source)}</td></tr>"
                f"<tr><td>When</td><td>{x.start:.2f}-{x.end:.2f} s into the recording (best view at {x.best:.2f} s); "
                f"{html.escape(when)}</td></tr>"
                f"<tr><td>Score</td><td>{x.score:.4f} (threshold {x.threshold:.4f})</td></tr>"
                f"<tr><td>False match rate</td><td>{x.fmr:.2g} (about 1 in {1 / max(x.fmr, 1e-12):,.0f} "
                "comparisons of different people score this high)</td></tr></table></div>")
    document = (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{html.escape(case.ref)} '
                f"sightings</title><style>{_STYLE}</style></head><body>{''.join(body)}</body></html>")
    data = document.encode()
    atomic_write(out, data)
    digest = hashlib.sha256(data).hexdigest()
    with sessions.begin() as s:
        audit.append(s, actor=actor, action=AuditAction.EXPORT_REPORT, case_id=case.ref, subject=str(out),
                     details={"sha256": digest, "sightings": [x.id for x in sightings], "people": len(people)})
    return ReportSummary(out, len(sightings), len(people), digest)
