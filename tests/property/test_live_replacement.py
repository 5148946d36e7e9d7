"""Live break replacement across reloads: a random origin stream with random breaks, each
filled with a random pod (and now and then a slate), read through a window sliding over it
as a player reloads, late or not, from a random point (often inside a break). Every output
is valid, and the outputs form one stream (SPEC_RULES 9-13): MEDIA-SEQUENCE never goes
back, an MSN always names the same segment, and a segment's DSN never changes."""

from collections.abc import Callable
from dataclasses import dataclass

from hypothesis import event, given, strategies as st

from edge_assembler.core.edits.live_replace import StreamBreak, replace_live_breaks
from edge_assembler.core.edits.replace_break import Fill, ReplaceBreak, plan_fill
from edge_assembler.core.hls import MediaPlaylist, parse, render
from edge_assembler.core.hls.invariants import check
from tests.hls_support import assert_m3u8_agrees

TARGET = 6
SECONDS = st.integers(1000, TARGET * 1000).map(lambda ms: ms / 1000)


@dataclass(frozen=True)
class Stream:
    durations: tuple[float, ...]
    breaks: tuple[StreamBreak, ...]
    fills: dict[str, Fill]
    windows: tuple[tuple[int, int], ...]  # (first, last) origin MSNs of each reload

    def __repr__(self) -> str:
        fills = {
            name: [(p.source.key, p.position, p.duration) for p in fill.plan]
            for name, fill in self.fills.items()
        }
        return f"Stream({self.durations}, {self.breaks}, {fills}, {self.windows})"

    def known(self, last: int) -> tuple[StreamBreak, ...]:
        """The history when ``last`` is the newest segment: every break cued so far."""
        return tuple(b for b in self.breaks if b.start_msn <= last)

    def planned(self, brk: StreamBreak) -> float:
        """The signalled duration: the run's EXTINF sum (SPEC_RULES 44)."""
        run = self.durations[brk.start_msn : brk.start_msn + brk.replaced]
        return round(sum(run), 3)


def playlist(text: str) -> MediaPlaylist:
    parsed = parse(text.encode())
    assert isinstance(parsed, MediaPlaylist)
    return parsed


@st.composite
def pods(draw: st.DrawFn, name: str, planned: float, longest: float = TARGET) -> Fill:
    """A pod of 0-3 creatives of 1-4 segments of at most ``longest`` seconds, and now and
    then a slate."""
    seconds = st.integers(1000, round(longest * 1000)).map(lambda ms: ms / 1000)
    fetched: dict[str, MediaPlaylist] = {}
    keys = []
    for n in range(draw(st.integers(1, 3))):
        key = f"{name}-ad{n}"
        durations = draw(st.lists(seconds, min_size=1, max_size=4))
        body = "".join(f"#EXTINF:{d:.3f},\n{key}-{i}.ts\n" for i, d in enumerate(durations))
        fetched[key] = playlist(f"#EXTM3U\n#EXT-X-TARGETDURATION:{TARGET}\n{body}#EXT-X-ENDLIST\n")
        keys.append(key)
    slate = None
    if draw(st.booleans()):
        slate = f"{name}-slate"
        fetched[slate] = playlist(
            f"#EXTM3U\n#EXT-X-TARGETDURATION:{TARGET}\n"
            f"#EXTINF:{draw(seconds):.3f},\nslate.ts\n#EXT-X-ENDLIST\n"
        )
    edit = ReplaceBreak(
        break_id=name,
        pod=tuple(keys),
        pod_urls=tuple(f"https://ads.example/{k}/index.m3u8" for k in keys),
        slate=slate,
        slate_url=None if slate is None else f"https://ads.example/{slate}/index.m3u8",
    )
    return plan_fill(edit, fetched, planned)


@st.composite
def break_runs(
    draw: st.DrawFn, length: int, *, longest: int, name: Callable[[int, int], str]
) -> tuple[StreamBreak, ...]:
    """Breaks of 1..``longest`` segments in a stream of ``length``, each after a gap of
    0..``longest`` segments, with a kept segment before the first and between two;
    ``name(n, start)`` names the n-th."""
    breaks: list[StreamBreak] = []
    position = 1
    while True:
        start = position + draw(st.integers(0, longest))
        replaced = draw(st.integers(1, longest))
        if start + replaced >= length:
            return tuple(breaks)
        breaks.append(StreamBreak(name(len(breaks), start), start, replaced))
        position = start + replaced + 1


