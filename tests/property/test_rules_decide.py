"""Properties of decide: the same decision in every process (any hash seed), cohort
splits within 1 % over 100k sessions, no exception on any context, and the same decision
from a rule set that decided before as from a fresh one."""

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from hashlib import blake2b
from pathlib import Path

import msgspec
from hypothesis import given, strategies as st

from edge_assembler.core.context import ViewerContext
from edge_assembler.core.rules import BreakFact, ManifestFacts, compile_documents, decide
from edge_assembler.core.rules.matchers import BUCKETS, bucket

ROOT = Path(__file__).resolve().parents[2]
DEMO = ROOT / "rules" / "demo" / "rules"
EXAMPLES = ROOT / "rules" / "examples"

# Every demo and example document, compiled into one rule set.
SCRIPT = """
import json, sys
from datetime import datetime, UTC
from pathlib import Path
from edge_assembler.core.context import ViewerContext
from edge_assembler.core.rules import ManifestFacts, compile_documents, decide
docs = [(f"rules/{p.parent.name}-{p.name}", p.read_bytes()) for p in map(Path, sys.argv[1:])]
rules = compile_documents(docs)
out = []
for n in range(60):
    facts = ManifestFacts(format="hls", kind="media", path=f"/vod/content/{n % 3}.m3u8",
                          duration=1500.0, rendition="720p/index.m3u8")
    ctx = ViewerContext(path=facts.path, now=datetime(2026, 9, 2, n % 24, tzinfo=UTC),
                        session_id=f"session-{n}", country=["FR", "US", "BE"][n % 3],
                        languages=(["fr", "es", "en"][n % 3],),
                        history=(("last_episode", "s01e01"),) if n % 2 else ())
    d = decide(facts, ctx, rules)
    out.append([d.fingerprint, list(d.fired), d.to_builtins()["trace"], dict(d.needs)])
print(json.dumps(out))
"""


def _documents() -> list[Path]:
    # The examples and the demo share no ids except by accident; keep the demo catalogue.
    return [*sorted(DEMO.glob("*.toml")), *sorted(EXAMPLES.glob("*.toml"))]


def test_same_decisions_in_processes_with_different_hash_seeds() -> None:
    outputs = []
    for seed in ("0", "1", "4242"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT, *map(str, _documents())],
            capture_output=True,
            check=True,
            env=env,
            cwd=ROOT,
            timeout=60,
        )
        outputs.append(json.loads(done.stdout))
    assert outputs[0] == outputs[1] == outputs[2]
    assert len({row[0] for row in outputs[0]}) > 1  # the plans do differ between viewers


def test_cohort_split_is_within_one_percent_over_100k_sessions() -> None:
    key = b"exp-2026"
    counts = [0] * 10
    for n in range(100_000):
        counts[bucket(f"{n:08x}-session", key) * 10 // BUCKETS] += 1
    for count in counts:
        assert abs(count / 100_000 - 0.10) <= 0.01


def test_cohort_rules_split_sessions_as_configured() -> None:
    rules = compile_documents(
        [
            (
                "rules/ab.toml",
                b'[[rules]]\nid = "a"\nmatch = { cohort = { salt = "ab", percent = 25 } }\n'
                b'actions = [{ kind = "trim", seconds = 1 }]\n',
            )
        ]
    )
    facts = ManifestFacts(format="hls", kind="media", path="/x", duration=10.0)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    fired = sum(
        bool(decide(facts, ViewerContext(path="/x", now=now, session_id=str(n)), rules).fired)
        for n in range(20_000)
    )
    assert abs(fired / 20_000 - 0.25) <= 0.01


DOCUMENTS = [(f"rules/{p.name}", p.read_bytes()) for p in _documents()]
RULES = compile_documents(DOCUMENTS)  # shared by the examples: warm, as in production
_text = st.text(alphabet="abcdefghij-_0123456789/", max_size=12)
_pairs = st.lists(st.tuples(st.sampled_from(["last_episode", "branch"]), _text), max_size=3)


@st.composite
def contexts(draw: st.DrawFn) -> ViewerContext:
    return ViewerContext(
        path=draw(_text),
        now=datetime(2026, 1, 1, tzinfo=UTC)
        + timedelta(seconds=draw(st.integers(0, 400 * 86_400))),
        stream_id=draw(st.sampled_from(["", "s01e01-interactive", "content"])),
        session_id=draw(st.text(max_size=20)),
        country=draw(st.none() | st.sampled_from(["FR", "US", "BE", "DE"])),
        device=draw(st.sampled_from(["phone", "tablet", "desktop", "tv", "unknown"])),
        languages=tuple(draw(st.lists(st.sampled_from(["fr", "es", "en-GB", "deu"]), max_size=3))),
        accessibility=tuple(draw(st.lists(st.sampled_from(["audio-description", "sdh"])))),
        consent=tuple(draw(st.lists(_text, max_size=2))),
        session_length_hint=draw(st.none() | st.floats(0, 10_000)),
        history=tuple(draw(_pairs)),
        choices=tuple(draw(_pairs)),
        interests=tuple(draw(st.lists(st.sampled_from(["action", "romance"]), max_size=2))),
        exposures=tuple(draw(st.lists(st.tuples(_text, st.integers(0, 5)), max_size=3))),
    )


@st.composite
def facts(draw: st.DrawFn) -> ManifestFacts:
    live = draw(st.booleans())
    return ManifestFacts(
        format=draw(st.sampled_from(["hls", "dash"])),
        kind=draw(st.sampled_from(["multivariant", "media", "mpd"])),
        path=draw(st.sampled_from(["/vod/content/master.m3u8", "/live/sport/a.m3u8", "/reels/x"])),
        live=live,
        duration=None if live else draw(st.none() | st.floats(0, 5000)),
        breaks=tuple(
            BreakFact(id=f"b{i}", start=float(i * 60), duration=draw(st.none() | st.floats(0, 90)))
            for i in range(draw(st.integers(0, 3)))
        ),
        audio_languages=tuple(draw(st.lists(st.sampled_from(["en", "fr", "es"]), max_size=3))),
        rendition=draw(st.none() | st.just("720p/index.m3u8")),
    )


@given(facts(), contexts())
def test_decide_never_raises_and_explains_every_rule(f: ManifestFacts, c: ViewerContext) -> None:
    decision = decide(f, c, RULES)
    assert decision == decide(f, c, RULES)
    trace = decision.trace
    assert [e.rule for e in trace] == [r.id for r in RULES.rules]
    assert tuple(e.rule for e in trace if e.outcome == "fired") == tuple(
        sorted(decision.fired, key=[r.id for r in RULES.rules].index)
    )
    assert all(e.reason for e in trace if e.outcome == "skipped")


_shown = st.lists(
    st.tuples(st.sampled_from(["ad", "house", "promo", "sport", "launch"]), st.integers(0, 4)),
    max_size=3,
)


@given(facts(), contexts(), _shown)
def test_what_a_rule_set_keeps_between_requests_never_changes_a_decision(
    f: ManifestFacts, c: ViewerContext, shown: list[tuple[str, int]]
) -> None:
    viewer = msgspec.structs.replace(c, exposures=tuple(shown))
    warm = decide(f, viewer, RULES)
    fresh = decide(f, viewer, compile_documents(DOCUMENTS))
    assert warm == fresh
    assert warm.needs == fresh.needs
    data = msgspec.json.encode(warm.edits)
    assert warm.fingerprint == fresh.fingerprint == blake2b(data, digest_size=16).hexdigest()
