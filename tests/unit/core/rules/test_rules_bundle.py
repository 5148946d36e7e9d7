"""The demo bundle source, the documented examples, the JSON Schema, self-test vectors,
and facts derived from parsed manifests."""

import json
from pathlib import Path

import pytest

from edge_assembler.core.dash.parse import parse as parse_mpd
from edge_assembler.core.hls import parse
from edge_assembler.core.rules import (
    BreakFact,
    RulesError,
    compile_bundle,
    compile_documents,
    dash_facts,
    hls_facts,
)
from edge_assembler.core.rules.schema import json_schema

ROOT = Path(__file__).resolve().parents[4]
RULES = ROOT / "rules"


def source(directory: Path) -> dict[str, bytes]:
    """A bundle source directory as bundle members."""
    return {
        p.relative_to(directory).as_posix(): p.read_bytes()
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def test_demo_bundle_compiles_and_passes_its_self_tests() -> None:
    files = source(RULES / "demo")
    assert any(name.startswith("tests/") for name in files)
    rules = compile_bundle(files, load_order=["rules/catalogue.toml"], schema_version=1)
    assert {"preroll", "midroll", "recap-returning", "french", "phone-720p", "short-session"} <= {
        r.id for r in rules.rules
    }
    again = compile_bundle(dict(reversed(files.items())), load_order=[], schema_version=1)
    assert again.digest == rules.digest


@pytest.mark.parametrize("example", sorted((RULES / "examples").glob("*.toml")), ids=str)
def test_examples_compile(example: Path) -> None:
    rules = compile_documents([(f"rules/{example.name}", example.read_bytes())])
    assert rules.rules


def test_schema_file_is_generated_from_the_structs() -> None:
    committed = (RULES / "schema.json").read_bytes()
    assert committed == json_schema(), (
        "rules/schema.json is out of date: run "
        "`python -m edge_assembler.core.rules > rules/schema.json`"
    )


def test_a_failing_vector_names_its_file() -> None:
    files = source(RULES / "demo")
    vector = json.loads(files["tests/first-visit.json"])
    vector["expect"]["fired"] = ["preroll"]
    files["tests/first-visit.json"] = json.dumps(vector).encode()
    with pytest.raises(RulesError) as raised:
        compile_bundle(files, load_order=[], schema_version=1)
    assert raised.value.code == "selftest_failed"
    assert str(raised.value) == (
        "tests/first-visit.json: $.expect.fired: expected ['preroll'], "
        "got ['ad-cap', 'midroll', 'preroll']"
    )


@pytest.mark.parametrize(
    ("expect", "message"),
    [
        ({"edits": ["trim"]}, "$.expect.edits: expected 1 edits, got ['insert_run', 'insert_run']"),
        (
            {"edits": ["insert_run", {"kind": "insert_run", "role": "recap"}]},
            "$.expect.edits[1]: expected {'kind': 'insert_run', 'role': 'recap'}, got",
        ),
        ({"needs": {}}, "$.expect.needs: expected {}, got {'ad': '/vod/ad/720p/index.m3u8'}"),
    ],
)
def test_vector_expectations(expect: dict[str, object], message: str) -> None:
    files = source(RULES / "demo")
    vector = json.loads(files["tests/first-visit.json"])
    vector["expect"] = expect
    files["tests/first-visit.json"] = json.dumps(vector).encode()
    with pytest.raises(RulesError) as raised:
        compile_bundle(files, load_order=[], schema_version=1)
    assert str(raised.value).startswith(f"tests/first-visit.json: {message}")


def test_a_malformed_vector_is_invalid() -> None:
    files = source(RULES / "demo")
    files["tests/first-visit.json"] = b'{"facts": {}, "context": {}, "expect": {}}'
    with pytest.raises(RulesError) as raised:
        compile_bundle(files, load_order=[], schema_version=1)
    assert raised.value.code == "rules_invalid"
    assert str(raised.value).startswith("tests/first-visit.json: $.facts: object missing")


MASTER = b"""#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="English",LANGUAGE="en",URI="en.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aud",NAME="Fr, dub",LANGUAGE="fr",URI="fr.m3u8"
#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="English",LANGUAGE="en",URI="s.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=1000000,AUDIO="aud",SUBTITLES="subs"
v.m3u8
"""

MEDIA = b"""#EXTM3U
#EXT-X-VERSION:3
#EXT-X-TARGETDURATION:6
#EXT-X-PLAYLIST-TYPE:VOD
#EXTINF:6.000,
a.ts
#EXT-X-CUE-OUT:DURATION=12.000
#EXTINF:6.000,
b.ts
#EXTINF:6.000,
c.ts
#EXT-X-CUE-IN
#EXTINF:6.000,
d.ts
#EXT-X-ENDLIST
"""


def test_hls_facts() -> None:
    master = hls_facts(parse(MASTER), path="/v/master.m3u8", live=True)
    assert (master.kind, master.live, master.audio_languages, master.subtitle_languages) == (
        "multivariant",
        True,
        ("en", "fr"),
        ("en",),
    )
    media = hls_facts(parse(MEDIA), path="/v/a.m3u8", rendition="a.m3u8")
    assert (media.kind, media.live, media.duration, media.rendition) == (
        "media",
        False,
        24.0,
        "a.m3u8",
    )
    assert len(media.breaks) == 1
    assert (media.breaks[0].start, media.breaks[0].duration) == (6.0, 12.0)


MPD = b"""<?xml version="1.0"?>
<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" mediaPresentationDuration="PT60S"
     profiles="urn:mpeg:dash:profile:isoff-live:2011" minBufferTime="PT2S">
  <Period id="p0" start="PT0S">
    <EventStream schemeIdUri="urn:scte:scte35:2013:xml" timescale="1">
      <Event presentationTime="20" duration="10" id="7">
        <SpliceInfoSection xmlns="http://www.scte.org/schemas/35/2016">
          <SpliceInsert spliceEventId="7" outOfNetworkIndicator="true"/>
        </SpliceInfoSection>
      </Event>
    </EventStream>
    <AdaptationSet contentType="video" mimeType="video/mp4">
      <Representation id="v" bandwidth="100" width="640" height="360"/>
    </AdaptationSet>
    <AdaptationSet contentType="audio" lang="en" mimeType="audio/mp4">
      <Representation id="a" bandwidth="64"/>
    </AdaptationSet>
    <AdaptationSet contentType="text" lang="de" mimeType="application/mp4">
      <Representation id="t" bandwidth="1"/>
    </AdaptationSet>
  </Period>
</MPD>
"""


def test_dash_facts() -> None:
    facts = dash_facts(parse_mpd(MPD), path="/d/manifest.mpd")
    assert (facts.format, facts.kind, facts.live, facts.duration) == ("dash", "mpd", False, 60.0)
    assert (facts.audio_languages, facts.subtitle_languages) == (("en",), ("de",))
    assert facts.breaks == (BreakFact(id="7", start=20.0, duration=10.0),)