@st.composite
def reloads(draw: st.DrawFn, length: int, *, late: int) -> tuple[tuple[int, int], ...]:
    """(first, last) origin MSNs of a player's reloads: a window of 3-8 segments from any
    point, each reload up to ``late`` segments late."""
    size = draw(st.integers(3, 8))
    last = draw(st.integers(size - 1, length - 1))  # a player joins at any point
    windows = []
    while last < length:
        windows.append((last - size + 1, last))
        last += 1 + draw(st.integers(0, late))  # a late reload skips segments
    return tuple(windows)


@st.composite
def streams(draw: st.DrawFn) -> Stream:
    length = draw(st.integers(12, 48))
    durations = tuple(draw(st.lists(SECONDS, min_size=length, max_size=length)))
    breaks = draw(break_runs(length, longest=6, name=lambda n, _: f"b{n}"))
    stream = Stream(durations, breaks, {}, ())
    for brk in breaks:
        fill = stream.fills[brk.id] = draw(pods(brk.id, stream.planned(brk)))
        shape = (fill.inserted > brk.replaced) - (fill.inserted < brk.replaced)
        event(
            "pods: " + ("empty" if not fill.inserted else ["shorter", "same", "longer"][shape + 1])
        )
    windows = draw(reloads(length, late=2))
    return Stream(durations, breaks, stream.fills, windows)


def origin_window(
    stream: Stream, first: int, last: int, *, named: bool = True, head: str | None = None
) -> MediaPlaylist:
    """The origin's window: its cue tags around each break's run (SPEC_RULES 43), the
    CUE-OUT with the break's ID unless ``named`` is false; ``head``: the tags before
    MEDIA-SEQUENCE (version 3, TARGETDURATION 6 by default)."""
    lines = [head or f"#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:{TARGET}"]
    lines.append(f"#EXT-X-MEDIA-SEQUENCE:{first}")
    for msn in range(first, last + 1):
        for brk in stream.breaks:
            planned = stream.planned(brk)
            elapsed = round(sum(stream.durations[brk.start_msn : msn]), 3)
            if msn == brk.start_msn:
                lines.append(f"#EXT-X-CUE-OUT:DURATION={planned}" + (f",ID={brk.id}" * named))
            elif brk.start_msn < msn < brk.start_msn + brk.replaced:
                lines.append(f"#EXT-X-CUE-OUT-CONT:ElapsedTime={elapsed},Duration={planned}")
            elif msn == brk.start_msn + brk.replaced:
                lines.append("#EXT-X-CUE-IN")
        lines += [f"#EXTINF:{stream.durations[msn]:.3f},", f"o{msn}.ts"]
    return playlist("\n".join(lines) + "\n")


@given(streams())
def test_reloads_of_a_replaced_live_stream_form_one_stream(stream: Stream) -> None:
    seen: dict[int, tuple[str, float, int]] = {}
    previous: MediaPlaylist | None = None
    for first, last in stream.windows:
        origin = origin_window(stream, first, last)
        history = stream.known(last)
        out = replace_live_breaks(origin, history, stream.fills)
        data = render(out)
        assert render(replace_live_breaks(origin, history, stream.fills)) == data
        assert check(out) == []
        assert_m3u8_agrees(data)
        if any(b.start_msn < first < b.start_msn + b.replaced for b in history):
            event("a window opens inside a break")
        if previous is not None:
            assert out.media_sequence >= previous.media_sequence
            assert out.discontinuity_sequence >= previous.discontinuity_sequence
            # check_reload identifies segments by URI, which a slate repeats: MSNs here.
            assert out.msn(len(out.segments)) >= previous.msn(len(previous.segments))
        replaced = {m for b in history for m in range(b.start_msn, b.start_msn + b.replaced)}
        kept = [f"o{m}.ts" for m in range(first, last + 1) if m not in replaced]
        assert [s.uri for s in out.segments if s.uri.startswith("o")] == kept
        for i, (segment, dsn) in enumerate(zip(out.segments, out.dsn(), strict=True)):
            listed = (segment.uri, segment.duration, dsn)
            assert seen.setdefault(out.msn(i), listed) == listed, out.msn(i)
        previous = out
