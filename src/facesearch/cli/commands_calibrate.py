"""``facesearch calibrate``: measure the false match rate on the deployer's own faces, overall and per group."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from facesearch.cli.output import CountBar, JsonOpt, command_group, emit_json, fail, line, table, warn
from facesearch.errors import FacesearchError

app = command_group("The calibration in force: show it and the site calibrations stored, or withdraw one.")


def _rate(rate: dict[str, Any] | None) -> str:
    if rate is None:
        return "-"
    low, high = rate["ci95"]
    unresolved = "" if rate["resolved"] else ", unresolved"
    return f"{rate['value']:.2g} ({low:.2g}-{high:.2g}; {rate['errors']} of {rate['trials']:,}{unresolved})"


def calibrate(
    data: Annotated[Path, typer.Argument(help="A folder of face photos or crops (each a different person unless "
                                              "--folders-are-people), or a CSV: image, optional person, group "
                                              "columns.")],
    folders_are_people: Annotated[bool, typer.Option(help="In a folder, the sub-folder an image is in names its "
                                                          "person.")] = False,
    target: Annotated[list[float] | None, typer.Option(help="Target false match rates (repeat); default 1e-2 "
                                                            "to 1e-6.")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    out: Annotated[Path | None, typer.Option(help="Write the whole calibration (curves, groups) as JSON here.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Put it in force for every search of the profile (an "
                                                      "administrator's action, audited).")] = False,
    check: Annotated[bool, typer.Option("--check", help="Instead: does the calibration in force still hold on this "
                                                        "fresh data? The FMR observed at its thresholds, with "
                                                        "intervals; exit 1 where one is exceeded.")] = False,
    policy: Annotated[str | None, typer.Option(help="With --save: worst-group (the default where groups were "
                                                    "measured: thresholds every group meets) or overall.")] = None,
    attribute: Annotated[str | None, typer.Option(help="With --save and worst-group: the group column whose worst "
                                                       "group sets thresholds (default: every column's).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Measure thresholds on your own faces: the score-to-FMR curve with intervals, per group where the CSV has
    group columns (the worst group's threshold is the one every group meets), and what each threshold costs in
    false non-matches where person ids give genuine pairs. Near-identical images are left out and reported; a
    target the data cannot support is refused with the impostor pairs it would need."""
    from facesearch.cli.wiring import open_context, operator
    from facesearch.engine import Engine
    from facesearch.eval.report import FMR_TARGETS
    from facesearch.eval.site import build_site_calibration
    from facesearch.eval.site_data import read_site_data
    from facesearch.eval.site_force import put_in_force
    from facesearch.files import atomic_write

    targets = tuple(sorted(set(target), reverse=True)) if target else FMR_TARGETS
    if any(not 0 < t < 1 for t in targets):  # also refuses NaN
        fail(f"--target {', '.join(f'{t:g}' for t in targets)}: each must be between 0 and 1")
    if check:
        if save:
            fail("--check and --save: one or the other")
        _check(data, folders_are_people, targets, model, json_out)
        return
    bar = CountBar("embedding", "img", quiet=json_out)
    change = None
    try:
        ctx = open_context(model) if save else None
        actor = operator(ctx, "calibration.manage").actor if ctx is not None else ""  # before the work
        site_data = read_site_data(data, folders_are_people=folders_are_people)
        engine = ctx.engine() if ctx is not None else Engine(model)
        bar.start(len(site_data.images))
        site = build_site_calibration(engine, site_data, targets=targets, progress=bar.update)
        bar.close()
        if ctx is not None:
            change = put_in_force(ctx, site, actor=actor, policy=policy, attribute=attribute)
    except FacesearchError as exc:
        fail(str(exc))
    finally:
        bar.close()
    result = site.to_json()
    if change is not None:
        result["put_in_force"] = change.to_json()
    if out is not None:
        atomic_write(out, (json.dumps(result, indent=1) + "\n").encode(), mode=0o644)
    if json_out:
        emit_json({k: v for k, v in result.items() if k not in ("overall", "groups")} | {
            "overall": {k: v for k, v in result["overall"].items() if not k.startswith(("fmr_", "genuine_q"))},
            "groups": [{**g, "curve": None if g["curve"] is None else {k: v for k, v in g["curve"].items()
                                                                      if not k.startswith(("fmr_", "genuine_q"))}}
                       for g in result["groups"]]})
        return
    overall = site.overall
    line(f"{site.source}: {overall.images:,} images of {overall.people:,} people; {overall.impostor_pairs:,} impostor "
         f"pairs, {overall.genuine_pairs:,} genuine; {len(site.duplicates)} near-identical left out "
         f"(data sha256 {site.data_sha256[:16]}…)")
    table("Thresholds on this data", ["target FMR", "threshold", "observed FMR (95%)", "FNMR at it (95%)"],
          [[f"{t.target:g}", f"{t.threshold:.4f}" if t.threshold is not None else
            f"refused: needs {t.needed_pairs:,} impostor pairs", _rate(t.fmr), _rate(t.fnmr)]
           for t in overall.targets])
    for attribute in sorted({g.attribute for g in site.groups}):
        rows = []
        for g in (g for g in site.groups if g.attribute == attribute):
            cells = [g.value, g.images, g.people]
            cells += [g.note] if g.curve is None else [
                "; ".join(f"{t.target:g}: {t.threshold:.4f}" if t.threshold is not None else f"{t.target:g}: refused"
                          for t in g.curve.targets)]
            rows.append(cells)
        table(f"Groups by {attribute}: each group's own threshold", ["group", "images", "people", "thresholds"], rows)
        worst = [w for w in site.worst if w.attribute == attribute]
        table(f"Worst group by {attribute}: the threshold every group meets", ["target FMR", "threshold", "group"],
              [[f"{w.target:g}", f"{w.threshold:.4f}" if w.threshold is not None else "refused", w.group or "-"]
               for w in worst])
    for problem in site.problems[:20]:
        warn(problem)
    if len(site.problems) > 20:
        warn(f"... and {len(site.problems) - 20} more problems (--json lists them all)")
    if out is not None:
        line(f"written to {out}")
    if change is not None and change.record is not None:
        _change_table(f"In force now: site calibration #{change.record.id} ({change.record.policy}"
                      f"{'' if change.record.attribute is None else ' by ' + change.record.attribute})",
                      change.thresholds)


