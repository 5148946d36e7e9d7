"""Every action: the edits and needs it plans, and why it does nothing when it does not."""

from typing import Any

import pytest

from edge_assembler.core.rules import BreakFact, ManifestFacts, decide
from tests.unit.core.rules.support import (
    compile_toml,
    ctx,
    edits,
    media,
    mpd,
    multivariant,
    reason,
)

R1 = "/ads/1/720p/index.m3u8"
BREAKS = (BreakFact(id="b1", start=300, duration=30), BreakFact(id="b2", start=600, duration=20))

# (actions, facts, context changes, expected edits (subsets), expected needs)
CASES: list[tuple[str, ManifestFacts, dict[str, Any], list[dict[str, Any]], dict[str, str]]] = [
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-1", "ad-3"] }',
        media(),
        {},
        [  # applied last to first: ad-1 ends up first
            {"kind": "insert_run", "position": "pre", "source": "ad-3"},
            {
                "kind": "insert_run",
                "position": "pre",
                "source": "ad-1",
                "source_url": R1,
                "role": "ad",
                "marker_id": "r-pre-1",
                "creative_id": "ad-1",
            },
        ],
        {"ad-1": R1, "ad-3": "/ads/3/720p/index.m3u8"},
    ),
    (
        '{ kind = "ad_break", slot = "post", pod = ["ad-1"] }',
        mpd(),
        {},
        [{"kind": "insert_run", "position": "post", "source_url": "https://ads.example/1.mpd"}],
        {"ad-1": "https://ads.example/1.mpd"},
    ),
    (
        '{ kind = "ad_break", slot = "mid", at = 600, pod = ["ad-1"], max_duration = 20 }',
        media(),
        {},
        [{"kind": "insert_run", "position": "mid", "at": 600.0, "source": "ad-1"}],
        {"ad-1": R1},
    ),
    (
        '{ kind = "ad_break", slot = "cues", pod = ["ad-1", "ad-2", "ad-3"], slate = "slate" }',
        media(live=True, duration=None, breaks=BREAKS),
        {},
        [
            {
                "kind": "replace_break",
                "break_id": "b1",
                "pod": ["ad-1", "ad-2"],
                "slate": "slate",
                "creative_ids": ["ad-1", "ad-2"],
            },
            {"kind": "replace_break", "break_id": "b2", "pod": ["ad-1"]},
        ],
        {"ad-1": R1, "ad-2": "/ads/2/720p/index.m3u8", "slate": "/slate/720p/index.m3u8"},
    ),
    (
        '{ kind = "ad_break", slot = "cues", cue_mode = "insert", pod = ["ad-3"] }',
        media(breaks=BREAKS[:1]),
        {},
        [{"kind": "insert_run", "position": "mid", "cue": "b1", "source": "ad-3"}],
        {"ad-3": "/ads/3/720p/index.m3u8"},
    ),
    (
        '{ kind = "ad_break", slot = "pre", mode = "interstitial", pod = ["ad-1"] }',
        media(),
        {},
        [
            {
                "kind": "add_interstitial",
                "id": "r-pre-1",
                "cue": "PRE",
                "duration": 15.0,
                "asset_uri": "/ads/1/master.m3u8",
            }
        ],
        {},
    ),
    (
        '{ kind = "insert", role = "recap", asset = "recap-{history.last_episode}" }',
        media(),
        {"history": (("last_episode", "e1"),)},
        [{"kind": "insert_run", "position": "pre", "role": "recap", "source": "recap-e1"}],
        {"recap-e1": "/recaps/e1/720p/index.m3u8"},
    ),
    (
        '{ kind = "insert", role = "bumper", asset = "bumper", position = "post" }',
        media(),
        {},
        [{"kind": "insert_run", "position": "post", "role": "bumper"}],
        {"bumper": "/bumper/720p/index.m3u8"},
    ),
    (
        """{ kind = "compose", parts = [
             { take = "modules", asset = "{history.last_episode}", module_kind = "recap" },
             { take = "content", start = 0 } ] }""",
        media(),
        {"history": (("last_episode", "e1"),)},
        [
            {
                "kind": "compose",
                "ranges": [
                    {
                        "source": "e1",
                        "source_url": "/shows/e1/720p/index.m3u8",
                        "start": 1100.0,
                        "end": 1160.0,
                        "role": "recap",
                    },
                    {
                        "source": "self",
                        "source_url": "",
                        "start": 0.0,
                        "end": 1200.0,
                        "role": "content",
                    },
                ],
            }
        ],
        {"e1": "/shows/e1/720p/index.m3u8"},
    ),
    (
        '{ kind = "compose", parts = [{ take = "highlights", max_duration = 100 }] }',
        media(),
        {"interests": ("action",)},
        [
            {
                "kind": "compose",
                "ranges": [
                    {
                        "source": "e1",
                        "start": 300.0,
                        "end": 360.0,
                        "role": "content",
                        "source_url": "/shows/e1/720p/index.m3u8",
                    },
                ],
            }
        ],  # e2's chase (60 s) does not fit in the 40 s left
        {"e1": "/shows/e1/720p/index.m3u8"},
    ),
    (
        '{ kind = "compose", parts = [{ take = "content", end = 100 }, '
        '{ take = "choice", param = "branch", default = "north", options = { '
        'north = { asset = "e2", module = "north" }, '
        'south = { asset = "e2", module = "south" } } }, { take = "content", start = 300 }] }',
        media(),
        {"choices": (("branch", "south"),)},
        [
            {
                "kind": "compose",
                "ranges": [
                    {
                        "source": "self",
                        "source_url": "",
                        "start": 0,
                        "end": 100.0,
                        "role": "content",
                    },
                    {
                        "source": "e2",
                        "source_url": "/shows/e2/720p/index.m3u8",
                        "start": 200.0,
                        "end": 300.0,
                        "role": "content",
                    },
                    {
                        "source": "self",
                        "source_url": "",
                        "start": 300.0,
                        "end": 1200.0,
                        "role": "content",
                    },
                ],
            }
        ],
        {"e2": "/shows/e2/720p/index.m3u8"},
    ),
    (
        '{ kind = "add_track", asset = "dub-fr", default = true }',
        multivariant(),
        {},
        [
            {
                "kind": "add_rendition",
                "type": "AUDIO",
                "group_id": "aud",
                "language": "fr",
                "name": "Français",
                "uri": "/tracks/fr/index.m3u8",
                "default": True,
                "channels": "2",
            }
        ],
        {},
    ),
    (
        '{ kind = "add_track", asset = "dub-fr" }',
        mpd(),
        {},
        [{"kind": "add_rendition", "uri": "https://tracks.example/fr.mpd"}],
        {"https://tracks.example/fr.mpd": "https://tracks.example/fr.mpd"},
    ),
    (
        '{ kind = "add_track", asset = "subs-de" }',
        multivariant(),
        {},
        [{"kind": "add_rendition", "type": "SUBTITLES", "language": "de"}],
        {},
    ),
    (
        '{ kind = "prefer_languages", type = "subtitles" }',
        multivariant(),
        {"languages": ("de", "en")},
        [{"kind": "prefer_languages", "type": "SUBTITLES", "languages": ["de", "en"]}],
        {},
    ),
    (
        '{ kind = "prefer_languages", languages = ["fr"] }',
        mpd(),
        {},
        [{"kind": "prefer_languages", "type": "AUDIO", "languages": ["fr"]}],
        {},
    ),
    (
        '{ kind = "drop_languages", keep = ["en"] }',
        multivariant(audio_languages=("en", "fr", "de-AT")),
        {},
        [{"kind": "drop_renditions", "type": "AUDIO", "languages": ["fr", "de-AT"]}],
        {},
    ),
    (
        '{ kind = "drop_languages", type = "subtitles", languages = ["en"] }',
        multivariant(),
        {},
        [{"kind": "drop_renditions", "type": "SUBTITLES", "languages": ["en"]}],
        {},
    ),
    (
        '{ kind = "prefer_accessibility" }',
        multivariant(),
        {"accessibility": ("audio-description",)},
        [{"kind": "prefer_accessibility", "audio_description": True, "sdh": False}],
        {},
    ),
    (
        '{ kind = "cap_variants", max_height = 720, drop_codecs = ["hevc"] }',
        multivariant(),
        {},
        [{"kind": "filter_variants", "max_height": 720, "drop_codecs": ["hevc"]}],
        {},
    ),
    (
        '{ kind = "trim" }',
        media(),
        {"session_length_hint": 600},
        [{"kind": "trim", "duration": 600.0}],
        {},
    ),
    ('{ kind = "trim", seconds = 90 }', mpd(), {}, [{"kind": "trim", "duration": 90.0}], {}),
    ('{ kind = "cap", assets = ["ad-1"], max = 1 }', media(), {}, [], {}),
]


