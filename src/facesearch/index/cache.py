"""The derived index on disk: sealed like the templates, checked against the database before use.

The file holds the template ids, their identities and vectors of one profile, and the approximate index
(quantised codes or HNSW graph) when the gallery is large enough for one, all sealed with the installation's key (a copy
of the data directory without the key yields no embedding). It carries the fingerprint of the template
ids it was built from; when the database's ids differ (a crash between a commit and the cache update,
templates deleted by a closed case, a restored backup), the index is stale and is rebuilt from the
database, which is the source of truth. A damaged file is rebuilt too, and so is one sealed with another key:
a file left by an earlier installation in the same folder. Where the key in use is the wrong one, the rebuild
reads the database's templates with it and fails there, naming both keys: nothing is hidden.
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from facesearch.errors import FacesearchError
from facesearch.files import atomic_write
from facesearch.index.gallery_index import GalleryIndex
from facesearch.store.crypto import Sealer, WrongKeyError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class IndexCache:
    root: Path
    sealer: Sealer

    def path(self, profile: str) -> Path:
        return self.root / f"{profile}.index.sealed"

    def _purpose(self, profile: str) -> str:
        return f"gallery-index:{profile}"

    def load(self, profile: str, dim: int, fingerprint: str) -> GalleryIndex | None:
        """The cached index when it matches ``fingerprint``; ``None`` when missing, stale or unreadable."""
        path = self.path(profile)
        if not path.is_file():
            return None
        try:
            raw = self.sealer.open(path.read_bytes(), self._purpose(profile))
            with np.load(io.BytesIO(raw), allow_pickle=False) as data:
                if str(data["fingerprint"]) != fingerprint or int(data["dim"]) != dim:
                    log.info("%s: index is stale against the database; rebuilding", path)
                    return None
                if "serialized" in data.files:
                    return GalleryIndex.from_serialized(data["template_ids"], data["identity_ids"], data["vectors"],
                                                        dim, str(data["kind"]), data["serialized"])
                return GalleryIndex.build(data["template_ids"], data["identity_ids"], data["vectors"], dim)
        except WrongKeyError as exc:
            log.warning("%s: left by another installation (%s); rebuilding it from the database", path, exc.reason)
            return None
        except (FacesearchError, OSError, ValueError, KeyError) as exc:
            log.warning("%s: unreadable index (%s); rebuilding", path, exc)
            return None

    def drop(self, profile: str) -> None:
        """Delete the cached index of ``profile`` now (after templates were deleted: the file must not keep
        their vectors until the next search happens to rebuild it)."""
        self.path(profile).unlink(missing_ok=True)

    def save(self, profile: str, index: GalleryIndex) -> None:
        buf = io.BytesIO()
        arrays: dict[str, NDArray[Any]] = {
            "template_ids": index.template_ids, "identity_ids": index.identity_ids, "vectors": index.vectors,
            "fingerprint": np.array(index.fingerprint), "dim": np.array(index.dim)}
        serialized = index.serialized()
        if serialized is not None:  # an HNSW graph takes minutes to build at a million templates: keep it
            arrays["serialized"], arrays["kind"] = serialized, np.array(index.kind)
        np.savez(buf, **arrays)  # type: ignore[arg-type]  # numpy's stub reads ** as allow_pickle
        atomic_write(self.path(profile), self.sealer.seal(buf.getvalue(), self._purpose(profile)), mode=0o600)
