"""Site calibration, measured (issue 18): calibrate on one half of a labelled face set, then on the other half
compare, group by group, the FMR at the target and the FNMR it costs before (the shipped LFW calibration) and
after (the site calibration, overall and worst-group).

Data: LFW split by person (alternate people in name order), groups the perceived gender of ``lfw-gender``; and
the AT&T faces split by person (people 1-20 and 21-40: a different population, greyscale 92x112, no groups).
The shipped calibration was itself made on all of LFW, so on LFW "before" is the calibration's own population;
AT&T is not.

    python benchmarks/site_calibration.py [--quick] [--no-record]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from _common import markdown_table, record


def rate(r: dict | None) -> str:
    if r is None:
        return "-"
    low, high = r["ci95"]
    return f"{r['value']:.2g} ({low:.2g}-{high:.2g}; {r['errors']:,}/{r['trials']:,})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="every third LFW person, three photos each")
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()

    from facesearch.calibration_store import site_calibration
    from facesearch.engine import Engine
    from facesearch.eval.site import build_site_calibration, check_on_faces, embed_site_faces
    from facesearch.eval.site_data import SiteData, SiteImage
    from facesearch.eval.site_force import stored_body
    from support.site_data import ATT, lfw_gender_halves

    engine = Engine()
    assert engine.calibration is not None
    targets = (1e-3, 1e-4)
    lfw = lfw_gender_halves(people_step=3, per_person=3) if args.quick else lfw_gender_halves()
    att = tuple(SiteData(f"AT&T people {lo}-{hi}", [SiteImage(p, f"id:s{k}") for k in range(lo, hi + 1)
                                                   for p in sorted((ATT / f"s{k}").glob("*.pgm"))], True)
                for lo, hi in ((1, 20), (21, 40)))
    rows, notes = [], []
    for name, (first, second) in (("LFW by gender", lfw), ("AT&T", att)):
        began = time.perf_counter()
        site = build_site_calibration(engine, first, targets=targets)
        fresh = embed_site_faces(engine, second)
        built_s = time.perf_counter() - began
        body = stored_body(site)
        calibrations = {"before: shipped (LFW)": engine.calibration,
                        "after: site, overall": site_calibration(body, engine.calibration, policy="overall",
                                                                 attribute=None, label="overall")}
        if any(g.curve is not None for g in site.groups):
            calibrations["after: site, worst-group"] = site_calibration(body, engine.calibration,
                                                                        policy="worst-group", attribute=None,
                                                                        label="worst-group")
        for label, calibration in calibrations.items():
            for r in check_on_faces(fresh, calibration, targets=targets):
                rows.append([name, r.population, f"{r.target:g}", label, f"{r.threshold:.4f}", rate(r.fmr),
                             rate(r.fnmr), r.verdict])
        notes.append(f"{name}: calibrated on {site.overall.images:,} images of {site.overall.people:,} people "
                     f"({site.overall.impostor_pairs:,} impostor pairs), checked on {len(fresh.images):,} images; "
                     f"{len(site.duplicates)} near-identical left out; {built_s:.0f} s")
    table = markdown_table(["data", "population", "target FMR", "calibration", "threshold",
                            "FMR on the other half (95%)", "FNMR (95%)", "verdict"], rows)
    print(table)
    note = " ".join(notes) + (" (--quick)" if args.quick else "")
    print(note)
    if not args.no_record:
        record("Site calibration: calibrate on one half, check on the other, before and after, per group",
               "python benchmarks/site_calibration.py" + (" --quick" if args.quick else ""), table, note)


if __name__ == "__main__":
    main()
