"""Every DASH document of the shared corpus round-trips, or is refused with a ManifestError
naming a line; the schema-valid ones stay valid; `mpegdash` reads what we read; and the
invariant check finds exactly the known imperfections."""

from collections import Counter
from pathlib import Path

import pytest

from edge_assembler.core.dash import Mpd, parse, render
from edge_assembler.core.dash.invariants import check
from edge_assembler.core.dash.render import serialize
from edge_assembler.core.dash.timeline import segment_boundaries, segments
from edge_assembler.core.errors import ManifestError
from tests.dash_support import assert_mpegdash_agrees, c14n, schema_errors

CORPUS = Path(__file__).resolve().parents[4].parent / "shared" / "corpus" / "dash"
FILES = sorted(p for p in CORPUS.rglob("*") if p.suffix in {".mpd", ".xml"})
MPDS = [p for p in FILES if p.suffix == ".mpd"]

# ISO/IEC 23009-1 §5.3.1: only an MPD root is an MPD. Period fragments (xlink targets and
# excerpts of vendor documentation) are refused, as is a file with two root elements.
REFUSED = {
    "iso-dashschema__G11-remote-period.fragment.xml": (3, "not an MPD"),
    "mediatailor-docs__live-origin-period-splice-insert.fragment.xml": (1, "not an MPD"),
    "mediatailor-docs__live-origin-period-time-signal.fragment.xml": (1, "not an MPD"),
    "mediatailor-docs__live-personalized-ad-period-splice-insert.fragment.xml": (1, "not an MPD"),
    "mediatailor-docs__live-personalized-ad-period-time-signal.fragment.xml": (1, "not an MPD"),
    "mediatailor-docs__vod-origin-two-periods.fragment.xml": (80, "Extra content at the end"),
}

# Undeclared prefixes, declared on the root by the parser (parse.py, SPEC_RULES 88).
REPAIRED = {
    "dashmpdrs__mediapackage-two-periods-scte35-2013-xml.mpd": {
        "scte35": "http://www.scte.org/schemas/35/2016"
    },
    "exoplayer__eventstreams-scte35-xmlbin-alternative-mpd-insert.mpd": {
        "scte35": "http://www.scte.org/schemas/35/2016"
    },
    "exoplayer__live-segmentlist-timeline-pto.mpd": {"yt": "http://youtube.com/yt/2012/10/10"},
    "shaka__clear-then-encrypted-periods.mpd": {"mspr": "urn:microsoft:playready"},
}

# The MPDs that validate against DASH-MPD.xsd as they are (schemas/dash/README.md: 17).
SCHEMA_VALID = {
    "dashjs__video-gap-at-start-segmenttimeline.mpd",
    "dashmpdrs__dashif-ad-insertion-tc1-gpac-3-periods.mpd",
    "dashmpdrs__dashif-ad-insertion-tc6-period-continuity.mpd",
    "dashmpdrs__dashif-testcase-5b1-multiperiod-static.mpd",
    "dashmpdrs__dynamic-patchlocation-cea608.mpd",
    "dashmpdrs__google-admanager-dynamic-scte35.mpd",
    "dashmpdrs__telenet-vod-mid-roll-ad-periods.mpd",
    "dashmpdrs__unified-streaming-vod-aip-7-periods-scte35.mpd",
    "eyevinn-dashmpd__scte214-assetidentifier-upid.mpd",
    "eyevinn-dashmpd__scte35-splice-insert-xml.mpd",
    "eyevinn-dashmpd__scte35-spliceinfosection-no-signal-wrapper.mpd",
    "eyevinn-dashmpd__scte35-time-signal-segmentation-upid.mpd",
    "iso-dashschema__G11-xlink-remote-ad-period-assetidentifier.mpd",
    "iso-dashschema__G12-dynamic-period-continuity.mpd",
    "mpdparser__multiperiod-dynamic-5-periods-pto.mpd",
    "mpdparser__text-tracks-webvtt-lang-roles.mpd",
    "shaka__dynamic-3-periods-start-1000s.mpd",
}

