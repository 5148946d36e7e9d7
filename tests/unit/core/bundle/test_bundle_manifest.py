"""Manifest parsing, name, scope and worker gate: BUNDLES §6 rows 26-27 (§4.2, §4.5 step 4)."""

import json

import pytest

from edge_assembler.core.bundle import BundleError, NodePolicy, make_manifest, parse_manifest
from tests.bundle_support import (
    NOW,
    BundleFactory,
    TrustSpec,
    at,
    refused,
    trust_store,
    verify_blob,
)

GOOD = BundleFactory()
TEXT = GOOD.manifest().decode()


def _edit(**changes: object) -> bytes:
    doc = GOOD.manifest_doc()
    for key, value in changes.items():
        if value is None:
            del doc[key]
        else:
            doc[key] = value
    return json.dumps(doc).encode()


ROW26 = [
    pytest.param(
        TEXT.replace('"revision": 10', '"revision": 10, "revision": 11'),
        "bad_manifest",
        id="duplicate-key",
    ),
    pytest.param(TEXT.replace('"revision": 10', '"revision": NaN'), "bad_manifest", id="nan"),
    pytest.param(
        TEXT.replace('"revision": 10', '"revision": Infinity'), "bad_manifest", id="infinity"
    ),
    pytest.param(
        TEXT.replace('"revision": 10', '"revision": 10.0'), "bad_manifest", id="float-for-int"
    ),
    pytest.param(
        TEXT.replace('"revision": 10', '"revision": true'), "bad_manifest", id="bool-for-int"
    ),
    pytest.param(
        TEXT.replace('"revision": 10', '"revision": -1'), "bad_manifest", id="negative-revision"
    ),
    pytest.param(_edit(created="2026-09-21T11:00:00"), "bad_manifest", id="naive-timestamp"),
    pytest.param(_edit(created="2026-09-21T11:00:00+00:00"), "bad_manifest", id="offset-not-z"),
    pytest.param(_edit(expires="2026-09-21"), "bad_manifest", id="date-only"),
    pytest.param(
        _edit(expires="2026-09-21T10:00:00Z"), "bad_manifest", id="expires-before-created"
    ),
    pytest.param(_edit(surprise=1), "bad_manifest", id="unknown-field"),
    pytest.param(_edit(format_version=2), "unsupported_format", id="format-version-2"),
    pytest.param(_edit(format_version="1"), "bad_manifest", id="format-version-string"),
    pytest.param(_edit(format_version=None), "bad_manifest", id="format-version-missing"),
    pytest.param(_edit(_type="opa-bundle"), "bad_manifest", id="wrong-type"),
    pytest.param(_edit(expires=None), "bad_manifest", id="expires-missing"),
    pytest.param(_edit(name="Prod Global"), "bad_manifest", id="bad-name"),
    pytest.param(_edit(load_order=["rules/ads.json"]), "bad_manifest", id="load-order-partial"),
    pytest.param(
        _edit(load_order=["rules/ads.json", "rules/lang.toml", "rules/ads.json"]),
        "bad_manifest",
        id="load-order-duplicate",
    ),
    pytest.param(
        _edit(files={"manifest.sig": {"sha256": "0" * 64, "size": 1}}),
        "bad_manifest",
        id="lists-envelope",
    ),
    pytest.param(
        _edit(files={"../x": {"sha256": "0" * 64, "size": 1}}),
        "bad_manifest",
        id="unsafe-file-name",
    ),
    pytest.param(
        _edit(files={"rules/a.json": {"sha256": "ABC", "size": 1}}), "bad_manifest", id="bad-digest"
    ),
    pytest.param(
        _edit(files={"rules/a.json": {"sha256": "0" * 64, "size": 1, "md5": "x"}}),
        "bad_manifest",
        id="unknown-file-field",
    ),
    pytest.param(_edit(min_worker_version="latest"), "bad_manifest", id="bad-worker-version"),
    pytest.param("[1, 2]", "bad_manifest", id="not-an-object"),
    pytest.param("{", "bad_manifest", id="not-json"),
    pytest.param(b"\xff\xfe{}", "bad_manifest", id="not-utf8"),
    pytest.param(_edit(min_worker_version="99.0"), "unsupported_format", id="worker-too-old"),
]


