"""Fail open at the manifest level (DESIGN §4 "Fail open with a deadline"): rules that
raise, a malformed multivariant playlist or MPD, a DASH ad that cannot be had. The viewer
gets the origin's manifest (or the manifest without the ad), the answer says why in
X-Edge-Decision, and ``fail_open_total{reason}`` moves by one per manifest.

Rules that raise are the one fault no real part produces: ``decide`` never raises
(tests/property/test_rules_decide.py), so those tests patch it to raise (fault
injection); the nodes run in this process (``personalise_support.Nodes``).
"""

import re

import aiohttp
import pytest

from edge_assembler.core.rules import Decision
from edge_assembler.server import personalise
from tests.conftest import Origin
from tests.integration.personalise_support import (
    DASH_TYPE,
    DEMO_RULES,
    Node,
    NodeFactory,
    master_playlist,
    media_playlist,
    mpd,
    signed_bundle,
)
from tests.integration.test_personalise import FAIL_OPEN, MASTER, MPD


async def fails_open(
    node: Node, http: aiohttp.ClientSession, path: str, reason: str, decision: str
) -> bytes:
    """The body of ``path``: a 200 with ``decision``, not stored, one more ``reason``."""
    before = node.metric(FAIL_OPEN, reason=reason)
    async with http.get(node.url + path) as r:
        assert r.status == 200
        assert r.headers["X-Edge-Decision"] == decision
        assert r.headers["Cache-Control"] == "no-store"
        body = await r.read()
    assert node.metric(FAIL_OPEN, reason=reason) == before + 1
    return body


@pytest.fixture
def raising_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    def raising(*_: object) -> Decision:
        raise RuntimeError("a rule blew up")

    monkeypatch.setattr(personalise, "decide", raising)  # fault injection (module docstring)


@pytest.mark.usefixtures("raising_rules")
async def test_rules_that_raise_serve_the_origin_master_and_media_playlists(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    decision = "rev=7; fail-open=rules_error"
    master = (await fails_open(node, http, MASTER, "rules_error", decision)).decode()
    # The origin's ladder, every child (three variants, two audio renditions) through the
    # edge with the session's token.
    tokens = re.findall(r"/vod/content/[^?\"\s]+\?eas=([^\"\s]+)", master)
    assert len(tokens) == 5
    assert len(set(tokens)) == 1
    unproxied = re.sub(r"/vod/content/([^?\"\s]+)\?eas=[^\"\s]+", r"\1", master)
    assert unproxied.encode() == master_playlist()
    child = re.search(r"^(/vod/content/720p/index\.m3u8\?eas=\S+)$", master, re.MULTILINE)
    assert child is not None
    body = await fails_open(node, http, child[1], "rules_error", decision)
    assert body == media_playlist("content", "720p")


@pytest.mark.usefixtures("raising_rules")
async def test_rules_that_raise_serve_the_origin_mpd(
    node_factory: NodeFactory, http: aiohttp.ClientSession
) -> None:
    node = await node_factory()
    body = await fails_open(node, http, MPD, "rules_error", "rev=7; fail-open=rules_error")
    assert body == mpd("content")


# RFC 8216 §4.1: a playlist is UTF-8; this NAME is Latin-1 (a legacy packager's).
LATIN1_MASTER = master_playlist().replace(b'NAME="Francais"', 'NAME="Français"'.encode("latin-1"))


@pytest.mark.parametrize(
    ("path", "body", "content_type"),
    [
        (MASTER, LATIN1_MASTER, "application/vnd.apple.mpegurl"),
        (MPD, mpd("content")[:-60], DASH_TYPE),  # cut short: not well-formed XML
    ],
)
async def test_a_malformed_master_or_mpd_is_served_as_the_origin_wrote_it(
    node_factory: NodeFactory,
    http: aiohttp.ClientSession,
    origin: Origin,
    path: str,
    body: bytes,
    content_type: str,
) -> None:
    node = await node_factory()
    origin.state.manifest(path, body=body, content_type=content_type)
    served = await fails_open(node, http, path, "bad_manifest", "rev=7; fail-open=bad_manifest")
    assert served == body  # unparsed, so untouched: no token on the children


@pytest.mark.parametrize(
    ("ad_mpd", "reason"),
    [
        ("/dash/gone/manifest.mpd", "asset_missing"),  # the origin answers 404
        ("/dash/slow/manifest.mpd", "asset_timeout"),
    ],
)
async def test_a_dash_ad_that_cannot_be_had_leaves_the_content_period(
    node_factory: NodeFactory,
    http: aiohttp.ClientSession,
    origin: Origin,
    ad_mpd: str,
    reason: str,
) -> None:
    origin.state.manifest(
        "/dash/slow/manifest.mpd", body=mpd("ad"), content_type=DASH_TYPE, delay=2
    )
    rules = {**DEMO_RULES}
    rules["rules/catalogue.toml"] = rules["rules/catalogue.toml"].replace(
        b'dash = "/dash/ad/manifest.mpd"', f'dash = "{ad_mpd}"'.encode()
    )
    # A deadline a busy machine does not overrun: the answer must drop the ad, not time out.
    node = await node_factory(
        "personalise.asset_timeout=0.2", "personalise.deadline=1", bundle=signed_bundle(rules)
    )
    before = node.metric(FAIL_OPEN, reason=reason)
    async with http.get(node.url + MPD) as r:
        assert r.status == 200
        decision = r.headers["X-Edge-Decision"]
        assert r.headers["Cache-Control"] == "no-store"
        body = await r.read()
    assert re.fullmatch(
        rf"rev=7; rules=ad-cap,midroll,preroll; plan=[0-9a-f]{{12}}; dropped=ad:{reason}",
        decision,
    ), decision
    assert body == mpd("content")  # one Period: both breaks needed the ad
    assert node.metric(FAIL_OPEN, reason=reason) == before + 1
