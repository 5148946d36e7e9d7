"""HLS interstitials through the edge (README "Personalisation pipeline"; BIS Appendix D).

A rule's interstitial names its asset by an edge path (``/vod/ad/master.m3u8``). The
pipeline (``personalise.with_asset_lists``) turns it into an ``X-ASSET-LIST`` on
``{admin_prefix}/interstitials/assets.json`` (the asset's path and duration in the query),
and this endpoint answers the asset list (BIS D.2) with the asset's absolute URI on this
edge: the player fetches the ad's multivariant playlist through the edge like any other.
"""

import math
from urllib.parse import urlsplit

from aiohttp import web

from edge_assembler.core.edits.interstitials import asset_list_json
from edge_assembler.core.errors import BadRequest, NotFound
from edge_assembler.core.target import parse_target
from edge_assembler.server.state import ROUTE, ROUTER

_MAX_AGE = 300  # the answer depends on the query alone
_MAX_ASSETS = 16  # assets of one pod


async def asset_list(request: web.Request) -> web.Response:
    """``GET {admin_prefix}/interstitials/assets.json?uri=<edge path>[&duration=<s>]``: the
    asset list of assets this edge serves, played back to back: ``uri`` (and its
    ``duration``) repeated for a pod (404 for a path no origin serves)."""
    request[ROUTE] = "admin"
    paths = request.query.getall("uri", [""])
    durations = request.query.getall("duration", [])
    if len(paths) > _MAX_ASSETS:
        raise BadRequest("bad_param", f"uri: at most {_MAX_ASSETS} assets")
    if len(paths) > 1 and len(durations) != len(paths):
        raise BadRequest("bad_param", "duration: one for each uri of a pod")
    assets = []
    for n, path in enumerate(paths):
        if not path.startswith("/") or path.startswith("//") or urlsplit(path).scheme:
            raise BadRequest("bad_param", "uri: expected an edge path, e.g. /vod/ad/master.m3u8")
        if request.app[ROUTER].resolve(parse_target(path)) is None:
            raise NotFound("no_origin", "no origin serves this path")
        duration = _duration(durations[n] if n < len(durations) else None)
        assets.append((str(request.url.origin()) + path, duration))
    return web.Response(
        body=asset_list_json(assets),
        headers={"Content-Type": "application/json", "Cache-Control": f"max-age={_MAX_AGE}"},
    )


def _duration(value: str | None) -> float:
    if value is None:
        return 0.0
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds < math.inf:
        raise BadRequest("bad_param", "duration: expected seconds >= 0")
    return seconds
