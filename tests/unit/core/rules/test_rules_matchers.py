"""Every matcher, both ways, with the trace reason of a miss."""

from datetime import UTC, datetime
from typing import Any

import pytest

from edge_assembler.core.rules import decide
from edge_assembler.core.rules.matchers import BUCKETS, bucket, glob_regex
from tests.unit.core.rules.support import compile_toml, ctx, media, multivariant, reason

ACTION = 'actions = [{ kind = "trim", seconds = 60 }]'

# (match, context changes, facts changes, fires, reason of a miss)
CASES: list[tuple[str, dict[str, Any], dict[str, Any], bool, str]] = [
    ("{}", {}, {}, True, ""),
    ('{ path = ["/shows/**"] }', {}, {}, True, ""),
    ('{ path = ["/shows/*/master.m3u8"] }', {}, {}, False, "match.path: /shows/e3/720p/"),
    ('{ path = ["/shows/e[0-9]/*/index.m3u8"] }', {}, {}, True, ""),
    ('{ path = ["/shows/e[!3]/**"] }', {}, {}, False, "match.path"),
    ('{ stream = ["e3"] }', {"stream_id": "e3"}, {}, True, ""),
    ('{ stream = ["e3"] }', {"stream_id": "e4"}, {}, False, "match.stream: e4 not in [e3]"),
    ('{ format = ["hls"] }', {}, {}, True, ""),
    ('{ format = ["dash"] }', {}, {}, False, "match.format: hls not in [dash]"),
    ("{ live = false }", {}, {}, True, ""),
    ("{ live = true }", {}, {}, False, "match.live: false not in [True]"),
    ('{ country = ["FR", "BE"] }', {"country": "BE"}, {}, True, ""),
    ('{ country = ["FR"] }', {"country": "US"}, {}, False, "match.country: US not in [FR]"),
    ('{ country = ["FR"] }', {}, {}, False, "match.country: unknown not in [FR]"),
    ('{ not_country = ["US"] }', {"country": "FR"}, {}, True, ""),
    ('{ not_country = ["US"] }', {}, {}, True, ""),
    ('{ not_country = ["US"] }', {"country": "US"}, {}, False, "match.not_country: US in [US]"),
    ('{ device = ["phone", "tablet"] }', {"device": "tablet"}, {}, True, ""),
    ('{ device = ["tv"] }', {"device": "phone"}, {}, False, "match.device: phone not in [tv]"),
    ('{ language = ["fr"] }', {"languages": ("fr-CA", "en")}, {}, True, ""),
    ('{ language = ["fr"] }', {"languages": ("fre",)}, {}, True, ""),  # ISO 639-2
    ('{ language = ["fr"] }', {"languages": ("en", "fr")}, {}, False, "match.language: en"),
    ('{ language = ["fr"] }', {}, {}, False, "match.language: unknown not in [fr]"),
    ('{ accessibility = ["sdh"] }', {"accessibility": ("sdh",)}, {}, True, ""),
    ('{ accessibility = ["sdh"] }', {}, {}, False, "match.accessibility: [] has none of"),
    # NOW is 12:00 UTC, 13:00 in Paris, on a Saturday.
    ('{ time = { start = "12:30", end = "14:00", tz = "Europe/Paris" } }', {}, {}, True, ""),
    (
        '{ time = { start = "14:00", end = "20:00", tz = "Europe/Paris" } }',
        {},
        {},
        False,
        "match.time: 13:00 sat in Europe/Paris outside 14:00-20:00",
    ),
    ('{ time = { start = "22:00", end = "13:30", tz = "Europe/Paris" } }', {}, {}, True, ""),
    ('{ time = { start = "06:00", end = "24:00", days = ["sat"] } }', {}, {}, True, ""),
    ('{ time = { start = "06:00", end = "24:00", days = ["mon"] } }', {}, {}, False, "on mon"),
    ('{ cohort = { salt = "x", percent = 100 } }', {}, {}, True, ""),
    ("{ session_length = { max = 900 } }", {"session_length_hint": 600}, {}, True, ""),
    (
        "{ session_length = { min = 900 } }",
        {"session_length_hint": 600},
        {},
        False,
        "match.session_length: 600 s outside [900, ∞] s",
    ),
    ("{ session_length = { max = 900 } }", {}, {}, False, "no session-length hint"),
    (
        '{ history = { last_episode = ["*"] } }',
        {"history": (("last_episode", "e1"),)},
        {},
        True,
        "",
    ),
    (
        '{ history = { last_episode = ["e2"] } }',
        {"history": (("last_episode", "e1"),)},
        {},
        False,
        "match.history.last_episode: e1 not in [e2]",
    ),
    ('{ history = { last_episode = ["*"] } }', {}, {}, False, "none not in any value"),
    ('{ choice = { branch = ["north"] } }', {"choices": (("branch", "north"),)}, {}, True, ""),
    ('{ consent = ["ads"] }', {"consent": ("ads", "stats")}, {}, True, ""),
    ('{ consent = ["ads", "x"] }', {"consent": ("ads",)}, {}, False, "match.consent: x not"),
    ('{ interests = ["cars"] }', {"interests": ("food", "cars")}, {}, True, ""),
    ('{ interests = ["cars"] }', {"interests": ("food",)}, {}, False, "match.interests"),
    (
        '{ country = ["FR"], device = ["phone"] }',
        {"country": "FR", "device": "tv"},
        {},
        False,
        "match.device: tv",
    ),
]


