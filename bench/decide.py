"""Decide benchmark: ``decide`` over 100 generated rules for a typical viewer (DESIGN §6:
≤ 20 µs). The rules mix every matcher kind (countries, devices, languages, paths, time
windows, cohorts, history, consent) and the common actions, as a catalogue of campaigns
would; the request is a VOD media playlist for a French viewer on a phone: 7 candidate
rules, 5 fire (a frequency cap, a pre-roll and three mid-rolls of 2 ads each), 8 edits.

Rows, microseconds per ``decide`` call (median of the rounds):

- "warm rules, typical viewer" (the row held to the target): the rules compiled once, as
  per bundle activation, and decided before (so the pods and plan fingerprints the rule
  set keeps are there, as they are for any viewer after the first few requests); the
  same context every call, as above.
- "warm rules, a new session per call": the same, but each call a viewer of another of
  1024 sessions (rotations, cohorts and so the plans vary), each decided once before.
- "first decide after compile": one call on freshly compiled rules (nothing kept yet);
  the median over as many compilations as rounds.
"""

import itertools
import statistics
import timeit
from datetime import UTC, datetime

import msgspec

from bench.core import Timing
from edge_assembler.core.context import ViewerContext
from edge_assembler.core.rules import CompiledRules, ManifestFacts, compile_documents, decide

RULES = 100
TARGET_US = 20.0
_COUNTRIES = ("FR", "DE", "US", "GB", "ES", "IT", "JP", "BR", "CA", "NL")
_DEVICES = ("phone", "tablet", "desktop", "tv")


def _rule(i: int) -> str:
    """One generated campaign rule: a country and a device (1 in 20 requests), one more
    matcher chosen by ``i``, and an action; rules 0-3 are the catalogue-wide ones (a
    frequency cap, a default pre-roll, the phone cap, French first)."""
    layer = ("targeted", "targeted", "default", "editorial")[i % 4]
    extra = [
        f'path = ["/vod/show{i % 5}/**"]',
        'time = { start = "06:00", end = "23:00", tz = "Europe/Paris" }',
        f'cohort = {{ salt = "exp-{i}", percent = 50 }}',
        'history = { last_episode = ["*"] }',
        'consent = ["ads-personalised"]',
    ][(i // 7) % 5]
    match = f'country = ["{_COUNTRIES[i % 5]}"], device = ["{_DEVICES[(i // 5) % 4]}"], {extra}'
    action = [
        f'{{ kind = "ad_break", slot = "mid", at = {60 + i}, tags = ["t{i % 3}"], count = 2 }}',
        '{ kind = "cap_variants", max_height = 720 }',
        '{ kind = "prefer_languages", type = "audio" }',
        '{ kind = "trim" }',
    ][i % 4]
    fixed = {
        0: ('layer = "editorial"\n', '{ kind = "cap", tags = ["t0", "t1", "t2"], max = 4 }'),
        1: ('layer = "default"\n', '{ kind = "ad_break", slot = "pre", tags = ["t1"], count = 2 }'),
        2: ('match = { device = ["phone"] }\n', '{ kind = "cap_variants", max_height = 720 }'),
        3: ('match = { language = ["fr"] }\n', '{ kind = "prefer_languages", type = "audio" }'),
    }
    if i in fixed:
        head, action = fixed[i]
        return f'[[rules]]\nid = "r{i:03d}"\n{head}actions = [{action}]\n'
    return f'[[rules]]\nid = "r{i:03d}"\nlayer = "{layer}"\npriority = {i % 3}\n' + (
        f"match = {{ {match} }}\nactions = [{action}]\n"
    )


def _assets() -> str:
    return "".join(
        f'[[assets]]\nid = "ad{i}"\nkind = "ad"\nhls = "/ads/ad{i}/{{rendition}}"\n'
        f'duration = 15\ntags = ["t{i % 3}"]\n'
        for i in range(12)
    )


def build() -> CompiledRules:
    text = _assets() + "".join(_rule(i) for i in range(RULES))
    return compile_documents([("rules/bench.toml", text.encode())])


FACTS = ManifestFacts(
    format="hls",
    kind="media",
    path="/vod/show2/720p/index.m3u8",
    duration=1800.0,
    rendition="720p/index.m3u8",
)
CONTEXT = ViewerContext(
    path="/vod/show2/720p/index.m3u8",
    now=datetime(2026, 3, 14, 18, 30, tzinfo=UTC),
    stream_id="show2",
    session_id="5f0c1d9e-2b7a-4c39-9d51-0e6f3a8b7c21",
    country="FR",
    device="phone",
    languages=("fr-FR", "en"),
    consent=("ads-personalised",),
    session_length_hint=2400.0,
    history=(("last_episode", "s01e02"),),
)


SESSIONS = tuple(
    msgspec.structs.replace(CONTEXT, session_id=f"{n:08x}-7c21-4c39-9d51-0e6f3a8b")
    for n in range(1024)
)


def first_call_us(rounds: int) -> float:
    """The median over ``rounds`` compilations of one ``decide`` on the fresh rules."""
    times = []
    for _ in range(rounds):
        rules = build()
        start = timeit.default_timer()
        decide(FACTS, CONTEXT, rules)
        times.append((timeit.default_timer() - start) * 1e6)
    return statistics.median(times)


def rows(timing: Timing) -> list[dict[str, object]]:
    """The rows (``bench.micro``); the first is held to the target."""
    rules = build()
    decision = decide(FACTS, CONTEXT, rules)
    for ctx in SESSIONS:
        decide(FACTS, ctx, rules)
    sessions = itertools.cycle(SESSIONS)
    steps: list[tuple[str, float, float | None]] = [
        (
            "warm rules, typical viewer",
            timing.per_call_us(lambda: decide(FACTS, CONTEXT, rules)),
            TARGET_US,
        ),
        (
            "warm rules, a new session per call",
            timing.per_call_us(lambda: decide(FACTS, next(sessions), rules)),
            None,
        ),
        ("first decide after compile", first_call_us(timing.rounds), None),
    ]
    scenario = f"{RULES} rules, {len(decision.fired)} fired, {len(decision.edits)} edits"
    return [
        {
            "suite": "decide",
            "scenario": scenario,
            "step": step,
            "us": us,
            "baseline_us": None,
            "target_us": target,
        }
        for step, us, target in steps
    ]


def main() -> int:
    """Time and print this suite alone (``python -m bench`` runs every suite)."""
    from bench.micro import print_rows  # here: bench.micro imports this module

    return print_rows(rows(Timing()))