SET_IDS = "ISO 23009-1 5.3.3.2/5.3.5.2"
# What invariants.check finds in each corpus MPD (rule -> messages); unlisted files are clean.
VIOLATIONS: dict[str, dict[str, int]] = {
    # video SegmentTimeline starts 6 s into the Period (the fixture's purpose)
    "dashjs__video-gap-at-start-segmenttimeline.mpd": {"SPEC_RULES 82": 1},
    # audio and video Representation both have id "1"
    "dashmpdrs__dashif-ad-insertion-tc6-period-continuity.mpd": {SET_IDS: 1},
    # no MPD@type (static) without any end; a live excerpt whose timelines start 12 s in
    "dashmpdrs__mediapackage-two-periods-scte35-2013-xml.mpd": {
        "SPEC_RULES 74": 1,
        "SPEC_RULES 82": 3,
    },
    # nine Event@id values repeated within one EventStream
    "dashmpdrs__static-single-period-scte35-event-drm.mpd": {"SPEC_RULES 91": 9},
    # minimal MPDs: static, one Period without duration, no mediaPresentationDuration
    "dashmpdrs__telestream-eventstream-scte35-binary.mpd": {"SPEC_RULES 74": 1},
    "dashmpdrs__telestream-eventstream-scte35-elements.mpd": {"SPEC_RULES 74": 1},
    # YouTube-style live MPDs: no publishTime, Period without @id
    "exoplayer__eventstreams-scte35-xmlbin-alternative-mpd-insert.mpd": {
        "SPEC_RULES 74": 1,
        "SPEC_RULES 76": 1,
    },
    # ... and S@t absent (0) with presentationTimeOffset 34740095: every segment before the Period
    "exoplayer__live-segmentlist-timeline-pto.mpd": {
        "SPEC_RULES 74": 1,
        "SPEC_RULES 76": 1,
        "SPEC_RULES 79": 3,
    },
    # ... and no minimumUpdatePeriod, templates with neither @duration nor SegmentTimeline
    "exoplayer__multiple-baseurls-dvb-priority.mpd": {
        "SPEC_RULES 74": 2,
        "SPEC_RULES 76": 1,
        "SPEC_RULES 81": 3,
    },
    "exoplayer__period-asset-identifier.mpd": {"SPEC_RULES 74": 1, "SPEC_RULES 76": 1},
    # hand-written SCTE-214 fixtures: no publishTime; template without a timing source
    "eyevinn-dashmpd__scte35-splice-insert-xml.mpd": {"SPEC_RULES 74": 1, "SPEC_RULES 81": 1},
    "eyevinn-dashmpd__scte35-spliceinfosection-no-signal-wrapper.mpd": {
        "SPEC_RULES 74": 1,
        "SPEC_RULES 81": 1,
    },
    "eyevinn-dashmpd__scte35-time-signal-segmentation-upid.mpd": {"SPEC_RULES 74": 1},
    # dynamic without availabilityStartTime/publishTime; Period 4's offsets lie past its S@t
    "mpdparser__multiperiod-dynamic-5-periods-pto.mpd": {"SPEC_RULES 74": 2, "SPEC_RULES 79": 2},
    # ISO Annex G.11: audio resumes at startNumber 126 as video does, but its 1.962 s segments
    # put number 126 at 245.3 s of media time, not at the new presentationTimeOffset (249.3 s)
    "iso-dashschema__G11-xlink-remote-ad-period-assetidentifier.mpd": {"SPEC_RULES 80": 1},
    # the two text Representations repeat video Representation ids
    "mpdparser__text-tracks-webvtt-lang-roles.mpd": {SET_IDS: 2},
}


def _name(path: Path) -> str:
    return path.name


def test_the_corpus_is_there() -> None:
    assert len(MPDS) == 40, f"corpus not found at {CORPUS}"
    assert len(FILES) == 46


@pytest.mark.parametrize("path", FILES, ids=_name)
def test_round_trip_or_refusal(path: Path) -> None:
    data = path.read_bytes()
    if path.name in REFUSED:
        line, reason = REFUSED[path.name]
        with pytest.raises(ManifestError) as caught:
            parse(data)
        assert (caught.value.line, reason in caught.value.detail) == (line, True)
        return
    mpd = parse(data)
    expected = _declared(data, REPAIRED.get(path.name, {}))
    assert mpd.repaired_prefixes == tuple(REPAIRED.get(path.name, {}))
    assert render(mpd) == expected  # byte for byte, repaired or not
    assert c14n(render(mpd)) == c14n(expected)


@pytest.mark.parametrize("path", MPDS, ids=_name)
def test_a_rebuilt_tree_serializes_to_the_same_infoset(path: Path) -> None:
    mpd = parse(path.read_bytes())
    rebuilt = render(Mpd.of(mpd.copy_root()))
    assert c14n(rebuilt) == c14n(render(mpd))
    assert render(parse(rebuilt)) == rebuilt
    assert serialize(parse(rebuilt).root) == rebuilt  # a fixed point


def test_the_schema_valid_files_are_the_known_ones() -> None:
    assert {p.name for p in MPDS if not schema_errors(p.read_bytes())} == SCHEMA_VALID


@pytest.mark.parametrize("name", sorted(SCHEMA_VALID))
def test_schema_valid_mpds_stay_valid(name: str) -> None:
    mpd = parse((CORPUS / name).read_bytes())
    assert schema_errors(render(mpd)) == []
    assert schema_errors(render(Mpd.of(mpd.copy_root()))) == []


# The repaired output is fed to mpegdash: like any namespace-aware reader (it uses expat),
# mpegdash refuses the four originals with "unbound prefix".
@pytest.mark.parametrize("path", MPDS, ids=_name)
def test_mpegdash_agrees_on_the_corpus(path: Path) -> None:
    assert_mpegdash_agrees(render(parse(path.read_bytes())))


@pytest.mark.parametrize("path", MPDS, ids=_name)
def test_invariant_violations_are_the_known_ones(path: Path) -> None:
    found = Counter(message.partition(":")[0] for message in check(parse(path.read_bytes())))
    assert dict(found) == VIOLATIONS.get(path.name, {})


@pytest.mark.parametrize("path", MPDS, ids=_name)
def test_every_period_has_a_timeline(path: Path) -> None:
    mpd = parse(path.read_bytes())
    for period in mpd.periods:
        # Open live Periods are measured over the next minute.
        until = None if period.duration is not None else 60.0
        boundaries = segment_boundaries(period, until=until)
        assert boundaries == sorted(boundaries)
        for representation in period.representations():
            listed = segments(period, representation, until=until)
            assert all(seg.duration > 0 for seg in listed)
            assert [seg.number for seg in listed] == sorted(seg.number for seg in listed)


def _declared(data: bytes, prefixes: dict[str, str]) -> bytes:
    declarations = b"".join(
        b' xmlns:%s="%s"' % (p.encode(), u.encode()) for p, u in prefixes.items()
    )
    return data.replace(b"<MPD", b"<MPD" + declarations, 1)
