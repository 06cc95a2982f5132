"""Structured (JSON) logs in Lambda."""

from __future__ import annotations

import json
import logging
import os


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "time": self.formatTime(record),
        }
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out)


def configure() -> None:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        root = logging.getLogger()
        for h in root.handlers:
            h.setFormatter(JsonFormatter())
        root.setLevel(logging.INFO)
