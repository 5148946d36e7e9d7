"""Build errors name the member, the JSON path and what is wrong."""

import re

import pytest

from edge_assembler.core.rules import RulesError, compile_bundle
from tests.unit.core.rules.support import CATALOGUE

CASES = [
    (
        'id = "r"\nactions = [{ kind = "ad_break", slot = "mid", at = -1, pod = ["ad-1"] }]',
        "rules/ads.toml: $.rules[1].actions[0].at: expected `float` >= 0.0",
    ),
    (
        'id = "r"\nactions = [{ kind = "ad_break", slot = "pre", pod = ["ad-9"] }]',
        "rules/ads.toml: $.rules[1].actions[0].pod[0]: no asset 'ad-9'",
    ),
    (
        'id = "r"\nactions = [{ kind = "insert", role = "recap", asset = "x-{history.e}" }]',
        "rules/ads.toml: $.rules[1].actions[0].asset: no recap asset matches 'x-{history.e}'",
    ),
    (
        'id = "r"\nactions = [{ kind = "ad_break", slot = "pre", pod = ["recap-e1"] }]',
        "rules/ads.toml: $.rules[1].actions[0].pod[0]: asset 'recap-e1' is a recap, not a ad",
    ),
    (
        'id = "r"\nmatch = { time = { start = "25:00", end = "26:00" } }\n'
        'actions = [{ kind = "trim" }]',
        "rules/ads.toml: $.rules[1].match.time.start: 25:00 is not a time of day (00:00-23:59)",
    ),
    (
        'id = "r"\nmatch = { time = { start = "10:00", end = "11:00", tz = "Mars/Olympus" } }\n'
        'actions = [{ kind = "trim" }]',
        "rules/ads.toml: $.rules[1].match.time.tz: unknown time zone 'Mars/Olympus'",
    ),
    (
        'id = "r"\nmatch = { stream = ["e1"] }\n'
        'actions = [{ kind = "ad_break", slot = "mid", at = 1500, pod = ["ad-1"] }]',
        "rules/ads.toml: $.rules[1].actions[0].at: 1500 s is beyond the 1200 s of 'e1'",
    ),
    (
        'id = "r"\nactionz = []\nactions = [{ kind = "trim" }]',
        "rules/ads.toml: $.rules[1]: object contains unknown field `actionz`",
    ),
    (
        'id = "r"\nactions = [{ kind = "trim", second = 5 }]',
        "rules/ads.toml: $.rules[1].actions[0]: object contains unknown field `second`",
    ),
    (
        'id = "r"\nactions = [{ kind = "trimm" }]',
        "rules/ads.toml: $.rules[1].actions[0].kind: invalid value 'trimm'",
    ),
    (
        'id = "r"\nmatch = { path = ["/a/[b"] }\nactions = [{ kind = "trim" }]',
        "rules/ads.toml: $.rules[1].match.path[0]: unclosed '[' in glob '/a/[b'",
    ),
    (
        'id = "ok"\nactions = [{ kind = "trim" }]',
        "rules/ads.toml: $.rules[1].id: duplicate rule id 'ok' (first in rules/ads.toml)",
    ),
    (
        'id = "r"\nactions = [{ kind = "ad_break", slot = "mid", pod = ["ad-1"] }]',
        "rules/ads.toml: $.rules[1].actions[0].at: needed by a mid-roll, and by it only",
    ),
    (
        'id = "r"\nactions = [{ kind = "ad_break", slot = "pre", pod = ["ad-1"], pin = true }]',
        "rules/ads.toml: $.rules[1].actions[0].pin: only editorial rules pin a slot",
    ),
    (
        'id = "r"\nactions = [{ kind = "cap", assets = ["ad-1"], max = 1 }]',
        "rules/ads.toml: $.rules[1].actions[0]: only editorial rules cap personalisation",
    ),
    (
        'id = "r"\nmatch = { country = ["fr"] }\nactions = [{ kind = "trim" }]',
        "rules/ads.toml: $.rules[1].match.country[0]: expected `str` matching regex '^[A-Z]{2}$'",
    ),
]


def bundle(rule: str, catalogue: str = CATALOGUE) -> dict[str, bytes]:
    ads = f'[[rules]]\nid = "ok"\nactions = [{{ kind = "trim" }}]\n\n[[rules]]\n{rule}\n'
    return {"rules/catalogue.toml": catalogue.encode(), "rules/ads.toml": ads.encode()}


