"""The evaluation report as files: ``report.json`` (every number), one PNG per figure, and
``index.html``, one self-contained page (the figures inlined) that reads well in a browser.

Everything here is drawn from the report's JSON, so any figure can be redrawn from ``report.json``
alone; every figure carries the data set, the model, the protocol and the date.
"""

from __future__ import annotations

import base64
import html
import json
import math
from pathlib import Path
from typing import Any

import numpy as np


def _pct(value: float | None) -> str:
    """A rate as a plain number (3 significant digits): one format for values and their intervals."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{value:.3g}"


def _rate(rate: dict[str, Any] | None) -> str:
    if not rate:
        return "–"
    low, high = rate["ci95"]
    text = f"{_pct(rate['value'])} <span class=ci>[{_pct(low)}, {_pct(high)}]</span>"
    text += f" <span class=n>{rate['errors']:,}/{rate['trials']:,}</span>"
    return text if rate["resolved"] else text + " <span class=flag>fewer than 30 errors</span>"


def _caption(data: dict[str, Any]) -> str:
    """Two lines under every figure: what was measured, with what, how and when."""
    e = data["evidence"]
    return (f"{e['dataset']} · model {e['profile']} ({', '.join(e['models'])}) · {e['created'][:10]}\n"
            f"{e['protocol'][:150]}")


def _figures(data: dict[str, Any], out: Path) -> dict[str, Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    caption = _caption(data)
    made: dict[str, Path] = {}

    def save(fig: Any, name: str) -> None:
        fig.text(0.01, 0.01, caption, fontsize=6, color="#555", wrap=True)
        fig.tight_layout(rect=(0, 0.07, 1, 1))
        path = out / f"{name}.png"
        fig.savefig(path)
        plt.close(fig)
        made[name] = path

    one = data.get("one_to_one", {})
    if "histogram" in one:
        h = one["histogram"]
        bins = np.array(h["bins"])
        centres = (bins[:-1] + bins[1:]) / 2
        fig, ax = plt.subplots(figsize=(7, 4.0), dpi=110)
        for key, colour in (("impostor", "#c0392b"), ("genuine", "#2456a6")):
            counts = np.array(h[key], float)
            ax.plot(centres, counts / max(counts.sum(), 1), color=colour, label=f"{key} ({int(counts.sum()):,})")
        ax.axvline(data["operating_threshold"], color="#333", ls="--", lw=1, label="operating threshold")
        filled = np.flatnonzero(np.array(h["impostor"]) + np.array(h["genuine"]))
        if len(filled):
            ax.set_xlim(centres[filled[0]] - 0.05, min(1.0, centres[filled[-1]] + 0.05))
        ax.set_yscale("log")
        ax.set_xlabel("score")
        ax.set_ylabel("share of comparisons")
        ax.set_title("1:1 score distributions")
        ax.legend(fontsize=8)
        save(fig, "scores")
        det_fmr, det_fnmr = np.array(one["det"]["fmr"]), np.array(one["det"]["fnmr"])
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
        ax.loglog(det_fmr, np.maximum(det_fnmr, 1e-5), color="#2456a6")
        ax.set_xlabel("FMR (false match rate)")
        ax.set_ylabel("FNMR (false non-match rate)")
        ax.set_title("DET")
        ax.grid(True, which="both", alpha=0.3)
        save(fig, "det")
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
        ax.semilogx(det_fmr, 1 - det_fnmr, color="#2456a6")
        ax.set_xlabel("FMR")
        ax.set_ylabel("TMR (1 - FNMR)")
        ax.set_title("ROC")
        ax.grid(True, which="both", alpha=0.3)
        save(fig, "roc")

    cal = data.get("calibration", {})
    if "per_target" in cal:
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
        for row in cal["per_target"]:
            t = row["target_fmr"]
            ax.errorbar([t], [max(row["observed_median"], 1e-7)],
                        yerr=[[max(row["observed_median"] - row["observed_min"], 0)],
                              [max(row["observed_max"] - row["observed_median"], 0)]],
                        fmt="o", color="#2456a6" if row["resolved"] else "#999", capsize=3)
        lims = [min(r["target_fmr"] for r in cal["per_target"]) / 3, 0.05]
        ax.loglog(lims, lims, color="#333", lw=1, ls="--", label="observed = predicted")
        ax.set_xlabel("FMR predicted (fitted without the fold)")
        ax.set_ylabel("FMR observed on the held-out fold")
        ax.set_title(f"Calibration on held-out folds ({cal['folds']})")
        ax.legend(fontsize=8)
        save(fig, "calibration")

    ident = data.get("identification", {})
    if "rows" in ident:
        rows = ident["rows"]
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
        sizes = [r["watchlist"] for r in rows]
        ax.loglog(sizes, [max(r["fpir"], 1e-5) for r in rows], "o-", color="#c0392b", label="FPIR (false alerts)")
        ax.loglog(sizes, [max(r["fnir"], 1e-5) for r in rows], "s-", color="#2456a6", label="FNIR (misses)")
        ax.set_xlabel("watchlist size (people)")
        ax.set_ylabel("rate at the fixed operating threshold")
        ax.set_title("1:N: false alerts grow with the watchlist")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, "watchlist")
        fig, ax = plt.subplots(figsize=(7, 4.6), dpi=110)
        for r in rows:
            curve = r["curve"]
            fpir, fnir = np.array(curve["fpir"]), np.maximum(np.array(curve["fnir"]), 1e-4)
            ok = np.array(curve["resolved"], bool)
            line = ax.loglog(fpir[ok], fnir[ok], label=f"{r['watchlist']:,} people")[0]
            ax.loglog(fpir[~ok], fnir[~ok], ls=":", color=line.get_color())  # fewer than 30 false alerts
        ax.set_xlabel("FPIR (dotted: fewer than 30 false alerts)")
        ax.set_ylabel("FNIR")
        ax.set_title("1:N: FNIR against FPIR for each watchlist size")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
        save(fig, "fnir_fpir")

    groups = data.get("groups", {})
    for attribute, result in groups.get("attributes", {}).items():
        usable = [r for r in result["rows"] if "fmr" in r]
        if not usable:
            continue
        fig, axes = plt.subplots(1, 2, figsize=(8, 4.0), dpi=110)
        for ax, key, title in ((axes[0], "fmr", "FMR"), (axes[1], "fnmr", "FNMR")):
            names = [r["group"] for r in usable if r.get(key)]
            values = [r[key]["value"] for r in usable if r.get(key)]
            errors = [[v - r[key]["ci95"][0] for v, r in zip(values, usable, strict=False)],
                      [r[key]["ci95"][1] - v for v, r in zip(values, usable, strict=False)]]
            ax.bar(names, values, yerr=errors, capsize=4, color="#2456a6")
            ax.set_title(f"{title} per group at the operating threshold")
        fig.suptitle(attribute, fontsize=10)
        save(fig, f"groups-{attribute}")
    return made


CSS = """body{font:15px/1.5 system-ui,sans-serif;max-width:980px;margin:2em auto;padding:0 1.2em;color:#1d2430}
h1{font-size:24px}h2{font-size:19px;margin-top:2em;border-bottom:1px solid #dde2e8}table{border-collapse:collapse;
margin:.8em 0}th,td{padding:.3em .7em;border-bottom:1px solid #eef1f4;text-align:left}th{background:#f0f3f6}
.ci,.n{color:#6b7787;font-size:13px}.flag{color:#b36b00;font-size:12px}.note{background:#fff8e1;padding:.5em 1em;
border-left:3px solid #e6b800}img{max-width:100%;border:1px solid #eef1f4}.meta td:first-child{color:#6b7787}"""


def _img(path: Path | None, alt: str) -> str:
    if path is None:
        return ""
    data = base64.b64encode(path.read_bytes()).decode()
    return f'<p><img src="data:image/png;base64,{data}" alt="{html.escape(alt)}"></p>'


def _site_section(site: dict[str, Any] | None) -> list[str]:
    """The site calibration beside the shipped one (``facesearch calibrate``), target by target and group by
    group: the thresholds that hold on the deployer's own faces."""
    if not site:
        return []
    parts = ["<h2>Site calibration beside the shipped one</h2>"]
    if "rows" not in site:
        return [*parts, f'<p class="note">{html.escape(site.get("note", "not computed"))}</p>']
    groups = sorted({g for r in site["rows"] for g in r["groups"]})
    attributes = sorted({a for r in site["rows"] for a in r["worst"]})
    parts.append(f"<p>Measured on {html.escape(site['source'])}: {site['images']:,} images of {site['people']:,} "
                 f"people, {site['impostor_pairs']:,} impostor pairs (data sha256 {site['data_sha256'][:16]}…, "
                 f"{html.escape(site['created'])}); shipped: {html.escape(str(site['shipped']))}. A threshold the "
                 "data cannot support (fewer than 30 errors at the target) is left blank.</p>")
    head = ["target FMR", "shipped", "site (all)", *groups, *(f"worst by {a}" for a in attributes)]
    parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")

    def cell(value: float | None) -> str:
        return "–" if value is None else f"{value:.4f}"

    for r in site["rows"]:
        worst = [r["worst"][a] for a in attributes]
        cells = [f"{r['target']:g}", cell(r["shipped"]), cell(r["site"]), *(cell(r["groups"].get(g)) for g in groups),
                 *(cell(w["threshold"]) + ("" if w["group"] is None else f" ({html.escape(w['group'])})")
                   for w in worst)]
        parts.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    parts.append("</table>")
    parts += [f'<p class="note">{html.escape(n)}</p>' for n in site.get("too_small", [])]
    return parts


def render(data: dict[str, Any], out: Path) -> Path:
    """Write ``report.json``, the PNGs and ``index.html`` under ``out``; returns the HTML's path."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(data, indent=1, default=float) + "\n")
    figures = _figures(data, out)
    e, s = data["evidence"], data["settings"]
    parts = [f"<h1>Evaluation report: {html.escape(e['profile'])}</h1>",
             '<table class="meta">',
             *(f"<tr><td>{k}</td><td>{html.escape(str(v))}</td></tr>" for k, v in (
                 ("data set", e["dataset"]), ("model", f"{e['profile']} ({', '.join(e['models'])})"),
                 ("protocol", e["protocol"]), ("created", e["created"]),
                 ("operating point", f"FMR {s['operating_fmr']:g} → threshold {data['operating_threshold']:.4f}"),
                 ("intervals", f"95%, bootstrap over people ({s['rounds']} resamples)"))),
             "</table>"]
    parts += [f'<p class="note">{html.escape(p)}</p>' for p in data.get("problems", [])]

    one = data.get("one_to_one", {})
    parts.append("<h2>1:1 verification</h2>")
    if "thresholds" in one:
        parts.append(f"<p>{one['images']:,} images of {one['people']:,} people: every pair compared, "
                     f"{one['genuine']:,} genuine and {one['impostor']:,} impostor comparisons.</p>")
        parts.append("<table><tr><th>target FMR</th><th>threshold</th><th>FMR observed</th><th>FNMR</th></tr>")
        for r in one["thresholds"]:
            if r["supported"]:
                parts.append(f"<tr><td>{r['target_fmr']:g}</td><td>{r['threshold']:.4f}</td><td>{_rate(r['fmr'])}"
                             f"</td><td>{_rate(r['fnmr'])}</td></tr>")
            else:
                parts.append(f"<tr><td>{r['target_fmr']:g}</td><td colspan=3>{html.escape(r['note'])}</td></tr>")
        parts.append("</table>")
        parts += [_img(figures.get(k), k) for k in ("scores", "det", "roc")]
    else:
        parts.append(f'<p class="note">{html.escape(one.get("note", ""))}</p>')

    cal = data.get("calibration", {})
    parts.append("<h2>Calibration: the score → FMR mapping on held-out folds</h2>")
    if "per_target" in cal:
        parts.append("<p>For each fold, the mapping is fitted on the other folds' impostor comparisons; the "
                     "threshold it gives for each target is applied to the held-out fold.</p><table><tr><th>target"
                     "</th><th>observed (median of folds)</th><th>range</th><th></th></tr>")
        for r in cal["per_target"]:
            flag = "" if r["resolved"] else "<span class=flag>too few comparisons per fold to resolve</span>"
            parts.append(f"<tr><td>{r['target_fmr']:g}</td><td>{r['observed_median']:.2g}</td><td>"
                         f"{r['observed_min']:.2g} – {r['observed_max']:.2g}</td><td>{flag}</td></tr>")
        parts.append("</table>")
        if "shipped" in cal:
            parts.append(f"<p>The shipped calibration ({html.escape(cal['shipped']['dataset'])}) is what "
                         "<code>verify</code> and <code>identify</code> print; it was measured on all folds, so "
                         "only the held-out check above is a test of it.</p>")
        parts.append(_img(figures.get("calibration"), "calibration"))
    else:
        parts.append(f'<p class="note">{html.escape(cal.get("note", "not computed"))}</p>')

    ident = data.get("identification", {})
    parts.append("<h2>1:N identification against watchlist size</h2>")
    if "rows" in ident:
        parts.append(f"<p>At the fixed operating threshold {ident['threshold']:.4f}; {html.escape(ident['note'])}."
                     "</p><table><tr><th>watchlist</th><th>FPIR (false alerts)</th><th>FNIR (misses)</th>"
                     f"<th>FNIR at FPIR {s['fpir']:g} (threshold set per size)</th></tr>")
        for r in ident["rows"]:
            at = r["at_fpir"]
            parts.append(f"<tr><td>{r['watchlist']:,}</td><td>{_pct(r['fpir'])} <span class=n>"
                         f"{r['false_alerts']:,}/{r['nonmated']:,}</span></td><td>{_pct(r['fnir'])} <span class=n>"
                         f"{r['misses']:,}/{r['mated']:,}</span></td><td>{_pct(at.get('fnir'))}</td></tr>")
        parts.append("</table>" + _img(figures.get("watchlist"), "watchlist") + _img(figures.get("fnir_fpir"),
                                                                                     "FNIR against FPIR"))
    else:
        parts.append(f'<p class="note">{html.escape(ident.get("note", "not computed"))}</p>')

    groups = data.get("groups")
    if groups:
        parts.append("<h2>Demographic differentials</h2>")
        parts.append(f"<p>Group labels from {html.escape(groups['source'])}; impostor pairs are drawn within each "
                     "group. The labels describe the data set; facesearch never infers them.</p>")
        parts += [f'<p class="note">{html.escape(p)}</p>' for p in groups.get("problems", [])]
        if "note" in groups:
            parts.append(f'<p class="note">{html.escape(groups["note"])}</p>')
        for attribute, result in groups.get("attributes", {}).items():
            parts.append(f"<h3>{html.escape(attribute)}</h3><table><tr><th>group</th><th>people</th><th>FMR</th>"
                         f"<th>FNMR</th><th>threshold for FMR {s['operating_fmr']:g}</th></tr>")
            for r in result["rows"]:
                if "fmr" not in r:
                    parts.append(f"<tr><td>{html.escape(r['group'])}</td><td>{r['people']}</td>"
                                 f"<td colspan=3>{html.escape(r['note'])}</td></tr>")
                    continue
                own = f"{r['threshold_for_target']:.4f}" + ("" if r["threshold_supported"] else
                                                             " <span class=flag>unresolved</span>")
                parts.append(f"<tr><td>{html.escape(r['group'])}</td><td>{r['people']:,}</td><td>{_rate(r['fmr'])}"
                             f"</td><td>{_rate(r['fnmr'])}</td><td>{own}</td></tr>")
            parts.append("</table>")
            if "fmr_ratio" in result:
                def ratio(value: float | None) -> str:
                    return "undefined (a group has no errors)" if value is None else f"× {value:.2f}"

                parts.append(f"<p>Worst/best group: FMR {ratio(result['fmr_ratio'])}, FNMR "
                             f"{ratio(result['fnmr_ratio'])}. A threshold of {result['worst_group_threshold']:.4f} "
                             f"holds every group at FMR {s['operating_fmr']:g} or below (where measurable).</p>")
            for r in result.get("at_worst_group_threshold", []):
                parts.append(f"<p>At that threshold, {html.escape(r['group'])}: FMR {_rate(r['fmr'])}, FNMR "
                             f"{_rate(r['fnmr'])}</p>")
            parts.append(_img(figures.get(f"groups-{attribute}"), attribute))
    parts += _site_section(data.get("site_calibration"))
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>facesearch evaluation: "
            f"{html.escape(e['profile'])}</title><style>{CSS}</style></head><body>{''.join(parts)}"
            f"<p class=n>Every number and figure here is in report.json beside this file.</p></body></html>")
    path = out / "index.html"
    path.write_text(page)
    return path
