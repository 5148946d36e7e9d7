"""The viewer context from a request: device classes from real User-Agents, language
preferences, the geo header, query parameters and their validation."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from edge_assembler.core.context import ViewerContext
from edge_assembler.core.errors import BadRequest
from edge_assembler.core.viewer import (
    ContextInputs,
    context,
    country,
    device_class,
    inputs_from_request,
    languages,
)

NOW = datetime(2026, 9, 2, 20, 30, tzinfo=UTC)
START = int(NOW.timestamp())

# Real User-Agent strings, as browsers, players and devices send them.
USER_AGENTS = [
    # phones
    (
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
        "phone",
    ),
    ("AppleCoreMedia/1.0.0.21F90 (iPhone; U; CPU OS 17_5_1 like Mac OS X; en_us)", "phone"),
    (
        "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.6422.165 Mobile Safari/537.36",
        "phone",
    ),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-S911B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        "phone",
    ),
    ("Mozilla/5.0 (Android 14; Mobile; rv:126.0) Gecko/126.0 Firefox/126.0", "phone"),
    # tablets
    (
        "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/16.6 Mobile/15E148 Safari/604.1",
        "tablet",
    ),
    ("AppleCoreMedia/1.0.0.20G75 (iPad; U; CPU OS 16_6 like Mac OS X; fr_fr)", "tablet"),
    (
        "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/124.0.0.0 Safari/537.36",
        "tablet",
    ),
    (
        "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Silk/124.2.1 like Chrome/124.0.6367.179 Safari/537.36",
        "tablet",
    ),
    ("Mozilla/5.0 (Android 14; Tablet; rv:126.0) Gecko/126.0 Firefox/126.0", "tablet"),
    (
        "Mozilla/5.0 (X11; U; Linux armv7l like Android; en-us) AppleWebKit/531.2+ "
        "(KHTML, like Gecko) Version/5.0 Safari/533.2+ Kindle/3.0+",
        "tablet",
    ),
    # TVs, streaming sticks and consoles
    (
        "Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "76.0.3809.146/6.0 TV Safari/537.36",
        "tv",
    ),
    (
        "Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/79.0.3945.79 Safari/537.36 WebAppManager",
        "tv",
    ),
    ("AppleCoreMedia/1.0.0.21L569 (Apple TV; U; CPU OS 17_5 like Mac OS X; en_us)", "tv"),
    ("AppleTV11,1/11.1", "tv"),
    (
        "Mozilla/5.0 (Linux; Android 9; AFTMM Build/PS7633) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.6099.230 Safari/537.36",
        "tv",
    ),
    (
        "Mozilla/5.0 (Linux; Android 10; BRAVIA 4K VH2 Build/QTG3.200305.006.S292) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/108.0.5359.128 Safari/537.36",
        "tv",
    ),
    ("Roku/DVP-12.5 (12.5.0.4178)", "tv"),
    (
        "Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/114.0.0.0 Safari/537.36 CrKey/1.56.500000 DeviceType/AndroidTV",
        "tv",
    ),
    (
        "Mozilla/5.0 (Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/85.0 "
        "Safari/537.36 HbbTV/1.5.1 (+DRM;Panasonic;SmartTV2021;3.20;;)",
        "tv",
    ),
    (
        "Mozilla/5.0 (Linux; Android 11; SHIELD Android TV Build/RQ1A.210105.003) "
        "AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36",
        "tv",
    ),
    (
        "Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/13.0 Safari/605.1.15",
        "tv",
    ),
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edge/44.18363.8131",
        "tv",
    ),
    # desktops
    (
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36",
        "desktop",
    ),
    (
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "desktop",
    ),
    ("Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0", "desktop"),
    (
        "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36",
        "desktop",
    ),
    # unknown
    ("VLC/3.0.20 LibVLC/3.0.20", "unknown"),
    ("Lavf/60.16.100", "unknown"),
    ("curl/8.5.0", "unknown"),
    ("", "unknown"),
    (None, "unknown"),
]


@pytest.mark.parametrize(("user_agent", "device"), USER_AGENTS)
def test_device_class(user_agent: str | None, device: str) -> None:
    assert device_class(user_agent) == device


LANGUAGE_CASES = [
    pytest.param("fr", "en;q=0.5", ("fr",), id="query-beats-header"),
    pytest.param("fr-FR, en ,de", None, ("fr-FR", "en", "de"), id="query-list"),
    pytest.param("FR-fr,fr-FR,en", None, ("fr-fr", "en"), id="query-dedup-case"),
    pytest.param("", "de", ("de",), id="empty-query-falls-back"),
    pytest.param(None, "da, en-GB;q=0.8, en;q=0.7", ("da", "en-GB", "en"), id="rfc9110-example"),
    pytest.param(None, "en;q=0.3,fr;q=1,de;q=0.7", ("fr", "de", "en"), id="q-order"),
    pytest.param(None, "en;q=0.5,fr;q=0.5,de", ("de", "en", "fr"), id="ties-keep-order"),
    pytest.param(None, "fr;q=0,en", ("en",), id="q-zero-excluded"),
    pytest.param(None, "*,fr;q=0.9", ("fr",), id="star-ignored"),
    pytest.param(None, "fr;q=2,en;q=abc,de;q=0.1234,it;q=0.123", ("it",), id="bad-q-skipped"),
    pytest.param(None, "fr ; Q=0.4 , en", ("en", "fr"), id="spaces-and-case"),
    pytest.param(None, "EN-us,en-US;q=0.9,En", ("en-us", "en"), id="dedup"),
    pytest.param(None, "x1,fr_FR,,-,en", ("en",), id="malformed-skipped"),
    pytest.param(None, "zh-Hant-TW,sr-Latn", ("zh-Hant-TW", "sr-Latn"), id="subtags"),
    pytest.param(None, ",".join(f"l{c}" for c in "abcdefghij"), tuple(f"l{c}" for c in "abcdefgh"),
                 id="max-8"),
    pytest.param(None, None, (), id="none"),
    pytest.param(None, "", (), id="empty-header"),
]  # fmt: skip


@pytest.mark.parametrize(("query", "header", "expected"), LANGUAGE_CASES)
def test_languages(query: str | None, header: str | None, expected: tuple[str, ...]) -> None:
    assert languages(query, header) == expected


@pytest.mark.parametrize(
    "query",
    ["fr,", "fr,,en", "fr_FR", "*", "a", "englishlanguage", ",".join(["fr"] * 9)],
)
def test_query_languages_are_validated(query: str) -> None:
    with pytest.raises(BadRequest) as info:
        languages(query, "en")
    assert info.value.reason == "bad_param"
    assert "'lang'" in str(info.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("FR", "FR"),
        (" de ", "DE"),
        ("gb", "GB"),
        ("XX", None),  # user-assigned: "unknown" at several CDNs
        ("T1", None),  # Tor at Cloudflare
        ("ZZ", None),
        ("QM", None),
        ("AA", None),
        ("FRA", None),
        ("F", None),
        ("", None),
        (None, None),
        ("F\u0130", None),
        ("\u00df", None),  # upper-cases to "SS"
    ],
)
def test_country(value: str | None, expected: str | None) -> None:
    assert country(value) == expected


IPHONE = "AppleCoreMedia/1.0.0.21F90 (iPhone; U; CPU OS 17_5_1 like Mac OS X; en_us)"


def _inputs(query: dict[str, str], headers: dict[str, str] | None = None) -> ContextInputs:
    return inputs_from_request(
        "/vod/bbb/master.m3u8",
        query,
        headers or {},
        geo_header="CDN-Country",
        now=NOW,
        new_sid="gen3rated_SID-1",
    )


def test_inputs_from_headers_only() -> None:
    inputs = _inputs(
        {"unrelated": "1"},
        {"user-agent": IPHONE, "ACCEPT-LANGUAGE": "fr-FR,fr;q=0.9", "cdn-country": "fr"},
    )
    assert inputs == ContextInputs(
        sid="gen3rated_SID-1",
        start=START,
        languages=("fr-FR", "fr"),
        device="phone",
        country="FR",
        master="/vod/bbb/master.m3u8",
    )


def test_every_query_parameter() -> None:
    inputs = _inputs(
        {
            "sid": "viewer-42",
            "lang": "es,en",
            "device": "tv",
            "consent": "ads-personalised,analytics,ads-personalised",
            "len": "1800",
            "last": "s01e03",
            "choice.branch": "north",
            "choice.act": "2",
            "interests": "goals,saves,goals",
        },
        {"User-Agent": IPHONE, "Accept-Language": "fr", "CDN-Country": "BE"},
    )
    assert inputs == ContextInputs(
        sid="viewer-42",
        start=START,
        languages=("es", "en"),
        device="tv",
        country="BE",
        consent=("ads-personalised", "analytics"),
        length=1800.0,
        history=(("last_episode", "s01e03"),),
        choices=(("act", "2"), ("branch", "north")),
        interests=("goals", "saves"),
        master="/vod/bbb/master.m3u8",
    )


def test_same_request_same_inputs() -> None:
    """Parameter order does not change the inputs (so the token and the cohort)."""
    one = _inputs({"choice.b": "1", "choice.a": "2", "consent": "y,x"})
    other = _inputs({"consent": "x,y", "choice.a": "2", "choice.b": "1"})
    assert one == other


def test_empty_sid_takes_the_new_one() -> None:
    assert _inputs({"sid": ""}).sid == "gen3rated_SID-1"


def test_bad_geo_header_is_not_an_error() -> None:
    assert _inputs({}, {"CDN-Country": "not a country"}).country is None


BAD_PARAMS = [
    pytest.param({"sid": "a b"}, "sid", id="sid-space"),
    pytest.param({"sid": "x" * 65}, "sid", id="sid-long"),
    pytest.param({"device": "watch"}, "device", id="device"),
    pytest.param({"device": "TV"}, "device", id="device-case"),
    pytest.param({"lang": "fr;q=1"}, "lang", id="lang"),
    pytest.param({"consent": "ads personalised"}, "consent", id="consent"),
    pytest.param({"consent": ",".join(f"c{i}" for i in range(17))}, "consent", id="consent-many"),
    pytest.param({"len": "soon"}, "len", id="len-text"),
    pytest.param({"len": "0"}, "len", id="len-zero"),
    pytest.param({"len": "-5"}, "len", id="len-negative"),
    pytest.param({"len": "nan"}, "len", id="len-nan"),
    pytest.param({"len": "inf"}, "len", id="len-inf"),
    pytest.param({"last": ""}, "last", id="last-empty"),
    pytest.param({"last": "s01/e03"}, "last", id="last-slash"),
    pytest.param({"choice.": "x"}, "choice.", id="choice-no-name"),
    pytest.param({"choice.branch": "<north>"}, "choice.branch", id="choice-value"),
    pytest.param({f"choice.c{i}": "x" for i in range(17)}, "choice.*", id="choices-many"),
    pytest.param({"interests": "goals,"}, "interests", id="interests-empty-item"),
]


@pytest.mark.parametrize(("query", "param"), BAD_PARAMS)
def test_bad_query_values(query: dict[str, str], param: str) -> None:
    with pytest.raises(BadRequest) as info:
        _inputs(query)
    assert info.value.reason == "bad_param"
    assert info.value.status_hint == 400
    assert str(info.value).startswith(f"query parameter {param!r}: ")


def test_now_must_be_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        inputs_from_request("/m", {}, {}, geo_header="g", now=NOW.replace(tzinfo=None), new_sid="s")


def test_context_of_a_child_request() -> None:
    inputs = _inputs(
        {"lang": "fr", "consent": "ads", "len": "60", "last": "e1", "choice.x": "y"},
        {"User-Agent": IPHONE, "CDN-Country": "FR"},
    )
    later = (NOW + timedelta(minutes=5)).astimezone(timezone(timedelta(hours=2)))
    ctx = context(inputs, path="/vod/bbb/720p/index.m3u8", now=later)
    assert ctx == ViewerContext(
        path="/vod/bbb/720p/index.m3u8",
        now=later,
        session_id="gen3rated_SID-1",
        session_start=NOW,
        country="FR",
        device="phone",
        languages=("fr",),
        consent=("ads",),
        session_length_hint=60.0,
        history=(("last_episode", "e1"),),
        choices=(("x", "y"),),
    )
    assert ctx.hint("history", "last_episode") == "e1"
    assert ctx.hint("choice", "x") == "y"
