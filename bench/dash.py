"""DASH benchmark: MPD parse, edit and render, next to the `mpegdash` library's
parse+serialise of the same document, in the same run (DESIGN.md §6 sets no DASH
targets; the figures stand next to the HLS ones).

The input is shaped like the demo's ffmpeg output (one Period, 30 s, three video
Representations, English and French audio, ``$Number$`` templates). Rows per call:
"mpegdash parse+toprettyxml" (the baseline), "parse", "render (unedited)", "cold" (parse a
fresh bytes object, apply the plan, render) and "cached model" (the plan applied to an
already parsed MPD, then rendered).
"""

from collections.abc import Callable

from mpegdash.parser import MPEGDASHParser  # type: ignore[import-untyped]

from bench.core import Timing
from edge_assembler.core import dash
from edge_assembler.core.dash.edits import apply
from edge_assembler.core.edits import AnyEdit
from edge_assembler.core.edits.renditions import PreferLanguages
from edge_assembler.core.edits.splice import InsertRun
from edge_assembler.core.edits.uris import SegmentBase
from edge_assembler.core.edits.variants import FilterVariants

_TEMPLATE = (
    '<SegmentTemplate timescale="1000000" duration="2000000" '
    'initialization="init-$RepresentationID$.m4s" '
    'media="chunk-$RepresentationID$-$Number%05d$.m4s" startNumber="1"/>'
)


def ffmpeg_mpd(seconds: int, heights: tuple[int, ...], languages: tuple[str, ...]) -> bytes:
    video = "".join(
        f'<Representation id="v{h}" mimeType="video/mp4" codecs="avc1.4d401f" '
        f'bandwidth="{h * 2000}" width="{h * 16 // 9}" height="{h}">{_TEMPLATE}</Representation>'
        for h in heights
    )
    audio = "".join(
        f'<AdaptationSet id="{i + 1}" contentType="audio" lang="{lang}" segmentAlignment="true">'
        f'<Representation id="a{lang}" mimeType="audio/mp4" codecs="mp4a.40.2" '
        f'bandwidth="96000" audioSamplingRate="48000">{_TEMPLATE}</Representation>'
        "</AdaptationSet>"
        for i, lang in enumerate(languages)
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<MPD xmlns="urn:mpeg:dash:schema:mpd:2011"'
        ' profiles="urn:mpeg:dash:profile:isoff-live:2011"'
        f' type="static" mediaPresentationDuration="PT{seconds}.0S" minBufferTime="PT4.0S">'
        '<Period id="0" start="PT0.0S">'
        f'<AdaptationSet id="0" contentType="video" segmentAlignment="true">{video}</AdaptationSet>'
        f"{audio}</Period></MPD>\n"
    ).encode()


CONTENT = ffmpeg_mpd(30, (360, 540, 720), ("en", "fr"))
AD = ffmpeg_mpd(10, (720,), ("en",))
PLANS: tuple[tuple[str, tuple[AnyEdit, ...]], ...] = (
    (
        "mid-roll ad at 10 s",
        (InsertRun(source="ad", source_url="https://ads.example.com/42/manifest.mpd", at=10.0),),
    ),
    (
        "prefer fr, <= 540p, segment base",
        (
            PreferLanguages(type="AUDIO", languages=("fr",)),
            FilterVariants(max_height=540),
            SegmentBase(
                playlist_url="https://origin.example.com/vod/manifest.mpd",
                base="https://cdn.example.com",
            ),
        ),
    ),
)


SCENARIO = "ffmpeg-shaped MPD, 30 s, 3 video + 2 audio Representations"


def rows(timing: Timing) -> list[dict[str, object]]:
    """The rows (``bench.micro``), the baseline first."""
    fetched = {"ad": dash.parse(AD)}
    parsed = dash.parse(CONTENT)
    text = CONTENT.decode()
    calls: list[tuple[str, Callable[[], object]]] = [
        (
            "mpegdash parse+toprettyxml (baseline)",
            lambda: MPEGDASHParser.toprettyxml(MPEGDASHParser.parse(text)),
        ),
        ("parse", lambda: dash.parse(CONTENT)),
        ("render (unedited)", lambda: dash.render(parsed)),
    ]
    for name, edits in PLANS:
        calls.append((f"cold: {name}", _cold(edits, fetched)))
        calls.append((f"cached model: {name}", _cached(parsed, edits, fetched)))
    timed = [(step, timing.per_call_us(fn)) for step, fn in calls]
    baseline = timed[0][1]
    return [
        {
            "suite": "dash",
            "scenario": SCENARIO,
            "step": step,
            "us": us,
            "baseline_us": baseline,
            "target_us": None,
        }
        for step, us in timed
    ]


def main() -> int:
    """Time and print this suite alone (``python -m bench`` runs every suite)."""
    from bench.micro import print_rows  # here: bench.micro imports this module

    return print_rows(rows(Timing()))


def _cold(edits: tuple[AnyEdit, ...], fetched: dict[str, dash.Mpd]) -> Callable[[], bytes]:
    return lambda: dash.render(apply(dash.parse(bytes(CONTENT)), edits, fetched))


def _cached(
    mpd: dash.Mpd, edits: tuple[AnyEdit, ...], fetched: dict[str, dash.Mpd]
) -> Callable[[], bytes]:
    return lambda: dash.render(apply(mpd, edits, fetched))