@pytest.mark.parametrize(("match", "changes", "facts", "fires", "why"), CASES)
def test_matcher(
    match: str, changes: dict[str, Any], facts: dict[str, Any], fires: bool, why: str
) -> None:
    rules = compile_toml(f'[[rules]]\nid = "r"\nmatch = {match}\n{ACTION}\n')
    decision = decide(media(**facts), ctx(**changes), rules)
    assert decision.fired == (("r",) if fires else ())
    if not fires:
        assert why in reason(decision, "r")
    # Only a cohort makes the session id part of the decision (caching headers).
    assert decision.by_session == match.startswith("{ cohort")


def test_cohort_splits_sessions_by_keyed_hash() -> None:
    rules = compile_toml(
        '[[rules]]\nid = "a"\nmatch = { cohort = { salt = "exp", percent = 30 } }\n'
        + ACTION
        + '\n[[rules]]\nid = "b"\n'
        + 'match = { cohort = { salt = "exp", percent = 70, offset = 30 } }\n'
        + 'actions = [{ kind = "trim", seconds = 30 }]\n'
    )
    for n in range(200):
        session = f"session-{n}"
        fired = decide(media(), ctx(session_id=session), rules).fired
        value = bucket(session, b"exp")
        assert fired == (("a",) if value < 3000 else ("b",))
    assert 0 <= bucket("x", b"k") < BUCKETS


def test_a_miss_on_a_cohort_names_the_bucket() -> None:
    rules = compile_toml(
        '[[rules]]\nid = "r"\nmatch = { cohort = { salt = "exp", percent = 0.01 } }\n' + ACTION
    )
    session = next(f"s{n}" for n in range(100) if bucket(f"s{n}", b"exp") != 0)
    decision = decide(media(), ctx(session_id=session), rules)
    assert "match.cohort: bucket" in reason(decision, "r")
    assert "outside [0, 0.01) % (salt exp)" in reason(decision, "r")


def test_time_window_across_midnight_counts_the_previous_day() -> None:
    rules = compile_toml(
        '[[rules]]\nid = "r"\n'
        + 'match = { time = { start = "22:00", end = "02:00", days = ["fri"] } }\n'
        + ACTION
    )
    saturday_1am = datetime(2026, 3, 14, 1, 0, tzinfo=UTC)
    saturday_11pm = datetime(2026, 3, 14, 23, 0, tzinfo=UTC)
    assert decide(media(), ctx(now=saturday_1am), rules).fired == ("r",)
    assert decide(media(), ctx(now=saturday_11pm), rules).fired == ()


def test_glob_segments() -> None:
    assert glob_regex("/a/*/c").match("/a/b/c")
    assert not glob_regex("/a/*/c").match("/a/b/x/c")
    assert glob_regex("/a/**/c").match("/a/b/x/c")
    assert glob_regex("/a/?.m3u8").match("/a/b.m3u8")
    with pytest.raises(ValueError, match="unclosed"):
        glob_regex("/a/[b")


def test_the_path_index_remembers_paths() -> None:
    rules = compile_toml('[[rules]]\nid = "r"\nmatch = { path = ["/shows/**"] }\n' + ACTION)
    for _ in range(2):
        assert decide(media(), ctx(), rules).fired == ("r",)
    assert decide(multivariant(path="/other"), ctx(), rules).fired == ()
