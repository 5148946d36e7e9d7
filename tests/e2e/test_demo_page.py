"""The demo page (`edge-assembler demo`, `/_edge/demo`) in headless Chromium: plays HLS then
DASH through the edge, shows the origin's and the edge's manifest side by side and the rules
revision of the last manifest, and makes a screenshot with the video in it: a new viewer's
pre-roll (the demo rules bundle), the demo ad's solid red."""

import base64
import re
import struct
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest

from tests.e2e.conftest import DemoStack
from tests.e2e.observe import classify_colour

README_SCREENSHOT = Path(__file__).parent / "demo-page.png"
VIEWPORT = {"width": 1280, "height": 900}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# The session token on the child URIs of a master (README "Sessions and context").
TOKEN = re.compile(r"eas=[\w.-]+")
# Which manifest each format plays, and how it starts.
FORMATS = {
    "hls": ("/vod/content/master.m3u8", "#EXTM3U"),
    "dash": ("/dash/content/manifest.mpd", "<?xml"),
}
# Mean colour of a sample of the video's pixels of a screenshot.
MEAN_COLOUR = """async ([src, box]) => {
  const image = new Image();
  image.src = src;
  await image.decode();
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [box.width, box.height];
  const context = canvas.getContext("2d");
  context.drawImage(image, box.x, box.y, box.width, box.height, 0, 0, box.width, box.height);
  const data = context.getImageData(0, 0, box.width, box.height).data;
  const sum = [0, 0, 0];
  let n = 0;
  for (let i = 0; i < data.length; i += 4 * 61, n++) {
    for (let c = 0; c < 3; c++) sum[c] += data[i + c];
  }
  return sum.map(total => total / n);
}"""


async def test_demo_page_plays_hls_and_dash_through_the_edge(
    demo_stack: DemoStack, page: Any, tmp_path: Path, update_golden: bool
) -> None:
    edge = demo_stack.edge_url
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.set_viewport_size(VIEWPORT)
    await page.goto(f"{edge}/_edge/demo")
    assert await _text(page, "#notice") == "", "players not installed"
    sid = await page.input_value("#sid")
    assert len(sid) >= 8
    async with aiohttp.ClientSession() as session:
        # (format, device, the optional choices: select id -> (value, query parameter, the
        # demo rule it fires, rules/demo/rules))
        rounds = (
            ("hls", "tv", {"scene": ("north", "choice.scene", "scene-choice")}),
            ("dash", "phone", {"last": ("pilot", "last", "recap-assembled")}),
        )
        for fmt, device, options in rounds:
            path, starts = FORMATS[fmt]
            await page.check(f"input[name=format][value={fmt}]")
            await page.select_option("#lang", "fr")
            await page.select_option("#device", device)
            for select in ("last", "scene", "len", "ads"):
                await page.select_option(f"#{select}", options.get(select, ("",))[0])
            before = await _active_revision(session, edge)
            await page.click("#play")
            await _plays(page, path)
            # The choices ride on the manifest URL the player loads from the edge.
            url = await _text(page, "#manifest-url")
            assert url.startswith(f"{edge}{path}?"), url
            assert parse_qs(urlsplit(url).query) == {
                "lang": ["fr"],
                "device": [device],
                "sid": [sid],
                **{name: [value] for value, name, _ in options.values()},
            }
            assert await _text(page, "#audio") == "fr"
            # Side by side: the origin's manifest and the edge's answer for this viewer.
            await page.wait_for_function(
                "document.getElementById('edge-text').textContent.length > 0"
                " && document.getElementById('origin-text').textContent.length > 0"
            )
            origin_text, edge_text = (
                await _text(page, "#origin-text"),
                await _text(page, "#edge-text"),
            )
            assert origin_text.startswith(starts)
            assert edge_text.startswith(starts)
            assert origin_text.rstrip("\n") == (await _get(session, demo_stack.origin_url + path))
            # The session token records when the session started, so a second load of the
            # same URL differs from the page's in the token alone.
            assert _untokened(edge_text.rstrip("\n")) == _untokened(await _get(session, url))
            if fmt == "hls":
                assert TOKEN.search(edge_text), edge_text
            # The headers of the last manifest the player loaded.
            assert (await _text(page, "#last-manifest")).endswith((".m3u8", ".mpd"))
            # The rules bundle decided this viewer's manifest (README "Personalisation
            # pipeline": X-Edge-Decision is rev=<revision>; rules=...; plan=...).
            decision = await _text(page, "#decision")
            assert decision.startswith("rev="), decision
            fired = decision.split("; ")[1].removeprefix("rules=").split(",")
            assert {rule for _, _, rule in options.values()} <= set(fired), decision
            # The bundle the manifest was made with: the demo activates its persisted bundle,
            # then the one it just signed, so a first load may see either.
            after = await _active_revision(session, edge)
            revision = await _text(page, "#revision")
            assert revision in {str(before), str(after)}
            assert decision.startswith(f"rev={revision};"), (decision, revision)
            await _screenshot(page, tmp_path / f"demo-{fmt}.png")
    assert errors == []
    if update_golden:  # the README's picture of the page
        README_SCREENSHOT.write_bytes((tmp_path / "demo-hls.png").read_bytes())


