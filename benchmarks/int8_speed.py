"""Would int8 models make the pipeline faster on this machine? ONNX Runtime's static quantization (QDQ, weights
int8 per channel, activations uint8) of the video detector and both recognizers, timed against their float
versions in one run, one thread each.

int8 convolutions pay off on CPUs with VNNI (AVX-512 VNNI or AVX-VNNI: one instruction per 4-way int8 dot
product); without it ONNX Runtime emulates them with AVX2 and is often slower than float. This script reports
which the CPU has. The calibration inputs are random images: this measures speed only. A model that is faster
here would then need calibrating on images from a public source that is not an evaluation set, and checking
against LFW (within 0.1 point) before it could ship.

    python benchmarks/int8_speed.py [--no-record]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import markdown_table, record


def vnni() -> str:
    flags = set()
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            break
    found = sorted(flags & {"avx512_vnni", "avx_vnni", "amx_int8"})
    return ", ".join(found) if found else "none (AVX2 only)" if "avx2" in flags else "none"


def timed(path: Path, feed: dict[str, np.ndarray], repeat: int = 5) -> float:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    session.run(None, feed)
    began = time.perf_counter()
    for _ in range(repeat):
        session.run(None, feed)
    return (time.perf_counter() - began) / repeat * 1000


def quantized(source: Path, out: Path, name: str, shape: tuple[int, ...], low: float, high: float) -> Path:
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    rng = np.random.default_rng(0)

    class Random(CalibrationDataReader):
        def __init__(self) -> None:
            self.left = 8

        def get_next(self) -> dict[str, np.ndarray] | None:
            self.left -= 1
            return None if self.left < 0 else {name: rng.uniform(low, high, shape).astype(np.float32)}

    quantize_static(str(source), str(out), Random(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-record", action="store_true")
    args = parser.parse_args()
    import logging

    import onnxruntime as ort

    from facesearch.detect.yunet_weights import yunet_onnx_bytes
    from facesearch.models.builtin import model_store
    from facesearch.models.registry import DLIB_RESNET, MOBILEFACENET
    from facesearch.settings import get_settings

    logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice on pre-processing, once per model
    settings = get_settings()
    store = model_store(settings.models_dir)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        yunet = Path(tmp) / "yunet.onnx"
        yunet.write_bytes(yunet_onnx_bytes(settings.models_dir))
        models = [("YuNet (video detector)", yunet, (4, 3, 640, 640), 0.0, 255.0, "4 tiles of 640x640")]
        for spec, label in ((MOBILEFACENET, "MobileFaceNet"), (DLIB_RESNET, "dlib ResNet")):
            path = store.ensure(spec)
            first = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).get_inputs()[0]
            size = spec.input_size
            shape = (16, size, size, 3) if first.shape[-1] == 3 else (16, 3, size, size)
            models.append((label, path, shape, 0.0, 1.0, f"16 chips of {size}x{size}"))
        for label, path, shape, low, high, what in models:
            session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
            name = session.get_inputs()[0].name
            feed = {name: np.random.default_rng(1).uniform(low, high, shape).astype(np.float32)}
            q = quantized(path, Path(tmp) / f"{path.stem}.int8.onnx", name, shape, low, high)
            fp32, int8 = timed(path, feed), timed(q, feed)
            rows.append([label, what, f"{fp32:.1f}", f"{int8:.1f}", f"{fp32 / int8:.2f}x"])
            print(rows[-1], flush=True)
    table = markdown_table(["model", "batch", "float ms", "int8 ms", "int8 speed-up"], rows)
    note = (f"CPU VNNI: {vnni()}. One thread; static QDQ quantization (per-channel int8 weights, uint8 "
            "activations) calibrated on random inputs: speed only. Below 1x, int8 is slower than float here and "
            "is not used.")
    print(table)
    print(note)
    if not args.no_record:
        record("int8 models on this CPU: static quantization, float vs int8", "python benchmarks/int8_speed.py",
               table, note)


if __name__ == "__main__":
    main()
