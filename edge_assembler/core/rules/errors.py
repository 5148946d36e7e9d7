"""The one error of the rules compiler (BUNDLES §4.5 step 8 reason codes)."""

from typing import Literal

RulesCode = Literal["rules_invalid", "unsupported_schema", "selftest_failed"]


class RulesError(Exception):
    """A bundle's rules cannot be used. ``str(err)`` is ``"<file>: <path>: <message>"``,
    leaving out an empty file or path: ``rules/ads.toml: $.rules[3].actions[0].at: ...``."""

    def __init__(self, code: RulesCode, file: str, path: str, message: str) -> None:
        self.code: RulesCode = code
        self.file = file
        self.path = path
        self.message = message
        super().__init__(": ".join(part for part in (file, path, message) if part))
