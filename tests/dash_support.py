"""Shared checks for tests of DASH output: the ISO MPD schema, the `mpegdash` library as an
independent reader, and canonical XML (W3C C14N 2.0) for comparing documents."""

import re
from collections import Counter
from functools import cache
from pathlib import Path

from lxml import etree
from mpegdash.parser import MPEGDASHParser  # type: ignore[import-untyped]

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.invariants import check

SCHEMAS = Path(__file__).resolve().parents[1].parent / "shared" / "schemas" / "dash"

# xs:duration, written here independently of the parser under test.
_DURATION = re.compile(
    r"P(?:(?P<D>[\d.]+)D)?(?:T(?:(?P<H>[\d.]+)H)?(?:(?P<M>[\d.]+)M)?(?:(?P<S>[\d.]+)S)?)?"
)
_SECONDS = {"D": 86400.0, "H": 3600.0, "M": 60.0, "S": 1.0}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@cache
def mpd_schema() -> etree.XMLSchema:
    """DASH-MPD.xsd (ISO/IEC 23009-1), loaded once; it imports xlink.xsd from its folder."""
    return etree.XMLSchema(etree.parse(str(SCHEMAS / "DASH-MPD.xsd")))


def schema_errors(data: bytes) -> list[str]:
    """The schema violations of ``data`` (empty when it validates)."""
    try:
        tree = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return [f"not namespace-well-formed XML: {exc}"]
    schema = mpd_schema()
    if schema.validate(tree):
        return []
    return str(schema.error_log).splitlines()


def c14n(data: bytes) -> bytes:
    """``data`` in W3C Canonical XML 2.0 form, comments kept."""
    tree = etree.fromstring(data, _parser()).getroottree()
    text: str = etree.canonicalize(tree, with_comments=True)
    return text.encode()


def seconds(duration: str) -> float:
    match = _DURATION.fullmatch(duration.strip())
    assert match is not None, duration
    return sum(float(v) * _SECONDS[k] for k, v in match.groupdict().items() if v)


def assert_mpegdash_agrees(data: bytes) -> None:
    """The `mpegdash` library reads ``data`` and agrees with our model on the presentation
    type and duration, and on the Periods: count, ids, @start and @duration where present,
    and how many AdaptationSets and Representations each has."""
    ours = parse(data)
    text = data.decode("utf-8")
    # mpegdash takes anything without "<MPD" for a URL or a file name.
    assert "<MPD" in text
    theirs = MPEGDASHParser.parse(text)
    assert (theirs.type == "dynamic") == ours.dynamic
    if theirs.media_presentation_duration is not None:
        total = seconds(theirs.media_presentation_duration)
        assert abs(total - (ours.media_presentation_duration or -1)) < 1e-9
    periods = theirs.periods or []
    assert len(periods) == len(ours.periods)
    for mine, other in zip(ours.periods, periods, strict=True):
        _assert_period_agrees(ours, mine.index, other)


def _assert_period_agrees(ours: Mpd, index: int, other: object) -> None:
    mine = ours.periods[index]
    assert getattr(other, "id", None) == mine.id
    start, duration = getattr(other, "start", None), getattr(other, "duration", None)
    if start is not None:
        assert mine.start is not None
        assert abs(seconds(start) - mine.start) < 1e-9
    if duration is not None:
        assert mine.duration is not None
        assert abs(seconds(duration) - mine.duration) < 1e-9
    sets = getattr(other, "adaptation_sets", None) or []
    assert len(sets) == len(mine.adaptation_sets)
    for adaptation_set, their_set in zip(mine.adaptation_sets, sets, strict=True):
        assert len(their_set.representations or []) == len(adaptation_set.representations)
        assert their_set.id == (None if adaptation_set.id is None else int(adaptation_set.id))


def times(mpd: Mpd) -> list[tuple[str | None, float | None, float | None]]:
    """Each Period's id, start and duration."""
    return [(p.id, p.start, p.duration) for p in mpd.periods]


def assert_sound(before: Mpd, after: Mpd) -> None:
    """Re-parses, no new kind of invariant violation, schema kept, mpegdash agrees."""
    data = render(after)
    back = parse(data)
    labels = Counter(m.partition(":")[0] for m in check(before))
    assert Counter(m.partition(":")[0] for m in check(back)) - labels == Counter()
    if not schema_errors(render(before)):
        assert schema_errors(data) == []
    assert_mpegdash_agrees(data)
