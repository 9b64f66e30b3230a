"""The engine: images in, one ``Faces`` per image out (detect -> quality -> align -> embed).

Work is batched: a thread pool decodes images while the models run, the detector takes many images
per call, and each recognizer takes every face of a batch of images in one call.

Example:
    >>> from facesearch import Engine
    >>> engine = Engine()                      # the default fused profile, on the CPU
    >>> faces = engine.analyze("photo.jpg")
    >>> faces.embeddings.shape
    (2, 320)
    >>> engine.verify("a.jpg", "b.jpg").same
    True
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesearch.align import align_many
from facesearch.calibration import Calibration, load_calibrations
from facesearch.detect import DETECTORS, Detector, make_detector
from facesearch.detect.common import DetectorConfig
from facesearch.errors import FacesearchError
from facesearch.faces import Faces
from facesearch.images import Channels, ImageInput, LoadedImage, describe, load_image
from facesearch.models.antispoofing import AntiSpoofing, square_chip
from facesearch.models.builtin import model_store
from facesearch.models.recognizer import Recognizer
from facesearch.models.registry import ANTISPOOFING, ModelStore, profile_flips
from facesearch.models.runtime import DeviceChoice, RuntimeOptions, resolve_device
from facesearch.settings import Settings, get_settings
from facesearch.verify import DEFAULT_TARGET_FMR, UNCALIBRATED_THRESHOLD, Verification, choose_largest

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ImageResult:
    """One input's outcome: its faces, or the one-line reason it could not be read."""

    source: str
    faces: Faces | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