async def _plays(page: Any, path: str) -> None:
    """Waits until the player of ``path`` plays, then for currentTime to advance by 1 s."""
    await page.wait_for_function(
        """([folder]) => {
          const status = document.getElementById("status").textContent;
          const last = document.getElementById("last-manifest").textContent;
          return status.startsWith("error") || (status === "playing" && last.startsWith(folder));
        }""",
        arg=[path.rpartition("/")[0] + "/"],
        timeout=20_000,
    )
    assert await _text(page, "#status") == "playing"
    start = await page.evaluate("document.getElementById('video').currentTime")
    await page.wait_for_function(
        "([start]) => document.getElementById('video').currentTime > start + 1",
        arg=[start],
        timeout=10_000,
    )


async def _screenshot(page: Any, path: Path) -> None:
    """A full-viewport PNG whose video area shows the pre-roll ad (solid red)."""
    png = await page.screenshot(path=path)
    assert png.startswith(PNG_SIGNATURE)
    width, height = struct.unpack(">II", png[16:24])  # IHDR
    assert (width, height) == (VIEWPORT["width"], VIEWPORT["height"])
    assert len(png) > 50_000, len(png)
    box = await page.locator("#video").bounding_box()
    box = {key: round(value) for key, value in box.items()}
    src = "data:image/png;base64," + base64.b64encode(png).decode()
    # A second into playback at 1x, the viewer is in the 10 s pre-roll.
    r, g, b = await page.evaluate(MEAN_COLOUR, [src, box])
    assert classify_colour(r, g, b) == "ad", (r, g, b)


def _untokened(manifest: str) -> str:
    return TOKEN.sub("eas=", manifest)


async def _text(page: Any, selector: str) -> str:
    return str(await page.text_content(selector))


async def _active_revision(session: aiohttp.ClientSession, edge: str) -> int:
    async with session.get(f"{edge}/_edge/bundles") as r:
        return int((await r.json())["active_revision"])


async def _get(session: aiohttp.ClientSession, url: str) -> str:
    async with session.get(url) as r:
        assert r.status == 200, url
        return (await r.text()).rstrip("\n")


pytestmark = pytest.mark.e2e


async def test_demo_page_plays_the_live_channel_through_the_edge(
    demo_stack: DemoStack, page: Any
) -> None:
    edge = demo_stack.edge_url
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(f"{edge}/_edge/demo")
    await page.check("input[name=stream][value=live]")
    await page.check("input[name=format][value=hls]")
    await page.click("#play")
    await _plays(page, "/live/channel/master.m3u8")
    url = await _text(page, "#manifest-url")
    assert url.startswith(f"{edge}/live/channel/master.m3u8?"), url
    # The player's last manifest is one of the channel's media playlists, made for this
    # viewer: its windows always show a break (one every 10 s, 12 s windows).
    assert "/live/channel/" in await _text(page, "#last-manifest")
    await page.wait_for_function(
        "document.getElementById('decision').textContent.includes('live-breaks')",
        timeout=10_000,
    )
    assert "fail-open" not in await _text(page, "#decision")
    assert errors == []
