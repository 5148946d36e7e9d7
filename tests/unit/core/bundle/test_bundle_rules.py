"""Step 8 with the real rules compiler: BUNDLES §6 row 25 (§4.5 step 8).

The bundle is the demo rule source in ``rules/demo``; each case breaks one thing in it. The rules
language has globs but no user-written regular expressions, so "bad regex" has no counterpart here.
"""

from collections.abc import Mapping
from pathlib import Path

import pytest

from edge_assembler.core.bundle.rules import rules_compiler
from edge_assembler.core.rules import SUPPORTED_SCHEMA_VERSIONS, CompiledRules
from tests.bundle_support import BundleFactory, refused, verify_blob

DEMO = Path(__file__).resolve().parents[4] / "rules" / "demo"
DEMO_FILES: Mapping[str, bytes] = {
    p.relative_to(DEMO).as_posix(): p.read_bytes() for p in sorted(DEMO.rglob("*")) if p.is_file()
}
SCHEMA = SUPPORTED_SCHEMA_VERSIONS[1]


def _demo(**replace: bytes) -> BundleFactory:
    return BundleFactory(files={**DEMO_FILES, **replace}, rules_schema_version=SCHEMA)


def test_demo_bundle_compiles() -> None:
    v = verify_blob(_demo().build(), compile=rules_compiler)
    assert isinstance(v.rules, CompiledRules)
    assert v.rules.schema_version == SCHEMA


ADS = DEMO_FILES["rules/ads.toml"].decode()
VECTOR = DEMO_FILES["tests/capped.json"].decode()

ROW25 = [
    pytest.param(
        {"rules/ads.toml": ADS.replace('slot = "mid", at = 14', 'slot = "mid", at = -1').encode()},
        "rules_invalid",
        "rules/ads.toml",
        id="schema-violation",
    ),
    pytest.param(
        {"rules/ads.toml": ADS.replace('id = "preroll"', 'id = "preroll"\nsurprise = 1').encode()},
        "rules_invalid",
        "rules/ads.toml",
        id="unknown-field",
    ),
    pytest.param(
        {
            "rules/ads.toml": ADS.replace(
                'pod = ["ad"] }]\n\n[[rules]]\nid = "midroll"',
                'pod = ["no-such-ad"] }]\n\n[[rules]]\nid = "midroll"',
            ).encode()
        },
        "rules_invalid",
        "rules/ads.toml",
        id="missing-asset",
    ),
    pytest.param(
        {"rules/extra.toml": b"[[rules]\n"}, "rules_invalid", "rules/extra.toml", id="toml-syntax"
    ),
    pytest.param(
        {
            "tests/capped.json": VECTOR.replace(
                '"fired": ["ad-cap"]', '"fired": ["preroll"]'
            ).encode()
        },
        "selftest_failed",
        "tests/capped.json",
        id="failing-self-test",
    ),
]


@pytest.mark.parametrize(("replace", "code", "file"), ROW25)
def test_row25_malformed_rules(replace: dict[str, bytes], code: str, file: str) -> None:
    err = refused(code, _demo(**replace).build(), compile=rules_compiler)
    assert err.message.startswith(f"{file}: ")


@pytest.mark.parametrize("version", [SUPPORTED_SCHEMA_VERSIONS[0] - 1, SCHEMA + 1])
def test_row25_unknown_schema_version(version: int) -> None:
    blob = _demo().replace(rules_schema_version=version).build()
    refused("unsupported_schema", blob, compile=rules_compiler)
