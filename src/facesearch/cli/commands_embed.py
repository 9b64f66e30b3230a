"""``facesearch embed``: every face of every photo in files and folders, to a Parquet file."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import typer
from tqdm import tqdm

from facesearch.cli.output import EXIT_OK, EXIT_PARTIAL, emit_json, fail, line, stderr
from facesearch.errors import FacesearchError
from facesearch.images import list_images


def _schema(dim: int, profile: str) -> pa.Schema:
    return pa.schema(
        [
            ("source", pa.string()),
            ("face", pa.int32()),
            ("box", pa.list_(pa.float32(), 4)),
            ("score", pa.float32()),
            ("landmarks", pa.list_(pa.float32(), 10)),
            ("face_size", pa.float32()),
            ("sharpness", pa.float32()),
            ("frontal", pa.float32()),
            ("embedding", pa.list_(pa.float32(), dim)),
        ],
        metadata={b"facesearch.model": profile.encode(), b"facesearch.embedding_size": str(dim).encode()},
    )


def _batch(rows: list[dict[str, Any]], schema: pa.Schema) -> pa.RecordBatch:
    cols = {name: [r[name] for r in rows] for name in schema.names}
    return pa.RecordBatch.from_pydict(cols, schema=schema)


def embed(
    paths: Annotated[list[Path], typer.Argument(help="Image files and folders (searched recursively).")],
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file to write, one row per face.")],
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    batch_size: Annotated[int, typer.Option(help="Images per model call.")] = 32,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Detect and embed every face; write one row per face to a Parquet file.

    A file that cannot be read is reported on one line and the rest are processed; the exit code is 0
    when every file was read, 3 when some were not (partial), 2 on an error that stopped the run.
    """
    from facesearch.engine import Engine

    files = list_images(paths)
    if not files:
        fail(f"{', '.join(map(str, paths))}: no image files found")
    try:
        engine = Engine(model)
        dim = engine.embedding_size
    except FacesearchError as exc:
        fail(str(exc))
    schema = _schema(dim, model)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.partial")
    errors: list[str] = []
    n_faces = n_images = no_face = 0
    started = time.perf_counter()
    bar = tqdm(total=len(files), unit="img", desc="embedding", disable=json_out or None, file=None)
    try:
        with pq.ParquetWriter(tmp, schema) as writer:
            rows: list[dict[str, Any]] = []
            for result in engine.analyze_many(files, batch_size=batch_size):
                bar.update(1)
                if result.faces is None:
                    errors.append(result.error or result.source)
                    if not json_out:
                        bar.write(f"skipped: {result.error}", file=stderr.file)
                    continue
                n_images += 1
                f = result.faces
                no_face += len(f) == 0
                for i in range(len(f)):
                    rows.append(
                        {
                            "source": result.source,
                            "face": i,
                            "box": f.boxes[i].tolist(),
                            "score": float(f.scores[i]),
                            "landmarks": f.landmarks[i].reshape(-1).tolist(),
                            "face_size": float(f.face_size[i]),
                            "sharpness": float(f.sharpness[i]),
                            "frontal": float(f.frontal[i]),
                            "embedding": np.asarray(f.embeddings[i], np.float32).tolist(),
                        }
                    )
                if len(rows) >= 2048:
                    writer.write_batch(_batch(rows, schema))
                    n_faces += len(rows)
                    rows = []
            if rows:
                writer.write_batch(_batch(rows, schema))
                n_faces += len(rows)
        os.replace(tmp, out)
    except FacesearchError as exc:
        tmp.unlink(missing_ok=True)
        fail(str(exc))
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    finally:
        bar.close()
    seconds = time.perf_counter() - started
    summary = {
        "out": str(out),
        "model": model,
        "files": len(files),
        "images": n_images,
        "faces": n_faces,
        "images_without_faces": no_face,
        "failed": len(errors),
        "errors": errors,
        "seconds": round(seconds, 2),
        "images_per_second": round(len(files) / seconds, 2) if seconds > 0 else None,
    }
    if json_out:
        emit_json(summary)
    else:
        line(f"{n_images} of {len(files)} images read, {n_faces} faces ({no_face} images without a face), "
             f"{len(errors)} failed -> {out} ({seconds:.1f} s)")
    raise typer.Exit(EXIT_PARTIAL if errors else EXIT_OK)