class Engine:
    """Detects, aligns and embeds faces with one model profile (``"default"``, ``"dlib"``,
    ``"mobilefacenet"``, or a registered model's name)."""

    def __init__(
        self,
        model: str = "default",
        *,
        settings: Settings | None = None,
        device: DeviceChoice | None = None,
        require_gpu: bool | None = None,
        detector: DetectorConfig | None = None,
        store: ModelStore | None = None,
    ) -> None:
        self.settings = settings or get_settings()
        self.options = RuntimeOptions(
            device=resolve_device(device or self.settings.device),
            require_gpu=self.settings.require_gpu if require_gpu is None else require_gpu,
            threads=self.settings.threads,
        )
        self.profile = model
        self.store = store or model_store(self.settings.models_dir)
        self.model_names = self.store.profile(model)
        self.flips = profile_flips(model, self.model_names, self.settings.flip)
        self.detector = make_detector(self.settings.detector, self.options, detector,
                                      models_dir=self.settings.models_dir)
        self._video_detector: Detector | None = None
        self._recognizers: list[Recognizer] | None = None
        self._antispoofing: AntiSpoofing | None = None
        self.calibration: Calibration | None = load_calibrations(self.settings.home).get(model)
        if self.calibration is not None and not self.calibration.matches(self.model_names, self.flips):
            log.warning("calibration for %s was made for %s (mirror pass %s); ignoring it", model,
                        self.calibration.models, self.calibration.flip)
            self.calibration = None
        if self.calibration is not None:
            self.weights = self.calibration.weights()
        else:
            self.weights = np.full(len(self.model_names), 1.0 / len(self.model_names))

    # --- models ------------------------------------------------------------------------------------
    @property
    def recognizers(self) -> list[Recognizer]:
        if self._recognizers is None:
            recs = []
            for name, flip in zip(self.model_names, self.flips, strict=True):
                spec = self.store.spec(name)
                recs.append(Recognizer(spec, self.store.ensure(spec), self.options, flip=flip))
            self._recognizers = recs
        return self._recognizers

    @property
    def antispoofing(self) -> AntiSpoofing:
        """Sign-in's print-and-replay model (converted on first use, like the recognizers)."""
        if self._antispoofing is None:
            self._antispoofing = AntiSpoofing(self.store.ensure(ANTISPOOFING), self.options)
        return self._antispoofing

    def spoof_scores(self, images: Sequence[LoadedImage], boxes: Sequence[NDArray[np.float32]]) -> NDArray[np.float32]:
        """The print-and-replay model's score for one face box per image (under ``SPOOF_THRESHOLD``: live)."""
        if not images:
            return np.zeros(0, np.float32)
        return self.antispoofing.scores(np.stack([square_chip(im.pixels, box)
                                                  for im, box in zip(images, boxes, strict=True)]))

    def pool_recognizers(self) -> None:
        """Let embeds from many threads (a node's cameras) share model calls (``models.batching``)."""
        from facesearch.models.batching import BatchingRecognizer

        pooled: list[Any] = [r if isinstance(r, BatchingRecognizer) else BatchingRecognizer(r)
                             for r in self.recognizers]
        self._recognizers = pooled  # the same interface as a Recognizer's, by delegation

    def embedding_stats(self) -> dict[str, Any]:
        """Each pooled recognizer's batches so far (none when not pooled)."""
        return {r.name: r.stats.to_json() for r in self._recognizers or [] if hasattr(r, "stats")}

    @property
    def embedding_size(self) -> int:
        return sum(r.spec.embedding_size for r in self.recognizers)

    def providers(self) -> dict[str, list[str]]:
        """The providers each model actually runs on (loads the models): ONNX Runtime's, or ``TorchCUDA``."""
        out = {self.detector.name: self.detector.providers}
        if self._video_detector is not None:
            out[self._video_detector.name] = self._video_detector.providers
        for r in self.recognizers:
            out[r.name] = r.providers
        return out

    def accelerator(self) -> dict[str, Any]:
        """The device asked for, where each model runs, and the GPU memory the PyTorch sessions hold."""
        gpu_bytes = 0
        for r in self.recognizers:
            memory = getattr(r.session, "memory", None)  # PyTorch sessions only
            gpu_bytes += memory().get("allocated_bytes", 0) if memory else 0
        return {"device": self.options.device, "runs_on": {name: p[0] for name, p in self.providers().items()},
                "gpu_memory_bytes": gpu_bytes}

    # --- pipeline ----------------------------------------------------------------------------------
    def load(self, image: ImageInput, channels: Channels | None = None, source: str | None = None) -> LoadedImage:
        return load_image(
            image,
            channels=channels,
            source=source,
            max_pixels=self.settings.max_image_pixels,
            max_bytes=self.settings.max_image_bytes,
        )

    def detect(self, images: Sequence[LoadedImage], config: DetectorConfig | None = None) -> list[Faces]:
        """Faces in each image (``config``: detector settings for this call instead of the engine's)."""
        return self.detector.detect(images, config=config)

    @property
    def video_detector(self) -> Detector:
        """The detector that searches footage (``settings.video_detector``): the photo detector when they agree."""
        if self._video_detector is None:
            name = self.settings.video_detector
            self._video_detector = self.detector if DETECTORS[name] is type(self.detector) else make_detector(
                name, self.options, models_dir=self.settings.models_dir)
        return self._video_detector

    def detect_video(self, images: Sequence[LoadedImage], config: DetectorConfig | None = None) -> list[Faces]:
        """Faces in each of ``images`` (parts of video frames) with the video detector."""
        return self.video_detector.detect(images, config=config)

    def embed_per_model(
        self, images: Sequence[LoadedImage], faces: Sequence[Faces], keep_chips: bool = False
    ) -> tuple[list[NDArray[np.float32]], list[NDArray[np.uint8]] | None]:
        """Unit embeddings of every face from each recognizer, stacked over ``images`` in order:
        one ``(total_faces, d_i)`` array per model; and the first model's chips when asked."""
        chips_out: list[NDArray[np.uint8]] | None = None
        per_model = []
        for k, rec in enumerate(self.recognizers):
            chips = [align_many(im.pixels, f.landmarks, rec.template) for im, f in zip(images, faces, strict=True)]
            size = rec.spec.input_size
            stacked = np.concatenate(chips) if chips else np.zeros((0, size, size, 3), np.uint8)
            per_model.append(rec.embed(stacked))
            if keep_chips and k == 0:
                chips_out = chips
        return per_model, chips_out

    def fuse(self, per_model: Sequence[NDArray[np.float32]]) -> NDArray[np.float32]:
        """One unit-length embedding per face: each model's unit vector scaled by ``sqrt(weight)``."""
        parts = [e * np.float32(np.sqrt(w)) for e, w in zip(per_model, self.weights, strict=True)]
        fused = np.hstack(parts).astype(np.float32)
        # Each part has norm sqrt(w) and the weights sum to 1: the result is already unit length.
        return fused

    def embed_faces(
        self, images: Sequence[LoadedImage], faces: Sequence[Faces], keep_chips: bool = False
    ) -> list[Faces]:
        per_model, chips = self.embed_per_model(images, faces, keep_chips)
        fused = self.fuse(per_model)
        out, start = [], 0
        for i, f in enumerate(faces):
            n = len(f)
            cols: dict[str, object] = {"embeddings": fused[start : start + n]}
            if chips is not None:
                cols["chips"] = chips[i]
            out.append(f.with_columns(**cols))
            start += n
        return out

    def analyze(
        self, image: ImageInput, *, channels: Channels | None = None, chips: bool = False, source: str | None = None
    ) -> Faces:
        """All faces of one image, embedded. Raises ``ImageError`` for an unreadable input; ``source``
        names an input given as bytes or an array in messages and results."""
        loaded = self.load(image, channels, source)
        faces = self.detect([loaded])
        return self.embed_faces([loaded], faces, keep_chips=chips)[0]

    def analyze_many(
        self,
        images: Iterable[ImageInput],
        *,
        chips: bool = False,
        batch_size: int = 32,
        workers: int | None = None,
        on_result: Callable[[ImageResult], None] | None = None,
    ) -> Iterator[ImageResult]:
        """Every input's faces, in input order; a bad input yields an error result and the rest go on."""
        workers = workers or min(4, os.cpu_count() or 1)
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="decode") as pool:
            pending: list[tuple[str, Future[LoadedImage]]] = []
            iterator = iter(images)
            exhausted = False
            while True:
                # Keep two batches of decoding in flight while the models work on one.
                while not exhausted and len(pending) < 2 * batch_size:
                    try:
                        item = next(iterator)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.append((describe(item), pool.submit(self.load, item)))
                if not pending:
                    return
                chunk, pending = pending[:batch_size], pending[batch_size:]
                for result in self._process_chunk(chunk, chips):
                    if on_result is not None:
                        on_result(result)
                    yield result

    def _process_chunk(self, chunk: list[tuple[str, Future[LoadedImage]]], chips: bool) -> list[ImageResult]:
        results: list[ImageResult | None] = [None] * len(chunk)
        loaded: list[tuple[int, LoadedImage]] = []
        for i, (name, fut) in enumerate(chunk):
            try:
                loaded.append((i, fut.result()))
            except FacesearchError as exc:
                results[i] = ImageResult(name, None, str(exc))
            except Exception as exc:  # a decoder bug must cost one file, not the batch
                log.exception("%s: unexpected error while reading", name)
                results[i] = ImageResult(name, None, f"{name}: unexpected error ({type(exc).__name__}: {exc})")
        if loaded:
            images = [im for _, im in loaded]
            faces = self.embed_faces(images, self.detect(images), keep_chips=chips)
            for (i, im), f in zip(loaded, faces, strict=True):
                results[i] = ImageResult(im.source, f)
        return [r for r in results if r is not None]

    # --- comparison --------------------------------------------------------------------------------
    @staticmethod
    def similarity(a: NDArray[np.float32], b: NDArray[np.float32]) -> float:
        """Cosine similarity of two unit embeddings of this engine."""
        return float(np.dot(a.astype(np.float64), b.astype(np.float64)))

    def verify(
        self,
        a: ImageInput,
        b: ImageInput,
        *,
        channels: Channels | None = None,
        threshold: float | None = None,
        target_fmr: float = DEFAULT_TARGET_FMR,
        calibration: Calibration | None = None,
    ) -> Verification:
        """1:1 verification: compare the largest face of ``a`` with the largest face of ``b``.

        The decision threshold is the calibrated score whose false match rate is ``target_fmr`` (default
        1e-3), unless ``threshold`` is given. ``calibration``: the one in force where it is not the engine's
        own (a site calibration, ``calibration_store.in_force``).

        Raises ``ImageError`` for an unreadable image and ``NoFaceError`` when an image holds no face.
        """
        images = [self.load(a, channels), self.load(b, channels)]
        detected = self.detect(images)
        chosen = [choose_largest(im, f) for im, f in zip(images, detected, strict=True)]
        faces = [f[i] for f, (i, _) in zip(detected, chosen, strict=True)]
        embedded = self.embed_faces(images, faces)
        score = self.similarity(embedded[0].embeddings[0], embedded[1].embeddings[0])
        cal = calibration or self.calibration
        target: float | None = None
        if threshold is None:
            if cal is not None:
                target = target_fmr
                threshold = cal.operating_threshold(target_fmr, subject="verify",
                                                    advice="choose a larger target FMR")[0]
            else:
                threshold = UNCALIBRATED_THRESHOLD
        fmr, extrapolated = cal.fmr(score) if cal is not None else (None, False)
        return Verification(same=score >= threshold, score=score, threshold=threshold, target_fmr=target, fmr=fmr,
                            fmr_extrapolated=extrapolated, model=self.profile, faces=(chosen[0][1], chosen[1][1]))
