"""Settings: one pydantic ``BaseSettings`` read from ``FACESEARCH_*`` variables, loaded once, passed down."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


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
    device: Literal["cpu", "cuda"] = Field(
        default="cpu", title="Device", description="Where models run: 'cpu', or 'cuda' through ONNX Runtime."
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
    max_case_days: int = Field(
        default=30, ge=1, title="Longest case (days)",
        description="The longest validity a case may be given, from valid-from to valid-until.",
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
    trusted_proxies: str | None = Field(
        default=None, title="Trusted proxies",
        description="Addresses of reverse proxies whose X-Forwarded-For and X-Forwarded-Proto headers are "
        "believed (comma-separated, as uvicorn's forwarded_allow_ips). Unset: such headers are ignored, so a "
        "client cannot pick the address its failed sign-ins are counted under.",
    )
    media_root: Path | None = Field(
        default=None, title="Media root",
        description="Scans started through the API may read recordings under this folder only "
        "(default: <home>/media).",
    )

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
