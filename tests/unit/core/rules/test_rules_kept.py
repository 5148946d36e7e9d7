"""What a rule set keeps between requests (pods per slot, plan fingerprints) never changes
a decision: a warm rule set decides as a freshly compiled one, whatever the earlier
viewers were (caps, countries, clocks, sessions)."""

from datetime import timedelta
from hashlib import blake2b
from typing import Any

import msgspec
import pytest

from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.rules import BreakFact, CompiledRules, Decision, decide
from edge_assembler.core.rules.matchers import BUCKETS, bucket
from tests.unit.core.rules.support import NOW, compile_toml, ctx, media, mpd, reason

ADS = """
[[assets]]
id = "a1"
kind = "ad"
hls = "/a/1/{rendition}"
duration = 15
tags = ["x"]

[[assets]]
id = "a2"
kind = "ad"
hls = "/a/2/{rendition}"
dash = "https://ads.example/2.mpd"
duration = 15
tags = ["x", "y"]

[[assets]]
id = "fr-only"
kind = "ad"
hls = "/a/fr/{rendition}"
duration = 10
tags = ["x"]
territories = ["FR"]

[[assets]]
id = "soon"
kind = "ad"
hls = "/a/soon/{rendition}"
duration = 10
tags = ["x"]
valid_from = 2026-03-14T13:00:00Z
valid_until = 2026-03-14T14:00:00Z

[[assets]]
id = "slate"
kind = "slate"
hls = "/slate/{rendition}"
duration = 2
"""

RULES = """
[[rules]]
id = "caps"
layer = "editorial"
actions = [{ kind = "cap", tags = ["y"], max = 1 }, { kind = "cap", assets = ["a1"], max = 2 }]

[[rules]]
id = "ads"
actions = [
  { kind = "ad_break", slot = "pre", tags = ["x"], count = 2 },
  { kind = "ad_break", slot = "mid", at = 300, tags = ["x"], count = 3, max_duration = 30 },
  { kind = "ad_break", slot = "cues", tags = ["x"], count = 2, slate = "slate" },
]
"""

BREAKS = (BreakFact(id="b1", start=120.0, duration=25.0),)


def _fresh() -> CompiledRules:
    return compile_toml(RULES, catalogue=ADS)


# Context changes, each decided on one warm rule set and on a fresh one, in this order.
VIEWERS: list[dict[str, Any]] = [
    {},
    {"exposures": (("y", 1),)},  # a2 capped
    {"exposures": (("a1", 2),)},  # a1 capped
    {"country": "FR"},
    {"country": "DE"},
    {"now": NOW + timedelta(hours=1, minutes=30)},  # "soon" valid
    {"now": NOW + timedelta(hours=3)},  # "soon" expired
    {"country": "FR", "exposures": (("y", 1), ("a1", 5))},
    {"session_id": "s-2"},
    {"session_id": "s-3", "exposures": (("y", 3),)},
    {},
]


@pytest.mark.parametrize("manifest", [media(breaks=BREAKS), mpd(breaks=BREAKS)])
def test_a_warm_rule_set_decides_as_a_fresh_one(manifest: Any) -> None:
    warm = _fresh()
    for changes in VIEWERS * 2:
        viewer = ctx(**changes)
        expected = decide(manifest, viewer, _fresh())
        got = decide(manifest, viewer, warm)
        assert got == expected, changes
        assert got.fingerprint == expected.fingerprint
        assert got.needs == expected.needs


def test_a_cap_refuses_an_ad_the_kept_pod_chose() -> None:
    warm = _fresh()
    session = next(f"s{n}" for n in range(100) if bucket(f"s{n}", _rotation("ads"), "pre", 4) == 0)
    first = decide(media(), ctx(session_id=session), warm)
    assert _pre(first) == ["a2", "a1"]  # the last ad of a pre-roll is inserted first
    capped = decide(media(), ctx(session_id=session, exposures=(("a1", 2),)), warm)
    assert _pre(capped) == ["a2"]  # fr-only: no country; soon: not yet valid
    assert "capped: a1 shown 2/2 (rule caps)" in reason(capped, "ads")


NAMED = """
[[rules]]
id = "named"
actions = [{ kind = "ad_break", slot = "post", pod = ["fr-only", "soon", "a1"] }]
"""
LATER = NOW + timedelta(hours=1, minutes=30)  # inside the validity window of "soon"


@pytest.mark.parametrize(
    ("country", "now", "pod", "note"),
    [
        ("FR", NOW, ["fr-only", "a1"], "asset soon not valid before 2026-03-14T13:00:00+00:00"),
        ("DE", NOW, ["a1"], "asset fr-only not licensed in DE"),
        ("FR", LATER, ["fr-only", "soon", "a1"], ""),
        (None, LATER, ["soon", "a1"], "asset fr-only not licensed in an unknown country"),
        ("FR", NOW + timedelta(hours=2), ["fr-only", "a1"], "asset soon expired at"),
    ],
)
def test_rights_are_read_per_request_not_kept(
    country: str | None, now: Any, pod: list[str], note: str
) -> None:
    warm = compile_toml(NAMED, catalogue=ADS)
    for other in ("FR", "DE", None):  # earlier viewers leave their pods kept
        for when in (NOW, LATER, NOW + timedelta(hours=2)):
            decide(media(), ctx(country=other, now=when), warm)
    decision = decide(media(), ctx(country=country, now=now), warm)
    assert [e.source for e in decision.edits if isinstance(e, InsertRun)] == pod
    assert reason(decision, "named").startswith(note)


def test_the_fingerprint_is_the_hash_of_the_edits_json() -> None:
    warm = _fresh()
    for changes in VIEWERS:
        decision = decide(media(breaks=BREAKS), ctx(**changes), warm)
        data = msgspec.json.encode(decision.edits)
        assert decision.fingerprint == blake2b(data, digest_size=16).hexdigest()


def test_the_rotation_bucket_is_the_keyed_blake2b_of_the_session_and_slot() -> None:
    key = _rotation("ads")
    for session, salt, n in [("s-1", "pre", 4), ("", "mid@300", 3), ("é", "cue:b1", BUCKETS)]:
        digest = blake2b(f"{session}\x00{salt}".encode(), key=key, digest_size=8).digest()
        assert bucket(session, key, salt, n) == int.from_bytes(digest, "big") % n


def _pre(decision: Decision) -> list[str]:
    return [e.source for e in decision.edits if isinstance(e, InsertRun) and e.position == "pre"]


def _rotation(rule: str) -> bytes:
    return blake2b(f"rotate/{rule}".encode(), digest_size=32).digest()
