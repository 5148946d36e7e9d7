"""Layers, priorities, editorial pins and frequency caps."""

from edge_assembler.core.rules import decide
from tests.unit.core.rules.support import compile_toml, ctx, edits, media, reason

PIN = """
[[rules]]
id = "launch-promo"
layer = "editorial"
actions = [{ kind = "ad_break", slot = "pre", tags = ["cars"], pin = true }]

[[rules]]
id = "targeted-pre"
match = { device = ["phone"] }
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad-3"] },
           { kind = "ad_break", slot = "post", pod = ["ad-3"] }]
"""


def test_a_pinned_slot_is_the_same_for_everyone_and_closed_to_lower_layers() -> None:
    rules = compile_toml(PIN)
    pods = set()
    for n in range(30):
        decision = decide(media(), ctx(session_id=f"s{n}", device="phone"), rules)
        pods.add(tuple(e["source"] for e in edits(decision) if e["position"] == "pre"))
        assert decision.fired == ("launch-promo", "targeted-pre")
        assert reason(decision, "targeted-pre") == "slot pre pinned by editorial rule launch-promo"
    assert pods == {("ad-1",)}


def test_layers_then_priority_then_id() -> None:
    rules = compile_toml(
        """
[[rules]]
id = "a-default"
layer = "default"
priority = 100
actions = [{ kind = "trim", seconds = 10 }]

[[rules]]
id = "b-low"
actions = [{ kind = "trim", seconds = 20 }]

[[rules]]
id = "c-high"
priority = 5
actions = [{ kind = "trim", seconds = 30 }]

[[rules]]
id = "a-low"
actions = [{ kind = "trim", seconds = 40 }]
"""
    )
    assert [r.id for r in rules.rules] == ["c-high", "a-low", "b-low", "a-default"]
    decision = decide(media(), ctx(), rules)
    assert decision.fired == ("c-high",)
    assert edits(decision) == [{"kind": "trim", "duration": 30.0}]
    assert reason(decision, "a-default") == "the trim decided by rule c-high"


def test_a_filled_slot_names_its_rule() -> None:
    rules = compile_toml(
        """
[[rules]]
id = "first"
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad-1"] }]

[[rules]]
id = "second"
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad-2"] }]
"""
    )
    decision = decide(media(), ctx(), rules)
    assert reason(decision, "second") == "slot pre filled by rule first"


CAP = """
[[rules]]
id = "cap"
layer = "editorial"
actions = [{ kind = "cap", assets = ["ad-3"], tags = ["cars"], max = 2 }]

[[rules]]
id = "ads"
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad-3", "ad-1", "ad-2"] },
           { kind = "ad_break", slot = "post", pod = ["ad-1"] }]
"""


def test_caps_count_exposures_and_what_the_plan_inserted() -> None:
    rules = compile_toml(CAP)
    fresh = decide(media(), ctx(), rules)
    # The pre-roll is applied last to first; the post-roll finds "cars" at its cap.
    assert [e["source"] for e in edits(fresh)] == ["ad-2", "ad-1", "ad-3"]
    assert reason(fresh, "ads") == "capped: cars shown 2/2 (rule cap)"
    seen = decide(media(), ctx(exposures=(("ad-3", 2), ("cars", 1))), rules)
    assert [e["source"] for e in edits(seen)] == ["ad-1"]  # the pre-roll's ad-1
    assert "capped: ad-3 shown 2/2 (rule cap)" in reason(seen, "ads")


def test_pinned_pods_ignore_caps_but_not_rights() -> None:
    rules = compile_toml(
        """
[[rules]]
id = "cap"
layer = "editorial"
actions = [{ kind = "cap", assets = ["ad-1"], max = 0 }]

[[rules]]
id = "pin"
layer = "editorial"
actions = [{ kind = "ad_break", slot = "pre", pod = ["ad-1", "ad-us"], pin = true }]
"""
    )
    decision = decide(media(), ctx(country="FR"), rules)
    assert [e["source"] for e in edits(decision)] == ["ad-1"]
    assert decision.trace[1].notes == ("asset ad-us not licensed in FR",)


def test_rights_windows_follow_ctx_now() -> None:
    catalogue = """
[[assets]]
id = "launch"
kind = "ad"
hls = "/launch.m3u8"
valid_from = 2026-03-14T12:00:00Z
valid_until = 2026-03-15T00:00:00Z
denied_territories = ["DE"]
"""
    rules = compile_toml(
        '[[rules]]\nid = "r"\nactions = [{ kind = "ad_break", slot = "pre", pod = ["launch"] }]\n',
        catalogue=catalogue,
    )
    from datetime import timedelta

    from tests.unit.core.rules.support import NOW

    assert decide(media(), ctx(), rules).fired == ("r",)
    early = decide(media(), ctx(now=NOW - timedelta(seconds=1)), rules)
    assert reason(early, "r") == "asset launch not valid before 2026-03-14T12:00:00+00:00"
    assert reason(decide(media(), ctx(country="DE"), rules), "r") == (
        "asset launch not licensed in DE"
    )