@pytest.mark.parametrize(("rule", "message"), CASES)
def test_error_names_file_and_path(rule: str, message: str) -> None:
    with pytest.raises(RulesError) as raised:
        compile_bundle(bundle(rule), load_order=["rules/catalogue.toml"], schema_version=1)
    assert raised.value.code == "rules_invalid"
    assert str(raised.value) == message
    assert raised.value.file == "rules/ads.toml"


ASSET_CASES = [
    (
        '[[assets]]\nid = "e"\nkind = "episode"\nhls = "/e"\nduration = 10\n'
        'modules = [{ id = "m", kind = "scene", start = 5, end = 5 }]',
        "$.assets[0].modules[0].end: must be after start (5 s)",
    ),
    (
        '[[assets]]\nid = "e"\nkind = "episode"\nhls = "/e"\nduration = 10\n'
        'modules = [{ id = "m", kind = "scene", start = 5, end = 12 }]',
        "$.assets[0].modules[0].end: beyond the asset's 10 s",
    ),
    ('[[assets]]\nid = "a"\nkind = "ad"', "$.assets[0]: needs an hls or a dash URL"),
    (
        '[[assets]]\nid = "a"\nkind = "ad"\nhls = "ftp://x"',
        "$.assets[0].hls: expected `str` matching regex",
    ),
    (
        '[[assets]]\nid = "a"\nkind = "audio"\nhls = "/a"',
        "$.assets[0].rendition: needed by audio and subtitles assets only, not audio",
    ),
    (
        '[[assets]]\nid = "a"\nkind = "ad"\nhls = "/a"\nvalid_until = 2026-01-01T00:00:00',
        "$.assets[0].valid_until: expected `datetime` with a timezone component",
    ),
]


@pytest.mark.parametrize(("asset", "message"), ASSET_CASES)
def test_asset_errors(asset: str, message: str) -> None:
    files = {"rules/assets.toml": asset.encode()}
    with pytest.raises(RulesError) as raised:
        compile_bundle(files, load_order=[], schema_version=1)
    assert str(raised.value).startswith(f"rules/assets.toml: {message}")


def test_duplicate_assets_across_files() -> None:
    asset = b'[[assets]]\nid = "a"\nkind = "ad"\nhls = "/a"\n'
    files = {
        "rules/a.toml": asset,
        "rules/b.json": b'{"assets": [{"id": "a", "kind": "ad", "hls": "/b"}]}',
    }
    with pytest.raises(RulesError) as raised:
        compile_bundle(files, load_order=[], schema_version=1)
    assert (
        str(raised.value)
        == "rules/b.json: $.assets[0].id: duplicate asset 'a' (first in rules/a.toml)"
    )


def test_json_and_toml_syntax_errors() -> None:
    with pytest.raises(RulesError, match=r"^rules/x.json: input data was truncated$"):
        compile_bundle({"rules/x.json": b"{"}, load_order=[], schema_version=1)
    with pytest.raises(RulesError, match=r"^rules/x.toml: TOML: "):
        compile_bundle({"rules/x.toml": b"id = "}, load_order=[], schema_version=1)
    with pytest.raises(RulesError, match=r"^rules/x.toml: not UTF-8"):
        compile_bundle({"rules/x.toml": b"\xff"}, load_order=[], schema_version=1)
    with pytest.raises(RulesError, match=r"^rules/x.json: \$: expected `object`, got `array`"):
        compile_bundle({"rules/x.json": b"[]"}, load_order=[], schema_version=1)


def test_members() -> None:
    with pytest.raises(
        RulesError, match=re.escape("rules/x.yaml: a rules document is .toml or .json")
    ):
        compile_bundle({"rules/x.yaml": b""}, load_order=[], schema_version=1)
    with pytest.raises(
        RulesError, match=re.escape("README.md: not a rules document or a self-test")
    ):
        compile_bundle({"README.md": b""}, load_order=[], schema_version=1)
    with pytest.raises(RulesError, match=re.escape("tests/a/b.json: a self-test vector is tests/")):
        compile_bundle({"tests/a/b.json": b"{}"}, load_order=[], schema_version=1)
    with pytest.raises(RulesError, match=re.escape("rules/gone.toml: named in load_order but not")):
        compile_bundle({}, load_order=["rules/gone.toml"], schema_version=1)


def test_unsupported_schema_version() -> None:
    with pytest.raises(RulesError) as raised:
        compile_bundle({}, load_order=[], schema_version=2)
    assert raised.value.code == "unsupported_schema"
    assert str(raised.value) == "rules schema version 2 is not supported (1..1)"