@pytest.mark.parametrize(("actions", "facts", "changes", "expected", "needs"), CASES)
def test_action(
    actions: str,
    facts: ManifestFacts,
    changes: dict[str, Any],
    expected: list[dict[str, Any]],
    needs: dict[str, str],
) -> None:
    layer = "editorial" if '"cap"' in actions else "targeted"
    rules = compile_toml(f'[[rules]]\nid = "r"\nlayer = "{layer}"\nactions = [{actions}]\n')
    decision = decide(facts, ctx(**changes), rules)
    assert decision.fired == ("r",), reason(decision, "r")
    got = edits(decision)
    assert len(got) == len(expected), got
    for want, edit in zip(expected, got, strict=True):
        assert {k: edit.get(k) for k in want} == want
    assert dict(decision.needs) == needs


# (actions, facts, context changes, the reason nothing happened)
SKIPS: list[tuple[str, ManifestFacts, dict[str, Any], str]] = [
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-1"] }',
        multivariant(),
        {},
        "ad_break does not apply to a multivariant manifest",
    ),
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-1"] }',
        media(live=True),
        {},
        "a pre-roll needs a VOD",
    ),
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-us"] }',
        media(),
        {"country": "FR"},
        "asset ad-us not licensed in FR",
    ),
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-us"] }',
        media(),
        {},
        "asset ad-us not licensed in an unknown country",
    ),
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-old"] }',
        media(),
        {},
        "asset ad-old expired at 2026-01-01T00:00:00+00:00",
    ),
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-3"] }',
        mpd(),
        {},
        "asset ad-3 has no dash URL",
    ),
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-1"] }',
        media(rendition=None),
        {},
        "asset ad-1 needs the content's rendition ({rendition})",
    ),
    (
        '{ kind = "ad_break", slot = "pre", pod = ["ad-3"], max_duration = 20 }',
        media(),
        {},
        "asset ad-3 does not fit in 20 s",
    ),
    (
        '{ kind = "ad_break", slot = "mid", at = 1300, pod = ["ad-1"] }',
        media(),
        {},
        "mid-roll at 1300 s is past the content's end (1200 s)",
    ),
    ('{ kind = "ad_break", slot = "cues", pod = ["ad-1"] }', media(), {}, "no signalled break"),
    (
        '{ kind = "ad_break", slot = "pre", mode = "interstitial", pod = ["ad-1"] }',
        mpd(),
        {},
        "interstitials are an HLS feature",
    ),
    (
        '{ kind = "insert", role = "recap", asset = "recap-{history.last_episode}" }',
        media(),
        {},
        "no history hint last_episode for recap-{history.last_episode}",
    ),
    (
        '{ kind = "insert", role = "recap", asset = "recap-{history.last_episode}" }',
        media(),
        {"history": (("last_episode", "e9"),)},
        "no asset recap-e9",
    ),
    (
        '{ kind = "compose", parts = [{ take = "highlights", max_duration = 60 }] }',
        media(),
        {},
        "the viewer states no interests",
    ),
    (
        '{ kind = "compose", parts = [{ take = "content" }] }',
        media(live=True),
        {},
        "a composition needs a VOD",
    ),
    (
        '{ kind = "add_track", asset = "dub-fr" }',
        multivariant(audio_languages=("fr-FR",)),
        {},
        "audio in fr already present",
    ),
    (
        '{ kind = "add_track", asset = "dub-fr" }',
        media(),
        {},
        "add_track does not apply to a media manifest",
    ),
    ('{ kind = "prefer_languages" }', multivariant(), {}, "the viewer states no language"),
    (
        '{ kind = "drop_languages", languages = ["de"] }',
        multivariant(),
        {},
        "no audio language to drop",
    ),
    ('{ kind = "prefer_accessibility" }', multivariant(), {}, "no accessibility need"),
    ('{ kind = "trim" }', media(), {}, "no session-length hint"),
    ('{ kind = "trim", seconds = 2000 }', media(), {}, "the content (1200 s) fits in 2000 s"),
]


