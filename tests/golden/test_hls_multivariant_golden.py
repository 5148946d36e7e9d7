"""Golden cases of the multivariant and URI edits: ``hls/{renditions,variants,uris}/<case>/``
holds ``input.m3u8``, ``edit.json`` (the edit as msgspec JSON) and the reviewed
``expected.m3u8`` (``pytest --update-golden`` rewrites it)."""

from collections.abc import Callable
from pathlib import Path
from typing import Any

import msgspec
import pytest

from edge_assembler.core.edits.renditions import (
    AddRendition,
    DropRenditions,
    PreferAccessibility,
    PreferLanguages,
    apply_add_rendition,
    apply_drop_renditions,
    apply_prefer_accessibility,
    apply_prefer_languages,
)
from edge_assembler.core.edits.uris import (
    ProxyChildUris,
    ResolveUris,
    SegmentBase,
    apply_proxy_child_uris,
    apply_resolve_uris,
    apply_segment_base,
)
from edge_assembler.core.edits.variants import (
    FilterVariants,
    apply_filter_variants,
    check_multivariant,
)
from edge_assembler.core.hls import MultivariantPlaylist, parse, render
from tests.hls_support import assert_m3u8_agrees, check_golden

HERE = Path(__file__).resolve().parent / "hls"
CASES = sorted(p for kind in ("renditions", "variants", "uris") for p in (HERE / kind).iterdir())

AnyEdit = (
    AddRendition
    | PreferLanguages
    | DropRenditions
    | PreferAccessibility
    | FilterVariants
    | ProxyChildUris
    | SegmentBase
    | ResolveUris
)
APPLY: dict[type, Callable[[Any, Any], Any]] = {
    AddRendition: apply_add_rendition,
    PreferLanguages: apply_prefer_languages,
    DropRenditions: apply_drop_renditions,
    PreferAccessibility: apply_prefer_accessibility,
    FilterVariants: apply_filter_variants,
    ProxyChildUris: apply_proxy_child_uris,
    SegmentBase: apply_segment_base,
    ResolveUris: apply_resolve_uris,
}


def test_every_kind_has_cases():
    assert {case.parent.name for case in CASES} == {"renditions", "variants", "uris"}
    assert len(CASES) >= 15


@pytest.mark.parametrize("case", CASES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_golden(case: Path, update_golden: bool) -> None:
    edit = msgspec.json.decode((case / "edit.json").read_bytes(), type=AnyEdit)
    source = parse((case / "input.m3u8").read_bytes())
    out = render(APPLY[type(edit)](source, edit))
    check_golden(case / "expected.m3u8", out, update_golden)
    result = parse(out)
    assert render(result) == out
    assert_m3u8_agrees(out)
    if isinstance(result, MultivariantPlaylist):
        assert check_multivariant(result) == []
