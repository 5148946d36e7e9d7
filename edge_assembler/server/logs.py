"""Logging: one JSON (or text) line per request on stdout, diagnostics on stderr."""

import json
import logging
import sys
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp.abc import AbstractAccessLogger
from aiohttp.web import BaseRequest, StreamResponse

from edge_assembler.config import Log
from edge_assembler.server.state import CACHE_STATUS, ORIGIN_SECONDS, ROUTE

ACCESS_LOGGER = "edge_assembler.access"


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": _iso(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)


class AccessLogger(AbstractAccessLogger):
    """One line per answered request; fields are stable for log pipelines."""

    json_lines = True

    def log(self, request: BaseRequest, response: StreamResponse, time: float) -> None:
        origin = request.get(ORIGIN_SECONDS)
        fields = {
            "time": _iso(_now()),
            "remote": request.remote,
            "method": request.method,
            "path": request.rel_url.raw_path,
            "status": response.status,
            "bytes": response.body_length,
            "duration_ms": round(time * 1000, 3),
            "route": request.get(ROUTE, "other"),
            "cache": request.get(CACHE_STATUS, "-"),
            "origin_ms": None if origin is None else round(origin * 1000, 3),
            "user_agent": request.headers.get("User-Agent"),
        }
        if self.json_lines:
            self.logger.info(json.dumps(fields, ensure_ascii=False))
        else:
            self.logger.info(" ".join(f"{k}={v}" for k, v in fields.items()))


class TextAccessLogger(AccessLogger):
    json_lines = False


def configure(config: Log) -> type[AccessLogger]:
    """Set up the root and access loggers; return the access logger class to use."""
    diagnostics = logging.StreamHandler(sys.stderr)
    if config.format == "json":
        diagnostics.setFormatter(JsonFormatter())
    else:
        diagnostics.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        )
    root = logging.getLogger()
    root.handlers[:] = [diagnostics]
    root.setLevel(config.level.upper())
    access = logging.getLogger(ACCESS_LOGGER)
    access.propagate = False
    access.setLevel(logging.INFO)
    lines = logging.StreamHandler(sys.stdout)
    lines.setFormatter(logging.Formatter("%(message)s"))
    access.handlers[:] = [lines] if config.access_log else []
    access.disabled = not config.access_log
    return AccessLogger if config.format == "json" else TextAccessLogger


def _now() -> float:
    return time.time()


def _iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="milliseconds")
