"""MemoryHistory: first writer wins, order, per-stream and stream bounds, expiry on a clock."""

from dataclasses import dataclass

from hypothesis import given, strategies as st

from edge_assembler.config import Live
from edge_assembler.live.history import MemoryHistory, SeenBreak, open_history


@dataclass
class Clock:
    now: float = 1_000.0

    def __call__(self) -> float:
        return self.now


def brk(id: str, start_msn: int, seen_at: float = 1_000.0, replaced: int = 2) -> SeenBreak:
    return SeenBreak(id=id, start_msn=start_msn, replaced=replaced, cue="", seen_at=seen_at)


async def test_a_break_lives_exactly_ttl_seconds_from_when_it_was_seen() -> None:
    clock = Clock()
    history = MemoryHistory(ttl=10.0, max_breaks=8, max_streams=8, clock=clock)
    first = brk("b1", 5, seen_at=clock.now)
    await history.record("s", first)
    clock.now += 10.0
    assert await history.breaks("s") == (first,)
    assert await history.record("s", brk("b1", 6, seen_at=clock.now)) == first
    clock.now += 0.001
    assert await history.breaks("s") == ()
    again = brk("b1", 7, seen_at=clock.now)
    assert await history.record("s", again) == again


async def test_the_least_recently_used_stream_goes_first() -> None:
    history = MemoryHistory(ttl=60.0, max_breaks=8, max_streams=2, clock=Clock())
    await history.record("a", brk("b1", 1))
    await history.record("b", brk("b1", 2))
    assert len(await history.breaks("a")) == 1  # "a" is now the most recently used
    await history.record("c", brk("b1", 3))
    assert [len(await history.breaks(s)) for s in ("a", "c", "b")] == [1, 1, 0]
    assert await history.breaks("unknown") == ()
    assert [len(await history.breaks(s)) for s in ("a", "c")] == [1, 1]


async def test_close_forgets_everything() -> None:
    history = MemoryHistory(ttl=60.0, max_breaks=8, max_streams=8, clock=Clock())
    await history.record("a", brk("b1", 1))
    await history.close()
    assert await history.breaks("a") == ()


def test_the_memory_backend_is_the_default() -> None:
    assert isinstance(open_history(Live()), MemoryHistory)


MAX_BREAKS = 4
records = st.lists(
    st.tuples(
        st.sampled_from(["s1", "s2"]),
        st.sampled_from([f"b{i}" for i in range(8)]),
        st.integers(0, 50),
        st.integers(0, 5),
    ),
    max_size=60,
)


@given(records)
async def test_random_records_keep_order_first_writer_and_bound(
    ops: list[tuple[str, str, int, int]],
) -> None:
    history = MemoryHistory(ttl=60.0, max_breaks=MAX_BREAKS, max_streams=8, clock=Clock())
    # The reference: per stream, the records kept, each id's first record until trimmed.
    kept: dict[str, list[SeenBreak]] = {}
    for stream, id, start, replaced in ops:
        candidate = brk(id, start, replaced=replaced)
        stored = await history.record(stream, candidate)
        model = kept.setdefault(stream, [])
        expected = next((b for b in model if b.id == id), None)
        if expected is None:
            expected = candidate
            model.append(candidate)
            model.sort(key=lambda b: (b.start_msn, b.id))
            del model[: max(0, len(model) - MAX_BREAKS)]
        assert stored == expected
        listed = await history.breaks(stream)
        assert list(listed) == model
        assert len(listed) <= MAX_BREAKS
        assert [(b.start_msn, b.id) for b in listed] == sorted((b.start_msn, b.id) for b in listed)