@pytest.mark.parametrize(("actions", "facts", "changes", "why"), SKIPS)
def test_action_skipped(
    actions: str, facts: ManifestFacts, changes: dict[str, Any], why: str
) -> None:
    rules = compile_toml(f'[[rules]]\nid = "r"\nactions = [{actions}]\n')
    decision = decide(facts, ctx(**changes), rules)
    assert decision.fired == ()
    assert decision.edits == ()
    assert reason(decision, "r") == why


def test_tag_pods_rotate_per_session_and_slot() -> None:
    rules = compile_toml(
        '[[rules]]\nid = "r"\nactions = [{ kind = "ad_break", slot = "pre", tags = ["cars"] }]\n'
    )
    chosen = {
        edits(decide(media(), ctx(session_id=f"s{n}"), rules))[0]["source"] for n in range(40)
    }
    assert chosen == {"ad-1", "ad-2"}
    one = decide(media(), ctx(session_id="s7"), rules)
    assert all(decide(media(), ctx(session_id="s7"), rules) == one for _ in range(3))
    assert one.by_session  # the rotation read the session id


def test_a_choice_by_cohort_is_the_sessions_and_a_stated_one_is_not() -> None:
    branch = (
        '[[rules]]\nid = "r"\nactions = [{ kind = "compose", parts = [{ take = "choice", '
        'param = "branch", salt = "b1", options = { north = { asset = "e2", module = "north" }, '
        'south = { asset = "e2", module = "south" } } }] }]\n'
    )
    rules = compile_toml(branch)
    assert decide(media(), ctx(), rules).by_session
    stated = decide(media(), ctx(choices=(("branch", "north"),)), rules)
    assert stated.fired == ("r",)
    assert not stated.by_session


def test_a_rule_with_one_of_two_actions_applying_fires_with_a_note() -> None:
    rules = compile_toml(
        '[[rules]]\nid = "r"\nactions = [{ kind = "trim", seconds = 60 },'
        ' { kind = "cap_variants", max_height = 720 }]\n'
    )
    decision = decide(media(), ctx(), rules)
    entry = decision.trace[0]
    assert (entry.outcome, entry.notes) == (
        "fired",
        ("cap_variants does not apply to a media manifest",),
    )
    assert decision.to_builtins()["fired"] == ["r"]
