"""Structured logs for the server: one JSON object per line, with the request's fields as keys, so that
a log shipper can index method, route, status and latency without parsing prose."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

FIELDS = ("method", "route", "status", "ms", "actor", "job")


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {"time": datetime.fromtimestamp(record.created, UTC).isoformat(),
                                    "level": record.levelname.lower(), "logger": record.name,
                                    "message": record.getMessage()}
        entry.update({k: getattr(record, k) for k in FIELDS if hasattr(record, k)})
        if record.exc_info:
            entry["error"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def use_json_logs(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
