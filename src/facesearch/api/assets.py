"""The console's one script, htmx, fetched from its npm package at install time and pinned by hash.

No front-end build step and no CDN at run time: ``facesearch assets install`` (run by ``install.sh``)
reads ``dist/htmx.min.js`` out of ``htmx.org``'s published tarball (0BSD licence) into the data
directory, and the console serves it from there. Without it the console still works: its forms are
plain HTML; htmx only makes the live parts (job progress) update without reloading.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from facesearch.files import atomic_write
from facesearch.models.npm_fetch import fetch_npm_member

HTMX_PACKAGE, HTMX_VERSION = "htmx.org", "2.0.4"
HTMX_SHA256 = "e209dda5c8235479f3166defc7750e1dbcd5a5c1808b7792fc2e6733768fb447"


def htmx_path(home: Path) -> Path:
    return home / "static" / "htmx.min.js"


def install_assets(home: Path) -> Path:
    path = htmx_path(home)
    if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == HTMX_SHA256:
        return path
    data = fetch_npm_member(HTMX_PACKAGE, HTMX_VERSION, "dist/htmx.min.js", sha256=HTMX_SHA256)
    atomic_write(path, data, mode=0o644)
    return path
