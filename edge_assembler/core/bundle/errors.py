"""Bundle refusals: one exception type with a stable reason code (BUNDLES §3 principle 7).

The code is safe as a metric label and shows up in status, logs and the CLI; the message is for
people.
"""

from typing import Final

from edge_assembler.core.errors import EdgeError

REASON_CODES: Final[frozenset[str]] = frozenset(
    {
        "file_modified",
        "signature_invalid",
        "file_added",
        "file_missing",
        "unsafe_member",
        "duplicate_member",
        "too_large",
        "bad_archive",
        "unsigned",
        "bad_signature_format",
        "key_not_authorized",
        "threshold_not_met",
        "expired",
        "not_yet_valid",
        "validity_too_long",
        "rollback",
        "equivocation",
        "not_modified",
        "rules_invalid",
        "unsupported_schema",
        "selftest_failed",
        "bad_manifest",
        "unsupported_format",
        "wrong_name",
        "wrong_scope",
        "persist_failed",
        "bad_trust",
        "bad_state",
    }
)


class BundleError(EdgeError):
    """A bundle, trust store or state file was refused; ``str(err) == f"{code}: {message}"``."""

    def __init__(self, code: str, message: str) -> None:
        if code not in REASON_CODES:
            raise ValueError(f"unknown bundle reason code {code!r}")
        super().__init__(code, f"{code}: {message}")
        self.code = code
        self.message = message
