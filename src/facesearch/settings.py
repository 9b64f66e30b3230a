"""Settings: one pydantic ``BaseSettings`` read from ``FACESEARCH_*`` variables, loaded once, passed down."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_MIN_REVIEWERS = 2  # the "four eyes" of the EU AI Act, Art. 14(5)
DEFAULT_RECORDING_LOOKBACK_DAYS = 30  # the retention period: older footage is gone anyway


def _default_home() -> Path:
    return Path.home() / ".local" / "share" / "facesearch"


class Settings(BaseSettings):
    """Everything configurable about a facesearch process."""

    model_config = SettingsConfigDict(env_prefix="FACESEARCH_", extra="forbid")

    home: Path = Field(
        default_factory=_default_home,
        title="Data directory",
        description="Database, converted models and evidence live here (FACESEARCH_HOME).",
    )
    database_url: str | None = Field(
        default=None,
        title="Database URL",
        description="SQLAlchemy URL of the database (e.g. postgresql+psycopg://user@host/db); default: "
        "SQLite at <home>/facesearch.db.",
    )
    device: Literal["cpu", "cuda", "auto"] = Field(
        default="cpu", title="Device",
        description="Where models run: 'cpu'; 'cuda' (ONNX Runtime's CUDA provider, or PyTorch with CUDA for "
        "the recognizers); 'auto': cuda where this machine has one, else cpu."
    )
    require_gpu: bool = Field(
        default=False,
        title="Require a GPU",
        description="Fail instead of falling back to the CPU when the CUDA provider is not available.",
    )
    flip: bool = Field(
        default=True,
        title="Mirror test-time augmentation",
        description="Embed each face and its mirror image and average them: fewer errors, twice the "
        "recognizer work.",
    )
    detector: Literal["retinaface", "yunet"] = Field(
        default="retinaface", title="Face detector",
        description="'retinaface' (RetinaFace-MobileNet0.25) or 'yunet' (YuNet 2023mar: stronger on small faces).",
    )
    video_detector: Literal["retinaface", "yunet"] = Field(
        default="yunet", title="Face detector for video",
        description="The detector that searches footage and live streams: YuNet finds faces from 24 px at native "
        "resolution where RetinaFace needs 32 px, in about half the time (benchmarks/detectors.py).",
    )
    threads: int = Field(
        default=0, ge=0, title="Threads", description="Threads per model and for decoding; 0 means all cores."
    )
    max_image_pixels: int = Field(
        default=100_000_000,
        gt=0,
        title="Largest image",
        description="Images with more pixels are refused as possible decompression bombs.",
    )
    max_image_bytes: int = Field(
        default=200 * 1024 * 1024, gt=0, title="Largest file", description="Files larger than this are refused."
    )

    retention_days: int = Field(
        default=30, ge=1, title="Retention period (days)",
        description="Sightings and evidence older than this are purged by 'facesearch retention run'.",
    )
    recording_lookback_days: int = Field(
        default=DEFAULT_RECORDING_LOOKBACK_DAYS, ge=0, title="Recording window before a case (days)",
        description="A case's recording window (which recordings its searches may cover) starts this many days "
        "before its validity does and ends with it; a case may narrow the window, never widen it.",
    )
    max_case_days: int = Field(
        default=30, ge=1, title="Longest case (days)",
        description="The longest validity a case may be given, from valid-from to valid-until.",
    )

    min_reviewers: int = Field(
        default=DEFAULT_MIN_REVIEWERS, ge=1, le=10, title="Fewest reviewers",
        description="Distinct people (not credentials) who must confirm a sighting: a case may require more, "
        "never fewer; cases made before a raise follow the raised minimum.",
    )

    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, gt=0, title="Largest upload",
        description="Photos uploaded to the API larger than this are refused (413).",
    )
    max_request_bytes: int = Field(
        default=100 * 1024 * 1024, gt=0, title="Largest upload request",
        description="A multipart request (photos to enrol, identify or verify) larger than this is refused (413) "
        "before it is read; other bodies are capped at 1 MiB.",
    )
    max_upload_pixels: int = Field(
        default=40_000_000, gt=0, title="Largest uploaded photo (pixels)",
        description="Photos uploaded to the API are refused (400) past this many pixels, read from the file's "
        "header before anything is decoded; a larger JPEG is searched decoded at 1/2, 1/4 or 1/8 scale when "
        "that fits. Enrolment photos must fit as they are.",
    )
    max_concurrent_decodes: int = Field(
        default=0, ge=0, title="Concurrent face work",
        description="How many uploads one server process decodes and searches at once (0: one per core); "
        "others wait up to decode_wait_s, then are answered 503 with Retry-After.",
    )
    decode_wait_s: float = Field(
        default=60.0, ge=0, le=600, title="Longest wait for face work (seconds)",
        description="How long an upload waits for a free slot before it is answered 503. Waiting costs no thread "
        "and little memory (the body is spooled), so the default rides out a burst of 20 clients on 2 cores "
        "(benchmarks/api_load.py) instead of refusing it.",
    )
    max_streams_per_user: int = Field(
        default=4, ge=1, title="Live alert streams per person",
        description="Open alert streams (server-sent events) one signed-in person may hold; one more is 429.",
    )
    max_streams: int = Field(
        default=200, ge=1, title="Live alert streams in all",
        description="Open alert streams one server process holds at most; one more is 503.",
    )
    trusted_proxies: str | None = Field(
        default=None, title="Trusted proxies",
        description="Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto headers are "
        "believed (comma-separated, as uvicorn's forwarded_allow_ips). Unset: such headers are ignored, so a "
        "client cannot pick the address its failed sign-ins are counted under.",
    )
    signin_passive: Literal["refuse", "report"] = Field(
        default="report", title="Sign-in: the print-and-replay model",
        description="report: the model's verdict is reported and audited but does not refuse; refuse: a face it "
        "reads as a print or a screen is not signed in. Report by default: on 1,031 public photos it refused 42% "
        "of real faces and let 30% of attacks through (benchmarks/signin.py --pad-data); refuse where it is "
        "measured to do better on the installation's own cameras.",
    )
    signin_clips_only: bool = Field(
        default=False, title="Sign-in: clips only",
        description="Refuse photo captures: only a clip can show a head turning (the active check), so a photo "
        "capture is stopped from being a printed photo by the passive model alone.",
    )
    signin_keep_captures: bool = Field(
        default=False, title="Sign-in: keep captures",
        description="Keep each sign-in attempt's capture, sealed, under <home>/signin-captures (to look into "
        "disputed attempts); deleted with the person's enrolment. Off: nothing of a capture is kept.",
    )
    media_root: Path | None = Field(
        default=None, title="Media root",
        description="Scans started through the API may read recordings under this folder only "
        "(default: <home>/media).",
    )

    audit_checkpoints: Path | None = Field(
        default=None, title="Audit checkpoint folder",
        description="Where a signed checkpoint of the audit log is appended after every write to it (default: "
        "<home>/audit-checkpoints). Put it on another disk or a write-once mount to keep it out of reach of "
        "whoever can write the database.",
    )
    audit_checkpoint_command: str | None = Field(
        default=None, title="Audit checkpoint command",
        description="A command that receives each signed checkpoint (one JSON object) on its standard input, to "
        "ship it elsewhere (a remote log, an object store with retention lock). Run in the background; failures "
        "are logged.",
    )

    @property
    def resolved_audit_checkpoints(self) -> Path:
        return self.audit_checkpoints or self.home / "audit-checkpoints"

    @property
    def resolved_media_root(self) -> Path:
        return (self.media_root or self.home / "media").resolve()

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home / 'facesearch.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read from the environment once."""
    return Settings()
