"""The break history as the edge builds it: each break recorded from the first window that
shows it (``sighting``), open or closed, from its start or from inside it, is the break
the origin cued, for segments of one nominal duration with an encoder's jitter (up to
15 ms a segment, as AAC segments of 1.984 and 2.005 s); the windows numbered from that
history form one stream."""

from dataclasses import dataclass

from hypothesis import event, given, strategies as st

from edge_assembler.core.edits.live_replace import StreamBreak, replace_live_breaks
from edge_assembler.core.hls.invariants import check
from edge_assembler.core.hls.model import MediaPlaylist
from edge_assembler.core.hls.sighting import Sighting, sightings, unrecorded
from tests.property.test_live_replacement import (
    Stream,
    break_runs,
    origin_window,
    pods,
    reloads,
)


@dataclass(frozen=True)
class Case:
    stream: Stream
    nominal: float


@st.composite
def cases(draw: st.DrawFn) -> Case:
    nominal = draw(st.sampled_from([2.0, 4.0, 6.0]))
    length = draw(st.integers(12, 40))
    jitter = st.integers(-15, 15).map(lambda ms: ms / 1000)
    durations = tuple(round(nominal + draw(jitter), 3) for _ in range(length))
    breaks = draw(break_runs(length, longest=5, name=lambda _, start: f"msn-{start}"))
    stream = Stream(durations, breaks, {}, ())
    fills = {b.id: draw(pods(b.id, stream.planned(b), longest=nominal)) for b in breaks}
    return Case(Stream(durations, breaks, fills, draw(reloads(length, late=1))), nominal)


def encoder_window(stream: Stream, first: int, last: int) -> MediaPlaylist:
    """An encoder's window: CUE-OUT/-CONT/-IN without ids (SPEC_RULES 43), so a break is
    named by its start MSN, from its start or from inside it."""
    target = round(max(stream.durations))  # RFC 8216 §4.3.3.1: EXTINF rounded
    head = f"#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-TARGETDURATION:{target}"
    return origin_window(stream, first, last, named=False, head=head)


@given(cases())
def test_the_first_sighting_of_a_break_is_the_break_the_origin_cued(case: Case) -> None:
    stream = case.stream
    truth = {b.id: b for b in stream.breaks}
    recorded: dict[str, Sighting] = {}
    previous: MediaPlaylist | None = None
    seen: dict[int, tuple[str, int]] = {}
    for first, last in stream.windows:
        origin = encoder_window(stream, first, last)
        known = ((s.id, s.start_msn, s.replaced) for s in recorded.values())
        for sighting in unrecorded(sightings(origin), known):
            brk = truth[sighting.id]
            event("open" if brk.start_msn + brk.replaced > last else "closed")
            if brk.start_msn < first:
                event("first seen inside the break")
            recorded[sighting.id] = sighting
            assert (sighting.start_msn, sighting.replaced) == (brk.start_msn, brk.replaced)
            assert sighting.duration is not None
            assert abs(sighting.duration - stream.planned(brk)) < 1e-6
            assert sighting.cue.startswith("#EXT-X-CUE-OUT")
        history = [
            StreamBreak(s.id, s.start_msn, s.replaced)
            for s in sorted(recorded.values(), key=lambda s: s.start_msn)
        ]
        out = replace_live_breaks(origin, history, stream.fills)
        assert check(out) == []
        if previous is not None:
            assert out.media_sequence >= previous.media_sequence
        for i, (segment, dsn) in enumerate(zip(out.segments, out.dsn(), strict=True)):
            assert seen.setdefault(out.msn(i), (segment.uri, dsn)) == (segment.uri, dsn)
        previous = out