def _change_table(title: str, thresholds: list[dict[str, Any]]) -> None:
    """Each target's threshold before and after a calibration changed."""
    table(title, ["target FMR", "threshold before", "threshold now"],
          [[f"{t['target']:g}", "-" if t["before"] is None else f"{t['before']:.4f}",
            "-" if t["after"] is None else f"{t['after']:.4f}"] for t in thresholds])


def _check(data: Path, folders_are_people: bool, targets: tuple[float, ...], model: str, json_out: bool) -> None:
    from facesearch.cli.output import EXIT_NO
    from facesearch.cli.wiring import calibration_in_force
    from facesearch.engine import Engine
    from facesearch.eval.site import check_calibration
    from facesearch.eval.site_data import read_site_data

    bar = CountBar("embedding", "img", quiet=json_out)
    try:
        site_data = read_site_data(data, folders_are_people=folders_are_people)
        engine = Engine(model)
        now = calibration_in_force(engine)
        if now.calibration is None:
            fail(f"{engine.profile}: not calibrated: nothing to check")
        bar.start(len(site_data.images))
        rows, digest, problems = check_calibration(engine, site_data, now.calibration, targets=targets,
                                                   progress=bar.update)
    except FacesearchError as exc:
        fail(str(exc))
    finally:
        bar.close()
    exceeded = any(r.verdict == "exceeded" for r in rows)
    if json_out:
        emit_json({"calibration": now.label, "data_sha256": digest, "holds": not exceeded,
                   "rows": [r.to_json() for r in rows], "problems": problems})
    else:
        table(f"Does {now.label} hold on {data}?", ["population", "target FMR", "threshold", "observed FMR (95%)",
                                                    "verdict"],
              [[r.population, f"{r.target:g}", f"{r.threshold:.4f}", _rate(r.fmr),
                r.verdict if r.verdict != "unresolved" else f"unresolved: needs {r.needed_pairs:,} impostor pairs"]
               for r in rows])
        for problem in problems[:20]:
            warn(problem)
        line("the calibration holds" if not exceeded else
             "EXCEEDED: the false match rate is above the target; measure again (calibrate --save)")
    if exceeded:
        raise typer.Exit(EXIT_NO)


def show(json_out: JsonOpt = False) -> None:
    """The calibration every search uses now, and the site calibrations stored (newest first)."""
    from facesearch.calibration_store import in_force
    from facesearch.cli.wiring import open_context, operator
    from facesearch.eval.site_force import history

    try:
        ctx = open_context()
        operator(ctx, "calibration.manage")
        engine = ctx.engine()
        now = in_force(ctx.sessions, engine.profile, engine.calibration)
        stored = history(ctx)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json({"profile": engine.profile, "in_force": now.label, "site_calibration": now.site_id,
                   "stored": [r.to_json() for r in stored]})
        return
    line(f"{engine.profile}: {now.label}")
    table("Site calibrations", ["id", "in force", "policy", "data sha256", "source", "made", "by"],
          [[r.id, "yes" if r.in_force else f"withdrawn {r.withdrawn_at:%Y-%m-%d}" if r.withdrawn_at else "no",
            r.policy + ("" if r.attribute is None else f" by {r.attribute}"), r.data_sha256[:16], r.source,
            f"{r.created_at:%Y-%m-%d %H:%M}", r.created_by] for r in stored])


def withdraw(json_out: JsonOpt = False) -> None:
    """Withdraw the site calibration in force: searches go back to the shipped one (audited)."""
    from facesearch.cli.wiring import open_context, operator
    from facesearch.eval.site_force import withdraw as withdraw_site

    try:
        ctx = open_context()
        change = withdraw_site(ctx, actor=operator(ctx, "calibration.manage").actor)
    except FacesearchError as exc:
        fail(str(exc))
    if json_out:
        emit_json(change.to_json())
        return
    _change_table("Back to the shipped calibration", change.thresholds)


app.command("show")(show)
app.command("withdraw")(withdraw)