@pytest.mark.parametrize(("manifest", "code"), ROW26)
def test_row26_manifest_refused(manifest: str | bytes, code: str) -> None:
    body = manifest.encode() if isinstance(manifest, str) else manifest
    refused(code, GOOD.build(manifest=body))


def test_row26_x_fields_are_allowed_and_ignored() -> None:
    v = verify_blob(GOOD.build(manifest=_edit(**{"x-ticket": {"id": 1.5}})))
    assert v.manifest.revision == 10


def test_manifest_fields_round_trip() -> None:
    m = parse_manifest(
        make_manifest(
            GOOD.files,
            name="prod-global",
            revision=7,
            created=at(hours=-1),
            expires=at(days=1),
            rules_schema_version=3,
            scope={"env": ["prod"]},
            load_order=["rules/lang.toml", "rules/ads.json"],
            source={"commit": "abc"},
            min_worker_version="0.1",
        )
    )
    assert (m.name, m.revision, m.rules_schema_version) == ("prod-global", 7, 3)
    assert m.created == at(hours=-1)
    assert m.expires == at(days=1)
    assert m.load_order == ("rules/lang.toml", "rules/ads.json")
    assert m.scope == {"env": ("prod",)}
    assert m.source == {"commit": "abc"}
    assert m.files["rules/ads.json"].size == len(GOOD.files["rules/ads.json"])


def test_load_order_defaults_to_sorted_rule_documents() -> None:
    m = parse_manifest(_edit(load_order=None))
    assert m.load_order == ("rules/ads.json", "rules/lang.toml")


def test_make_manifest_refuses_what_parse_would_refuse() -> None:
    with pytest.raises(BundleError) as info:
        make_manifest(
            GOOD.files, name="p", revision=1, created=NOW, expires=NOW, rules_schema_version=1
        )
    assert info.value.code == "bad_manifest"


def test_worker_version_gate_accepts_equal_and_newer() -> None:
    blob = GOOD.replace(min_worker_version="1.8").build()
    assert verify_blob(blob, policy=NodePolicy(worker_version="1.8.0")).revision == 10
    assert verify_blob(blob, policy=NodePolicy(worker_version="1.10.0rc1")).revision == 10
    refused("unsupported_format", blob, policy=NodePolicy(worker_version="1.7.9"))


# Row 27: a staging bundle offered to a prod node.
def test_row27_wrong_name() -> None:
    staging = GOOD.replace(name="staging-eu").build()
    refused("wrong_name", staging, policy=NodePolicy(names=("prod-*",)))
    refused("wrong_name", GOOD.build(), policy=NodePolicy(names=("prod-eu",)))


def test_row27_name_is_checked_before_key_authorization() -> None:
    trust = trust_store(TrustSpec(GOOD.signers[0], names=("staging-*",)))
    refused("wrong_name", GOOD.build(), trust=trust, policy=NodePolicy(names=("canary-*",)))


SCOPES = [
    ({"env": ["staging"]}, {"env": "prod"}, "wrong_scope"),
    ({"env": ["prod"], "pop": ["par*"]}, {"env": "prod", "pop": "fra1"}, "wrong_scope"),
    ({"env": ["prod"]}, {}, "wrong_scope"),
    ({"env": ["prod"]}, {"env": "prod", "pop": "par1"}, None),
    ({"env": ["prod"], "pop": ["par*", "lon*"]}, {"env": "prod", "pop": "lon2"}, None),
    ({"pop": ["*"]}, {}, None),
    (None, {"env": "prod"}, None),
]


@pytest.mark.parametrize(("scope", "facts", "code"), SCOPES)
def test_row27_scope(
    scope: dict[str, list[str]] | None, facts: dict[str, str], code: str | None
) -> None:
    blob = GOOD.replace(scope=scope).build()
    policy = NodePolicy(scope=facts)
    if code is None:
        assert verify_blob(blob, policy=policy).revision == 10
    else:
        refused(code, blob, policy=policy)
