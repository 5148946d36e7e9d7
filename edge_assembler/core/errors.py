"""Errors raised on purpose, each with an HTTP status hint and a short reason code.

* EdgeError            (never raised directly)
  * BadRequest         400: the request cannot be served as asked
  * NotFound           404: no origin is configured for the path
  * OriginError        502: the origin could not be reached or answered badly
    * OriginTimeout    504: the origin did not answer in time
    * OriginTooLarge   502: a manifest exceeded the configured size cap
  * ManifestError      502: an origin manifest cannot be understood (has ``line``)

``reason`` is a short code from a closed set (safe as a metric label); ``str(exc)`` is the
human-readable explanation sent to the client and logged.
"""

from typing import ClassVar


class EdgeError(Exception):
    """Base for errors we raise on purpose. Not raised directly."""

    status_hint: ClassVar[int] = 500

    def __init__(self, reason: str, message: str) -> None:
        if type(self) is EdgeError:
            raise TypeError("tried to instantiate EdgeError directly")
        super().__init__(message)
        self.reason = reason


class BadRequest(EdgeError):
    status_hint = 400


class NotFound(EdgeError):
    status_hint = 404


class OriginError(EdgeError):
    status_hint = 502


class OriginTimeout(OriginError):
    status_hint = 504


class OriginTooLarge(OriginError):
    status_hint = 502


class ManifestError(EdgeError):
    """A manifest the edge cannot understand; ``line`` is 1-based (0: the whole document)."""

    status_hint = 502

    def __init__(self, line: int, reason: str) -> None:
        super().__init__("bad_manifest", f"line {line}: {reason}" if line else reason)
        self.line = line
        self.detail = reason