def faces(
    photo: Annotated[Path, typer.Argument(help="Photo whose faces to list.")],
    out: Annotated[Path | None, typer.Option(help="Write a copy of the photo with each face's box and --face "
                                                  "number drawn on it (JPEG).")] = None,
    model: Annotated[str, typer.Option("--model", "-m", help="Model profile.")] = "default",
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """The faces in a photo with the numbers 'enroll --face N' takes (0 first, the detector's order: most
    confident first), each face's box, size and quality, and whether it is fit to enrol."""
    from facesearch.cli.output import table
    from facesearch.engine import Engine
    from facesearch.gallery.policy import EnrolmentPolicy, EnrolmentRefused, choose_face
    from facesearch.gallery.service import photo_faces
    from facesearch.images import read_file

    try:
        engine = Engine(model)
        loaded, found = photo_faces(engine, read_file(photo, str(photo)), str(photo))
    except FacesearchError as exc:
        fail(str(exc))
    policy = EnrolmentPolicy()
    rows: list[dict[str, Any]] = []
    for i in range(len(found)):
        try:
            choose_face(found, policy, i)
            verdict = "fit to enrol"
        except EnrolmentRefused as exc:
            verdict = exc.reason
        x1, y1, x2, y2 = (round(float(v)) for v in found.boxes[i])
        rows.append({"face": i, "box": [x1, y1, x2, y2], "face_size": round(float(found.face_size[i]), 1),
                     "sharpness": round(float(found.sharpness[i]), 1), "frontal": round(float(found.frontal[i]), 2),
                     "confidence": round(float(found.scores[i]), 3), "enrolment": verdict})
    if out is not None:
        try:
            _annotate(loaded.pixels, rows, out)
        except OSError as exc:
            fail(f"{out}: {exc.strerror or exc}")
    if json_out:
        emit_json({"photo": str(photo), "faces": rows, "annotated": None if out is None else str(out)})
        return
    if not rows:
        line(f"{photo}: no face found")
        return
    table(f"{photo}: {len(rows)} face{'s' if len(rows) != 1 else ''} (enroll --face N)",
          ["--face", "box (x,y-x,y)", "size px", "sharpness", "frontal", "confidence", "enrolment"],
          [[r["face"], "{},{}-{},{}".format(*r["box"]), f"{r['face_size']:.0f}", f"{r['sharpness']:.0f}",
            f"{r['frontal']:.2f}", f"{r['confidence']:.2f}", r["enrolment"]] for r in rows])
    if out is not None:
        line(f"annotated: {out}")


def _annotate(pixels: Any, rows: list[dict[str, Any]], out: Path) -> None:
    """The photo with each face's box and its --face number, as a JPEG at ``out`` (written atomically)."""
    import io

    from PIL import Image, ImageDraw, ImageFont

    from facesearch.files import atomic_write

    image = Image.fromarray(np.asarray(pixels, np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(image.size) / 400))
    font = ImageFont.load_default(size=max(14, round(max(image.size) / 30)))
    for r in rows:
        x1, y1, x2, y2 = r["box"]
        colour = (0, 200, 0) if r["enrolment"] == "fit to enrol" else (230, 160, 0)
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=width)
        label = str(r["face"])
        _, top, _, bottom = draw.textbbox((x1, y1), label, font=font)
        at = (x1, max(0, y1 - (bottom - top) - 2 * width))
        box = draw.textbbox(at, label, font=font)
        draw.rectangle((box[0] - width, box[1] - width, box[2] + width, box[3] + width), fill=colour)
        draw.text(at, label, fill=(0, 0, 0), font=font)
    buf = io.BytesIO()
    image.save(buf, format="JPEG", quality=90)
    atomic_write(out, buf.getvalue())
