"""Recognizer throughput on a GPU (faces/s at batch 1024) and CUDA-vs-CPU agreement, through PyTorch.

The device machines have PyTorch but only a CPU ONNX Runtime and no npm, so the work is split:

    # here: the converted models, real aligned chips and ONNX Runtime CPU embeddings of them
    python benchmarks/gpu_throughput.py prepare --out gpu-bundle
    # on the device (needs only torch, onnx, numpy and facesearch's source); carry gpu-bundle
    PYTHONPATH=src python benchmarks/gpu_throughput.py run --bundle gpu-bundle --out "$OUT"
    # here again: append the device's table to RESULTS.md
    python benchmarks/gpu_throughput.py record --results <files_at>/gpu_results.json

`run --device cpu --batch 16` checks the whole path on a machine without a GPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

MODELS = ("dlib-resnet", "mobilefacenet")


def prepare(out: Path, n: int) -> None:
    from _common import LFW
    from facesearch import Engine
    from facesearch.align import align_many

    engine = Engine("default")
    out.mkdir(parents=True, exist_ok=True)
    files = sorted(LFW.glob("*/*_0001.jpg"))[:n]
    images = [engine.load(f) for f in files]
    faces = engine.detect(images)
    for rec in engine.recognizers:
        chips = np.concatenate([align_many(im.pixels, f.landmarks[:1], rec.template)
                                for im, f in zip(images, faces, strict=True) if len(f)])
        np.save(out / f"{rec.name}.chips.npy", chips)
        np.save(out / f"{rec.name}.cpu.npy", rec.raw(chips))  # ONNX Runtime, CPU: the reference
        (out / f"{rec.name}.onnx").write_bytes(rec.path.read_bytes())
    print(f"wrote {out}: {len(files)} faces per model")


def run(bundle: Path, out: Path, device: str, batch: int, iters: int) -> None:
    import onnx
    import torch

    from facesearch.models.torch_graph import GraphModule  # the product's own GPU path

    torch.backends.cuda.matmul.allow_tf32 = False  # compare like for like with the CPU
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cudnn.benchmark = True
    results = {"device": torch.cuda.get_device_name(0) if device == "cuda" else "cpu",
               "torch": torch.__version__, "batch": batch, "models": {}}
    for name in MODELS:
        chips = np.load(bundle / f"{name}.chips.npy")
        reference = np.load(bundle / f"{name}.cpu.npy")
        model = GraphModule(onnx.load(str(bundle / f"{name}.onnx")), name).eval().to(device)
        x = torch.from_numpy(chips.astype(np.float32).transpose(0, 3, 1, 2).copy()).to(device)
        with torch.no_grad():
            got = model(x).float().cpu().numpy()
        cos = (got * reference).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(reference, axis=1)
        entry: dict[str, float] = {"faces_checked": len(chips), "min_cosine_fp32": float(cos.min())}
        reps = -(-batch // len(chips))
        big = x.repeat(reps, 1, 1, 1)[:batch].contiguous(memory_format=torch.channels_last)
        for dtype, label in ((torch.float32, "fp32"), (torch.float16, "fp16")):
            if device == "cpu" and dtype == torch.float16:
                continue
            m = model.to(dtype).to(memory_format=torch.channels_last)
            inp = big.to(dtype)
            with torch.no_grad():
                if dtype == torch.float16:
                    half = m(x.to(dtype).contiguous(memory_format=torch.channels_last)).float().cpu().numpy()
                    c16 = (half * reference).sum(1) / np.linalg.norm(half, axis=1) / np.linalg.norm(reference, axis=1)
                    entry["min_cosine_fp16"] = float(c16.min())
                for _ in range(3):
                    m(inp)
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
                for _ in range(iters):
                    m(inp)
                if device == "cuda":
                    torch.cuda.synchronize()
                entry[f"faces_per_s_{label}"] = batch * iters / (time.perf_counter() - start)
        results["models"][name] = entry
        print(name, json.dumps(entry))
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_results.json").write_text(json.dumps(results, indent=2))


def record_results(path: Path) -> None:
    from _common import markdown_table, record

    data = json.loads(path.read_text())
    rows = [[name, f"{m.get('faces_per_s_fp32', 0):,.0f}", f"{m.get('faces_per_s_fp16', 0):,.0f}",
             f"{m['min_cosine_fp32']:.6f}", f"{m.get('min_cosine_fp16', float('nan')):.6f}"]
            for name, m in data["models"].items()]
    table = markdown_table(["recognizer", "faces/s fp32", "faces/s fp16", "min cos vs CPU fp32", "min cos fp16"],
                           rows)
    print(table)
    record(f"Recognizers on {data['device']}, batch {data['batch']} (PyTorch {data['torch']})",
           "python benchmarks/gpu_throughput.py run --bundle gpu-bundle", table,
           "Measured on the device machine; the CPU reference is ONNX Runtime on the same chips, TF32 off.")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare")
    p.add_argument("--out", type=Path, default=Path("gpu-bundle"))
    p.add_argument("--faces", type=int, default=128)
    r = sub.add_parser("run")
    r.add_argument("--bundle", type=Path, default=Path("gpu-bundle"))
    r.add_argument("--out", type=Path, default=Path("gpu-out"))
    r.add_argument("--device", default="cuda")
    r.add_argument("--batch", type=int, default=1024)
    r.add_argument("--iters", type=int, default=20)
    c = sub.add_parser("record")
    c.add_argument("--results", type=Path, required=True)
    args = parser.parse_args()
    if args.command == "prepare":
        prepare(args.out, args.faces)
    elif args.command == "run":
        run(args.bundle, args.out, args.device, args.batch, args.iters)
    else:
        record_results(args.results)


if __name__ == "__main__":
    main()
