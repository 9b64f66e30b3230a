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
